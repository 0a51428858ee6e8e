package dev.fusion.replication;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A node of {@link PromotionMultiProcessTest} as its own process.
 * <p>
 * {@code pub CONFIG DATA}: commits each transaction in its engine, then publishes it with level ALL (ack point
 * APPLIED) to nodes 2 and 3, printing {@code ACK p} for each transaction both applied, until the file
 * {@code DATA/local} appears: then it commits 5 more in its engine only (as transactions committed locally whose
 * replication died with the node would be), printing {@code LOCAL p} and {@code LOCAL DONE}, and waits to be killed.
 * {@code replica CONFIG DATA OTHER}: follows node 1, printing {@code COMMIT p} for each transaction it commits;
 * when the file {@code DATA/promote} appears it promotes itself and commits and publishes 50 more with level ONE
 * to {@code OTHER} ({@code ACK p}, then {@code STATE digest} and {@code DONE}); when {@code DATA/follow} appears it
 * follows node 2.
 * {@code rejoin CONFIG DATA}: the old publisher back, as a replica of node 2 whose state comes from epoch 1;
 * prints {@code APPLIED p STATE digest} as it goes.
 */
public final class PromotionProcess
{
    private PromotionProcess()
    {
    }

    static Transaction txn(final long position)
    {
        return txn(position, "v");
    }

    static Transaction txn(final long position, final String value)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("accounts",
            new KeyRef("accounts", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT,
            null, (value + position).getBytes(StandardCharsets.UTF_8))));
    }

    /** @return a digest of the engine's tables (rows, in key order). */
    static String digest(final DurableEngine engine)
    {
        final java.util.TreeMap<String, Object> tables = new java.util.TreeMap<>();
        engine.state.tables.forEach((t, rows) -> tables.put(t, new java.util.TreeMap<>(rows)));
        final long rows = engine.state.tables.values().stream().mapToLong(Map::size).sum();
        return rows + "-rows-" + Integer.toHexString(tables.toString().hashCode()) +
            (tables.toString().contains("local") ? "-has-local" : "");
    }

    /** Commits in the engine and prints the position (a replica's apply handler). */
    private static ApplyHandler printing(final DurableEngine engine)
    {
        return new ApplyHandler()
        {
            @Override
            public void apply(final Transaction t)
            {
                engine.apply(t);
            }

            @Override
            public void commit(final Transaction t)
            {
                synchronized (engine)
                {
                    engine.commit(t);
                }
                System.out.println("COMMIT " + t.position());
                System.out.flush();
            }
        };
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
            else if ("rejoin".equals(args[0]))
            {
                rejoin(node, data);
            }
            else
            {
                replica(node, data, Integer.parseInt(args[3]));
            }
        }
    }

    private static void publish(final ClusterNode node, final Path data) throws Exception
    {
        try (DurableEngine engine = new DurableEngine(data.resolve("engine"));
             ReplicationLog log = ReplicationLog.open(data.resolve("log"), 1 << 20, 1 << 30, true);
             Publisher publisher = new Publisher(node, log, 1024))
        {
            System.out.println("READY");
            System.out.flush();
            LocalCluster.await(() -> publisher.subscriptions().size() == 2, Duration.ofSeconds(30), "2 replicas");
            final CommitPolicy all = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(2, 3), 0);
            long p = 1;
            for (; !Files.exists(data.resolve("local")); p++)
            {
                final Transaction t = txn(p);
                engine.apply(t);
                engine.commit(t);
                final CommitResult r = publisher.publish(t, all).get(10, TimeUnit.SECONDS);
                if (r.outcome() == CommitOutcome.TARGET_ACHIEVED)
                {
                    System.out.println("ACK " + p);
                    System.out.flush();
                }
            }
            for (int i = 0; i < 5; i++, p++)
            {
                final Transaction t = txn(p, "local");
                engine.apply(t);
                engine.commit(t);
                System.out.println("LOCAL " + p);
            }
            System.out.println("LOCAL DONE");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    private static void replica(final ClusterNode node, final Path data, final int other) throws Exception
    {
        try (DurableEngine engine = new DurableEngine(data.resolve("engine"));
             ParallelApplier applier = new ParallelApplier(printing(engine), 4, true, 256, 100_000,
                 engine.watermark());
             Subscriber subscriber = new Subscriber(node, 1, applier, 256, engine))
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
                    promote(subscriber, applier, data, other, engine);
                }
                Thread.sleep(20);
            }
        }
    }

    private static void rejoin(final ClusterNode node, final Path data) throws Exception
    {
        try (DurableEngine engine = new DurableEngine(data.resolve("engine"));
             ParallelApplier applier = new ParallelApplier(printing(engine), 4, true, 256, 100_000,
                 engine.watermark());
             Subscriber subscriber = new Subscriber(node, 2, applier, 256, engine, 1))
        {
            System.out.println("REJOINS after " + engine.watermark() + " " + digest(engine));
            System.out.flush();
            while (null == applier.failure())
            {
                synchronized (engine)
                {
                    System.out.println("APPLIED " + applier.watermark() + " STATE " + digest(engine) +
                        " FULL_SYNCS " + subscriber.fullSyncs());
                }
                System.out.flush();
                Thread.sleep(100);
            }
            System.out.println("FAILED " + applier.failure());
        }
    }

    private static void promote(final Subscriber subscriber, final ParallelApplier applier, final Path data,
        final int other, final DurableEngine engine) throws Exception
    {
        Publisher promoted = null;
        while (null == promoted)
        {
            try
            {
                promoted = subscriber.promote(ReplicationLog.open(data.resolve("log"), 1 << 20, 1 << 30, true), 1024,
                    10_000, out ->
                    {
                        synchronized (engine)
                        {
                            engine.state.writeSnapshot(out);
                            return engine.watermark();
                        }
                    });
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
            final Transaction t = txn(++position);
            synchronized (engine)
            {
                engine.apply(t);
                engine.commit(t);
            }
            final CommitResult r = promoted.publish(t, one).get(10, TimeUnit.SECONDS);
            if (r.outcome() == CommitOutcome.TARGET_ACHIEVED)
            {
                System.out.println("ACK " + position);
            }
        }
        synchronized (engine)
        {
            System.out.println("STATE " + digest(engine));
        }
        System.out.println("DONE");
        System.out.flush();
    }
}
