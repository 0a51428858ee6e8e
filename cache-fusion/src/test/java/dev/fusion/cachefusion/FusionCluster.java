package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GrdConfig;
import org.agrona.CloseHelper;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Nodes on loopback, each with the reference engine and cache fusion over one shared disk. */
final class FusionCluster implements AutoCloseable
{
    static final long OPENING_BALANCE = 1_000;

    final LocalCluster cluster;
    final SharedDisk disk;
    final UndoStore undo = new UndoStore(20_000);
    final List<ReferenceEngine> engines = new ArrayList<>();
    final List<CacheFusion> fusions = new ArrayList<>();
    private final boolean[] stopped;

    FusionCluster(final int nodes, final int pages, final Path directory, final GrdConfig grdConfig,
        final CacheFusionConfig config, final int cachePages)
    {
        disk = SharedDisk.format(directory, pages, OPENING_BALANCE);
        cluster = LocalCluster.start(nodes, LocalCluster::smallMachineDefaults);
        stopped = new boolean[nodes + 1];
        for (final ClusterNode node : cluster.nodes())
        {
            final ReferenceEngine engine = new ReferenceEngine(node.nodeId(), disk, undo, cachePages, false);
            final CacheFusion fusion = CacheFusion.start(node, grdConfig, config, engine);
            engine.attach(fusion);
            engines.add(engine);
            fusions.add(fusion);
        }
        cluster.awaitFullView(Duration.ofSeconds(20));
    }

    ReferenceEngine engine(final int node)
    {
        return engines.get(node - 1);
    }

    CacheFusion fusion(final int node)
    {
        return fusions.get(node - 1);
    }

    /** Crashes a node: its cache and locks vanish without a word to the others (no writes, no releases). */
    void kill(final int node)
    {
        stopped[node] = true;
        CloseHelper.quietClose(fusion(node));
        cluster.stop(node);
    }

    /** Starts a killed node again: a new process, with an empty cache, on the same disk and redo file. */
    void restart(final int node, final GrdConfig grdConfig, final CacheFusionConfig config, final int cachePages)
    {
        final ClusterNode restarted = cluster.restart(node);
        final ReferenceEngine engine = new ReferenceEngine(node, disk, undo, cachePages, false);
        final CacheFusion fusion = CacheFusion.start(restarted, grdConfig, config, engine);
        engine.attach(fusion);
        engines.add(engines.set(node - 1, engine)); // the old engine is closed with the others
        fusions.set(node - 1, fusion);
        stopped[node] = false;
    }

    boolean alive(final int node)
    {
        return !stopped[node];
    }

    long expectedTotal()
    {
        return disk.pages() * (long)dev.fusion.cachefusion.reference.AccountPage.ROWS * OPENING_BALANCE;
    }

    @Override
    public void close()
    {
        CloseHelper.quietCloseAll(fusions);
        cluster.close();
        CloseHelper.quietCloseAll(engines);
        disk.close();
    }
}
