package dev.fusion.replication;

import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NodeConfigFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The publisher's process is killed with SIGKILL (after committing 5 transactions locally that never left it);
 * replica 2 is promoted and takes writes, replica 3 follows it. Every transaction acknowledged by either publisher
 * is committed on replica 3, once and in order. Then the old publisher comes back as a replica of node 2: its state
 * went past the position where epoch 2 took over, so it is full-synced (its local-only transactions are gone)
 * and ends with node 2's state.
 */
class PromotionMultiProcessTest
{
    @Test
    void promotionAfterKillingThePublisherProcessLosesNoAcknowledgedTransaction(@TempDir final Path dir)
        throws Exception
    {
        final NodeConfigFiles configs = new NodeConfigFiles(dir, 3, 1500, "idleMaxParkUs=200");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = new CopyOnWriteArrayList<>();
                output.add(lines);
                final List<String> args = id == 1 ?
                    List.of("pub", configs.file(id).toString(), dir.resolve("data1").toString()) :
                    List.of("replica", configs.file(id).toString(), dir.resolve("data" + id).toString(),
                        String.valueOf(id == 2 ? 3 : 2));
                processes.add(JvmProcess.start(PromotionProcess.class, "256m", args, lines));
            }
            final List<String> one = output.get(0);
            LocalCluster.await(() -> one.stream().filter(l -> l.startsWith("ACK ")).count() >= 40,
                Duration.ofSeconds(60), "acknowledged commits on node 1: " + tail(one));
            Files.createFile(dir.resolve("data1").resolve("local"));
            LocalCluster.await(() -> one.contains("LOCAL DONE"), Duration.ofSeconds(30), "local-only commits");
            processes.get(0).destroyForcibly();
            assertThat(processes.get(0).waitFor(10, TimeUnit.SECONDS)).isTrue();

            Files.createFile(dir.resolve("data2").resolve("promote"));
            final List<String> two = output.get(1);
            LocalCluster.await(() -> two.stream().anyMatch(l -> l.startsWith("PROMOTED")), Duration.ofSeconds(30),
                "node 2 promoted: " + tail(two));
            Files.createFile(dir.resolve("data3").resolve("follow"));
            LocalCluster.await(() -> two.contains("DONE"), Duration.ofSeconds(60), "node 2's writes: " + tail(two));

            final List<Long> acknowledged = new ArrayList<>();
            for (final List<String> lines : List.of(one, two))
            {
                for (final String l : lines)
                {
                    if (l.startsWith("ACK "))
                    {
                        acknowledged.add(Long.parseLong(l.substring(4)));
                    }
                }
            }
            final List<String> three = output.get(2);
            final long last = acknowledged.get(acknowledged.size() - 1);
            LocalCluster.await(() -> three.contains("COMMIT " + last), Duration.ofSeconds(30),
                "node 3 committed " + last + ": " + tail(three));
            final List<Long> committed = new ArrayList<>();
            for (final String l : three)
            {
                if (l.startsWith("COMMIT "))
                {
                    committed.add(Long.parseLong(l.substring(7)));
                }
            }
            assertThat(committed).as("committed once each, in order").isSorted().doesNotHaveDuplicates();
            assertThat(committed).as("every acknowledged transaction").containsAll(acknowledged);
            assertThat(acknowledged.stream().filter(p -> p > 0).count()).isGreaterThanOrEqualTo(90);
            assertThat(two.stream().filter(l -> l.startsWith("PROMOTED")).findFirst().orElseThrow())
                .contains("epoch 2");

            // the old publisher comes back, as a replica of the node promoted in its place
            final String state2 = two.stream().filter(l -> l.startsWith("STATE ")).findFirst().orElseThrow()
                .substring("STATE ".length());
            final List<String> back = new CopyOnWriteArrayList<>();
            processes.add(JvmProcess.start(PromotionProcess.class, "256m",
                List.of("rejoin", configs.file(1).toString(), dir.resolve("data1").toString()), back));
            LocalCluster.await(() -> back.stream().anyMatch(l -> l.startsWith("APPLIED " + last + " STATE " + state2)),
                Duration.ofSeconds(60), "node 1 rejoined with node 2's state " + state2 + ": " + tail(back));
            assertThat(back.stream().filter(l -> l.startsWith("REJOINS")).findFirst().orElseThrow())
                .as("it had transactions epoch 2 never had").contains("-has-local");
            assertThat(back.stream().filter(l -> l.startsWith("APPLIED " + last)).findFirst().orElseThrow())
                .as("through a full sync").doesNotContain("FULL_SYNCS 0").doesNotContain("-has-local");
            assertThat(back).noneMatch(l -> l.startsWith("FAILED"));
        }
        finally
        {
            JvmProcess.stopAll(processes);
            configs.deleteAeronDirectories();
        }
    }

    private static List<String> tail(final List<String> lines)
    {
        final List<String> rest = new ArrayList<>();
        for (final String l : lines)
        {
            if (!l.startsWith("COMMIT ") && !l.startsWith("ACK ") && !l.startsWith("APPLIED "))
            {
                rest.add(l);
            }
        }
        return rest.subList(Math.max(0, rest.size() - 15), rest.size());
    }
}
