package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GrdConfig;

import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One bank node as its own process, for {@link CacheFusionMultiProcessTest}: transfers for a while, printing
 * {@code S from to amount} before each and {@code A from to amount} once it is committed; then, once every
 * node has stopped, writes every dirty page it holds ({@code CHECKPOINTED}) and waits to be stopped. With quorum
 * membership, a node the quorum declared dead (cut off or paused past its lease) prints {@code EVICTED}, drops its
 * cache, rejoins as a new incarnation and prints {@code REJOINED} before it transfers again.
 * <p>
 * Usage: {@code BankProcess CONFIG_FILE SHARED_DIR PAGES SECONDS}
 */
public final class BankProcess
{
    private BankProcess()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        final SharedDisk disk = SharedDisk.open(Path.of(args[1]), Integer.parseInt(args[2]));
        final long seconds = Long.parseLong(args[3]);
        final int accounts = disk.pages() * dev.fusion.cachefusion.reference.AccountPage.ROWS;
        final GrdConfig grdConfig = GrdConfig.builder().retryInterval(Duration.ofMillis(100)).build();
        try (ClusterNode node = ClusterNode.start(config);
             ReferenceEngine engine = new ReferenceEngine(config.nodeId(), disk, new UndoStore(64), 64, false))
        {
            CacheFusion fusion = CacheFusion.start(node, grdConfig, CacheFusionConfig.defaults(), engine);
            engine.attach(fusion);
            final boolean fencing = engine.fenceWith(node);
            LocalCluster.await(() -> node.view().members().size() == config.members().size(), Duration.ofSeconds(60),
                "all members");
            System.out.println("READY " + node.nodeId() + (fencing ? " fencing" : ""));
            System.out.flush();
            final SplittableRandom random = new SplittableRandom(node.nodeId());
            final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long failures = 0;
            long done = 0;
            while (System.nanoTime() < end)
            {
                if (node.evicted())
                {
                    System.out.println("EVICTED " + node.nodeId());
                    fusion.close();
                    engine.discardCache();
                    node.rejoin();
                    if (!node.awaitLease(30_000))
                    {
                        System.out.println("X no lease after rejoining");
                        continue;
                    }
                    fusion = CacheFusion.start(node, grdConfig, CacheFusionConfig.defaults(), engine);
                    engine.attach(fusion);
                    System.out.println("REJOINED " + node.nodeId() + " incarnation " + node.incarnation());
                }
                final long from = random.nextInt(accounts);
                final long to = (from + 1 + random.nextInt(accounts - 1)) % accounts;
                final long amount = 1 + random.nextInt(50);
                print("S", from, to, amount);
                try
                {
                    engine.transfer(from, to, amount, 30_000);
                    print("A", from, to, amount);
                    done++;
                }
                catch (final Exception ex)
                {
                    failures++;
                    System.out.println("X " + ex);
                }
            }
            System.out.println("STOPPED " + node.nodeId() + " transfers=" + done + " failures=" + failures);
            System.out.flush();
            Thread.sleep(2_000); // every node has stopped by then: nothing changes after the checkpoint
            try
            {
                final int written = fusion.checkpoint().get(30, TimeUnit.SECONDS);
                System.out.println("CHECKPOINTED " + node.nodeId() + " pages=" + written);
            }
            catch (final Exception ex)
            {
                System.out.println("CHECKPOINT FAILED " + node.nodeId() + " " + ex);
            }
            System.out.println("LEASE " + node.nodeId() + " held=" + node.hasLease() + " evicted=" + node.evicted());
            fusion.close();
            System.out.flush();
            Thread.sleep(60_000);
        }
    }

    private static synchronized void print(final String what, final long from, final long to, final long amount)
    {
        System.out.println(what + " " + from + " " + to + " " + amount);
    }

    /**
     * Test support: starts one bank process per node of {@code configs} and waits until each is ready.
     *
     * @param prefix    the command each runs under (node id to prefix; an empty list runs it directly).
     * @param configs   the nodes' config files.
     * @param nodes     how many nodes they hold.
     * @param shared    the shared disk's directory.
     * @param pages     pages of the bank.
     * @param seconds   how long each node transfers (node id to seconds).
     * @param processes receives the processes, in node order.
     * @param output    receives each process's output lines, in node order.
     * @throws Exception when a process cannot start or is not ready within a minute.
     */
    static void startAll(
        final java.util.function.IntFunction<java.util.List<String>> prefix,
        final dev.fusion.cluster.NodeConfigFiles configs,
        final int nodes,
        final Path shared,
        final int pages,
        final java.util.function.IntUnaryOperator seconds,
        final java.util.List<Process> processes,
        final java.util.List<java.util.List<String>> output) throws Exception
    {
        for (int id = 1; id <= nodes; id++)
        {
            final java.util.List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
            output.add(lines);
            processes.add(dev.fusion.cluster.JvmProcess.start(prefix.apply(id), BankProcess.class, "256m",
                java.util.List.of(configs.file(id).toString(), shared.toString(), String.valueOf(pages),
                    String.valueOf(seconds.applyAsInt(id))), lines));
        }
        for (final java.util.List<String> lines : output)
        {
            LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("READY")), Duration.ofSeconds(60),
                "node to be ready: " + lines);
        }
    }
}
