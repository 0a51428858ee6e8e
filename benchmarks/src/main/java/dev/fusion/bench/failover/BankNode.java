package dev.fusion.bench.failover;

import dev.fusion.cachefusion.CacheFusion;
import dev.fusion.cachefusion.CacheFusionConfig;
import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.grd.GrdConfig;

import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * One bank node as its own process, for {@link FailoverScenario}: transfers between random accounts until it is
 * killed, and prints {@code SLOW start end} (monotonic ns, the host's one clock) for every transfer that took longer
 * than 100 ms: a transfer that waited for a page a dead node held.
 * <p>
 * Usage: {@code BankNode CONFIG_FILE SHARED_DIR PAGES}
 */
public final class BankNode
{
    private static final long SLOW_NS = 100_000_000L;

    private BankNode()
    {
    }

    /**
     * @param args config file, shared disk directory, pages.
     * @throws Exception when the node cannot start.
     */
    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        final SharedDisk disk = SharedDisk.open(Path.of(args[1]), Integer.parseInt(args[2]));
        final int accounts = disk.pages() * AccountPage.ROWS;
        try (ClusterNode node = ClusterNode.start(config);
             ReferenceEngine engine = new ReferenceEngine(config.nodeId(), disk, new UndoStore(64), 64, false);
             CacheFusion fusion = CacheFusion.start(node, GrdConfig.defaults(), CacheFusionConfig.defaults(), engine))
        {
            engine.attach(fusion);
            engine.fenceWith(node);
            while (node.view().members().size() < config.members().size() || !node.hasLease())
            {
                Thread.sleep(10);
            }
            System.out.println("READY " + node.nodeId());
            System.out.flush();
            final SplittableRandom random = new SplittableRandom(node.nodeId());
            while (true)
            {
                final long from = random.nextInt(accounts);
                final long to = (from + 1 + random.nextInt(accounts - 1)) % accounts;
                final long start = System.nanoTime();
                try
                {
                    engine.transfer(from, to, 1 + random.nextInt(50), 30_000);
                }
                catch (final Exception ex)
                {
                    System.out.println("X " + ex);
                }
                final long end = System.nanoTime();
                if (end - start > SLOW_NS)
                {
                    System.out.println("SLOW " + start + " " + end);
                    System.out.flush();
                }
            }
        }
    }
}
