package dev.fusion.replication;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * A publisher or a subscriber as its own process, for {@link ReplicationMultiProcessTest}.
 * <p>
 * {@code pub CONFIG DATA_DIR COUNT SEED}: publishes the deterministic workload (resuming after what its log
 * already holds) at about 2,000 transactions a second, then keeps serving.
 * {@code sub CONFIG DATA_DIR PUBLISHER_ID}: applies with 8 workers into a {@link DurableEngine}, printing
 * {@code APPLIED n} as it goes.
 */
public final class ReplicationProcess
{
    private ReplicationProcess()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[1]));
        final Path data = Path.of(args[2]);
        try (ClusterNode node = ClusterNode.start(config))
        {
            if ("pub".equals(args[0]))
            {
                publish(node, data, Integer.parseInt(args[3]), Long.parseLong(args[4]),
                    args.length > 5 && "small".equals(args[5]));
            }
            else
            {
                subscribe(node, data, Integer.parseInt(args[3]));
            }
        }
    }

    private static void publish(final ClusterNode node, final Path data, final int count, final long seed,
        final boolean smallRetention) throws Exception
    {
        final List<Transaction> txns = new Workload(seed, 256, 0.02, 0.01).next(count);
        final TableStore source = new TableStore(false, 0);
        final long[] sourcePosition = new long[1];
        final long segment = smallRetention ? 8192 : 256 << 10;
        final long retention = smallRetention ? 65536 : 1L << 30;
        try (ReplicationLog log = ReplicationLog.open(data, segment, retention, true);
             Publisher publisher = new Publisher(node, log, 64, out ->
             {
                 synchronized (source)
                 {
                     source.writeSnapshot(out);
                     return sourcePosition[0];
                 }
             }))
        {
            final long already = log.lastPosition();
            System.out.println("PUBLISHER resumes after " + already);
            for (final Transaction t : txns)
            {
                synchronized (source)
                {
                    source.apply(t);
                    sourcePosition[0] = t.position();
                }
                if (t.position() > already)
                {
                    publisher.publish(t);
                    if (!smallRetention)
                    {
                        LockSupport.parkNanos(500_000);
                    }
                }
            }
            System.out.println("PUBLISHED " + log.lastPosition());
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    private static void subscribe(final ClusterNode node, final Path data, final int publisherId) throws Exception
    {
        try (DurableEngine engine = new DurableEngine(data);
             ParallelApplier applier = new ParallelApplier(engine, 8, true, 256, 100_000, engine.watermark());
             Subscriber subscriber = new Subscriber(node, publisherId, applier, 4096, engine))
        {
            System.out.println("SUBSCRIBER resumes after " + engine.watermark());
            while (null == applier.failure())
            {
                if (subscriber.fullSyncs() > 0)
                {
                    System.out.println("full sync loaded");
                }
                System.out.println("APPLIED " + applier.watermark());
                System.out.flush();
                Thread.sleep(100);
            }
            System.out.println("FAILED " + applier.failure());
        }
    }
}
