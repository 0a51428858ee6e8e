package dev.fusion.replication;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A node of {@link PromotionMultiProcessTest} as its own process.
 * <p>
 * {@code pub CONFIG DATA}: publishes with level ALL (ack point APPLIED) to nodes 2 and 3, printing {@code ACK p}
 * for each transaction both applied, until killed.
 * {@code replica CONFIG DATA OTHER}: follows node 1, printing {@code COMMIT p} for each transaction it commits;
 * when the file {@code DATA/promote} appears it promotes itself and publishes 50 more with level ONE to
 * {@code OTHER} ({@code ACK p}, then {@code DONE}); when {@code DATA/follow} appears it follows node 2.
 */
public final class PromotionProcess
{
    private PromotionProcess()
    {
    }

    static Transaction txn(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("t",
            new KeyRef("t", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT, null,
            ("v" + position).getBytes(StandardCharsets.UTF_8))));
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[1]));
        final Path data = Path.of(args[2]);
        Files.createDirectories(data);
        try (ClusterNode node = ClusterNode.start(config))
        {
            LocalCluster.await(() -> node.view().members().size() == 3, Duration.ofSeconds(60), "all members");
            if ("pub".equals(args[0]))
            {
                publish(node, data);
            }
            else
            {
                replica(node, data, Integer.parseInt(args[3]));
            }
        }
    }

    private static void publish(final ClusterNode node, final Path data) throws Exception
    {
        try (ReplicationLog log = ReplicationLog.open(data.resolve("log"), 1 << 20, 1 << 30, true);
             Publisher publisher = new Publisher(node, log, 1024))
        {
            System.out.println("READY");
            System.out.flush();
            LocalCluster.await(() -> publisher.subscriptions().size() == 2, Duration.ofSeconds(30), "2 replicas");
            final CommitPolicy all = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(2, 3), 0);
            for (long p = 1; ; p++)
            {
                final CommitResult r = publisher.publish(txn(p), all).get(10, TimeUnit.SECONDS);
                if (r.outcome() == CommitOutcome.TARGET_ACHIEVED)
                {
                    System.out.println("ACK " + p);
                    System.out.flush();
                }
            }
        }
    }

    private static void replica(final ClusterNode node, final Path data, final int other) throws Exception
    {
        final ApplyHandler handler = new ApplyHandler()
        {
            @Override
            public void apply(final Transaction t)
            {
            }

            @Override
            public synchronized void commit(final Transaction t)
            {
                System.out.println("COMMIT " + t.position());
                System.out.flush();
            }
        };
        try (ParallelApplier applier = new ParallelApplier(handler, 4, true, 256, 100_000, 0);
             Subscriber subscriber = new Subscriber(node, 1, applier, 256))
        {
            System.out.println("READY");
            System.out.flush();
            while (true)
            {
                if (Files.exists(data.resolve("follow")))
                {
                    Files.delete(data.resolve("follow"));
                    subscriber.follow(2);
                    System.out.println("FOLLOWING 2");
                    System.out.flush();
                }
                if (Files.exists(data.resolve("promote")))
                {
                    Files.delete(data.resolve("promote"));
                    promote(subscriber, applier, data, other);
                }
                Thread.sleep(20);
            }
        }
    }

    private static void promote(final Subscriber subscriber, final ParallelApplier applier, final Path data,
        final int other) throws Exception
    {
        Publisher promoted = null;
        while (null == promoted)
        {
            try
            {
                promoted = subscriber.promote(ReplicationLog.open(data.resolve("log"), 1 << 20, 1 << 30, true), 1024,
                    10_000);
            }
            catch (final IllegalStateException notYet)
            {
                Thread.sleep(100); // the old publisher is not declared dead yet
            }
        }
        System.out.println("PROMOTED after " + applier.watermark() + " epoch " + promoted.epoch());
        System.out.flush();
        final Publisher p = promoted;
        LocalCluster.await(() -> p.subscriptions().containsKey(other), Duration.ofSeconds(30), "the follower");
        final CommitPolicy one = new CommitPolicy(CommitLevel.ONE, AckPoint.APPLIED, Duration.ofSeconds(5),
            Set.of(other), 0);
        long position = applier.watermark();
        for (int i = 0; i < 50; i++)
        {
            final CommitResult r = promoted.publish(txn(++position), one).get(10, TimeUnit.SECONDS);
            if (r.outcome() == CommitOutcome.TARGET_ACHIEVED)
            {
                System.out.println("ACK " + position);
            }
        }
        System.out.println("DONE");
        System.out.flush();
    }
}
