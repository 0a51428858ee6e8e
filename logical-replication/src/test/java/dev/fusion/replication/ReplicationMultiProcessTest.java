package dev.fusion.replication;

import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.NodeConfigFiles;
import dev.fusion.cluster.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Publisher and subscriber as separate JVMs: the subscriber is killed with SIGKILL mid-stream and restarted,
 * then the publisher is; at the end the subscriber's durable state equals serial apply of the workload, every
 * transaction committed exactly once and in order (checked by content).
 */
class ReplicationMultiProcessTest
{
    private static final int COUNT = 6000;
    private static final long SEED = 21;

    @Test
    void killNineTheSubscriberAndThePublisherAndLoseNothing(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles nodes = new NodeConfigFiles(dir, 2, 1500, "idleMaxParkUs=200");
        final Path[] configs = {null, nodes.file(1), nodes.file(2)};
        final Path pubData = dir.resolve("pub");
        final Path subData = dir.resolve("sub");
        final List<Process> all = new ArrayList<>();
        try
        {
            final List<String> pubOut = new CopyOnWriteArrayList<>();
            Process pub = JvmProcess.start(ReplicationProcess.class, "256m",
                List.of("pub", configs[1].toString(), pubData.toString(), "" + COUNT, "" + SEED), pubOut);
            all.add(pub);
            List<String> subOut = new CopyOnWriteArrayList<>();
            Process sub = startSubscriber(configs[2], subData, subOut);
            all.add(sub);

            final List<String> firstSubOut = subOut;
            LocalCluster.await(() -> JvmProcess.lastNumber(firstSubOut, "APPLIED ") > 500, Duration.ofSeconds(60), "first applies " + subOut);
            sub.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

            subOut = new CopyOnWriteArrayList<>();
            sub = startSubscriber(configs[2], subData, subOut);
            all.add(sub);
            final List<String> secondSubOut = subOut;
            LocalCluster.await(() -> JvmProcess.lastNumber(secondSubOut, "APPLIED ") > 2000, Duration.ofSeconds(60), "progress " + subOut);
            pub.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

            final List<String> pubOut2 = new CopyOnWriteArrayList<>();
            pub = JvmProcess.start(ReplicationProcess.class, "256m",
                List.of("pub", configs[1].toString(), pubData.toString(), "" + COUNT, "" + SEED), pubOut2);
            all.add(pub);
            LocalCluster.await(() -> pubOut2.stream().anyMatch(l -> l.startsWith("PUBLISHED")), Duration.ofSeconds(90),
                "the publisher to finish: " + JvmProcess.tail(pubOut2));
            final long last = Long.parseLong(pubOut2.stream().filter(l -> l.startsWith("PUBLISHED")).findFirst()
                .orElseThrow().substring("PUBLISHED ".length()));
            LocalCluster.await(() -> JvmProcess.lastNumber(secondSubOut, "APPLIED ") == last, Duration.ofSeconds(90),
                "the subscriber to catch up to " + last + ": " + JvmProcess.tail(secondSubOut));
            assertThat(secondSubOut).noneMatch(l -> l.startsWith("FAILED"));
            sub.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            assertThat(pubOut2).anyMatch(l -> l.startsWith("PUBLISHER resumes after ") && !l.endsWith(" 0"));
        }
        finally
        {
            JvmProcess.stopAll(all);
            nodes.deleteAeronDirectories();
        }

        final List<Transaction> txns = new Workload(SEED, 256, 0.02, 0.01).next(COUNT);
        final TableStore serial = new TableStore(false, 0);
        txns.forEach(serial::apply);
        try (DurableEngine replica = new DurableEngine(subData))
        {
            assertThat(replica.state.commitOrder).as("every transaction exactly once, in order")
                .containsExactlyElementsOf(txns.stream().map(Transaction::position).toList());
            assertThat(replica.state.snapshot()).isEqualTo(serial.snapshot());
        }
    }

    @Test
    void aSubscriberBehindTheRetainedLogFullSyncsThenSurvivesAKillNine(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles nodes = new NodeConfigFiles(dir, 2, 1500, "idleMaxParkUs=200");
        final Path pubData = dir.resolve("pub");
        final Path subData = dir.resolve("sub");
        final List<Process> all = new ArrayList<>();
        final long last;
        try
        {
            final List<String> pubOut = new CopyOnWriteArrayList<>();
            all.add(JvmProcess.start(ReplicationProcess.class, "256m",
                List.of("pub", nodes.file(1).toString(), pubData.toString(), "" + COUNT, "" + SEED, "small"), pubOut));
            LocalCluster.await(() -> pubOut.stream().anyMatch(l -> l.startsWith("PUBLISHED")), Duration.ofSeconds(90),
                "the publisher to publish everything before the subscriber starts: " + JvmProcess.tail(pubOut));
            last = Long.parseLong(pubOut.stream().filter(l -> l.startsWith("PUBLISHED")).findFirst().orElseThrow()
                .substring("PUBLISHED ".length()));

            final List<String> first = new CopyOnWriteArrayList<>();
            final Process sub = startSubscriber(nodes.file(2), subData, first);
            all.add(sub);
            LocalCluster.await(() -> first.stream().anyMatch(l -> l.contains("full sync loaded")),
                Duration.ofSeconds(60), "a full sync: " + JvmProcess.tail(first));
            sub.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

            final List<String> second = new CopyOnWriteArrayList<>();
            all.add(startSubscriber(nodes.file(2), subData, second));
            LocalCluster.await(() -> JvmProcess.lastNumber(second, "APPLIED ") == last, Duration.ofSeconds(60),
                "the restarted subscriber to reach " + last + ": " + JvmProcess.tail(second));
            assertThat(second).noneMatch(l -> l.startsWith("FAILED"));
        }
        finally
        {
            JvmProcess.stopAll(all);
            nodes.deleteAeronDirectories();
        }
        final List<Transaction> txns = new Workload(SEED, 256, 0.02, 0.01).next(COUNT);
        final TableStore serial = new TableStore(false, 0);
        txns.forEach(serial::apply);
        try (DurableEngine replica = new DurableEngine(subData))
        {
            assertThat(replica.watermark()).isEqualTo(last);
            assertThat(replica.state.snapshot()).as("snapshot plus what followed equals serial apply")
                .isEqualTo(serial.snapshot());
        }
    }

    private static Process startSubscriber(final Path config, final Path data, final List<String> out)
        throws java.io.IOException
    {
        return JvmProcess.start(ReplicationProcess.class, "256m", List.of("sub", config.toString(), data.toString(), "1"),
            out);
    }
}
