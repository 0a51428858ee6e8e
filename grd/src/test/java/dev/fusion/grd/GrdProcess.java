package dev.fusion.grd;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One cluster node with a directory as its own process, for {@link GrdMultiProcessTest}: it waits for all
 * members, then acquires and releases a few hot resources for a while, printing each grant after it completes
 * and each release before it is sent, with {@code System.nanoTime()} (one clock for every process on Linux).
 * <p>
 * Usage: {@code GrdProcess CONFIG_FILE SECONDS SEED}
 */
public final class GrdProcess
{
    private GrdProcess()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        final long seconds = Long.parseLong(args[1]);
        final Random random = new Random(Long.parseLong(args[2]));
        try (ClusterNode node = ClusterNode.start(config);
             GlobalResourceDirectory grd = GlobalResourceDirectory.start(node,
                 GrdConfig.builder().requestTimeout(Duration.ofSeconds(10)).minResidence(Duration.ofMillis(100)).build(),
                 RecoveryHandler.NONE))
        {
            LocalCluster.await(() -> node.view().members().size() == config.members().size(), Duration.ofSeconds(60),
                "all members");
            System.out.println("READY " + node.nodeId());
            System.out.flush();
            final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long grants = 0;
            long failures = 0;
            while (System.nanoTime() < end)
            {
                final long r = ResourceId.of(1, random.nextInt(4));
                final LockMode mode = random.nextBoolean() ? LockMode.SHARED : LockMode.EXCLUSIVE;
                try
                {
                    final LockMode granted = grd.acquire(r, mode).get(20, TimeUnit.SECONDS);
                    print("G", r, granted);
                    grants++;
                    Thread.sleep(random.nextInt(2));
                    print("R", r, LockMode.NULL);
                    grd.release(r).get(20, TimeUnit.SECONDS);
                }
                catch (final Exception ex)
                {
                    failures++;
                    System.out.println("X " + ex);
                    print("R", r, LockMode.NULL);
                    grd.release(r);
                }
            }
            System.out.println("DONE " + node.nodeId() + " grants=" + grants + " failures=" + failures);
            System.out.flush();
        }
    }

    private static synchronized void print(final String what, final long resource, final LockMode mode)
    {
        System.out.println("E " + System.nanoTime() + " " + what + " " + resource + " " + mode);
    }
}
