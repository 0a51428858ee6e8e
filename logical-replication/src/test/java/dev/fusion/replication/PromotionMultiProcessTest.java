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
 * The publisher's process is killed with SIGKILL; replica 2 is promoted and takes writes, replica 3 follows it.
 * Every transaction acknowledged by either publisher is committed on replica 3, once and in order.
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
            if (!l.startsWith("COMMIT ") && !l.startsWith("ACK "))
            {
                rest.add(l);
            }
        }
        return rest.subList(Math.max(0, rest.size() - 15), rest.size());
    }
}
