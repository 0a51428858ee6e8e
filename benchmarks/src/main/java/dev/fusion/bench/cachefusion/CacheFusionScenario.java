package dev.fusion.bench.cachefusion;

import dev.fusion.bench.Baselines;
import dev.fusion.bench.BenchThreading;
import dev.fusion.bench.CpuPlacement;
import dev.fusion.bench.JsonLine;
import dev.fusion.cachefusion.BlockGrant;
import dev.fusion.cachefusion.CacheFusion;
import dev.fusion.cachefusion.CacheFusionConfig;
import dev.fusion.cachefusion.GetKind;
import dev.fusion.cachefusion.WaitEvents;
import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.IdleMode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.LockMode;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import static dev.fusion.bench.Stats.log;
import static dev.fusion.bench.Stats.median;
import static dev.fusion.bench.Stats.us;

/**
 * {@code ./fusion bench cachefusion}: 2-way and 3-way current-block gets against a raw Aeron round trip measured
 * in the same run; block transfer throughput with compression off and on; the bank workload (skewed: each node
 * mostly moves money between "its" accounts) with grd's affinity remastering off and on, checking the bank's
 * invariant at the end. Ends with one JSON line.
 */
public final class CacheFusionScenario
{
    /** Default run length. */
    public static final int DEFAULT_SECONDS = 60;
    private static final int ROUNDS = 3;
    private static final int PAGES = 48;
    /** Developers' switch: {@code -Dfusion.bench.only=2} runs section 2 only. */
    private static final String ONLY = System.getProperty("fusion.bench.only", "123");
    /**
     * Jumbo frames, as RAC advises for its interconnect: an 8 KiB image is one datagram (at Aeron's default 1408
     * it is cut in 6 and its hop took 30 us instead of 12 here).
     */
    private static final int JUMBO_MTU = 8992;

    private final double unit;
    private final boolean quorum;

    /**
     * @param seconds target run length.
     * @param quorum  whether the clusters decide membership by a quorum of voters (else each node alone).
     */
    public CacheFusionScenario(final int seconds, final boolean quorum)
    {
        this.unit = seconds / 60.0;
        this.quorum = quorum;
    }

    private long ns(final double units)
    {
        return (long)(Math.max(0.3, units * unit) * 1e9);
    }

    /**
     * @throws Exception when a run fails.
     */
    public void run() throws Exception
    {
        final JsonLine json = new JsonLine("cachefusion");
        json.put("seconds", Math.round(unit * 60));
        json.put("membership", quorum ? "quorum" : "local");
        if (ONLY.contains("1"))
        {
            gets(json);
        }
        if (ONLY.contains("2"))
        {
            throughput(json);
        }
        if (ONLY.contains("3"))
        {
            bank(json);
        }
        json.put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(json);
    }

    /** Three nodes with the reference engine on one shared disk. */
    private static final class Cluster implements AutoCloseable
    {
        final Path dir;
        final LocalCluster cluster;
        final SharedDisk disk;
        final List<ReferenceEngine> engines = new ArrayList<>();
        final List<CacheFusion> fusions = new ArrayList<>();

        Cluster(final GrdConfig grd, final UnaryOperator<ClusterConfig.Builder> customize, final int cachePages,
            final boolean quorum) throws Exception
        {
            dir = Files.createTempDirectory("fusion-bench-cf");
            disk = SharedDisk.format(dir, PAGES, 1_000);
            cluster = LocalCluster.start(3, true, quorum,
                b -> BenchThreading.recommended(customize.apply(b.mtu(JUMBO_MTU))));
            final UndoStore undo = new UndoStore(64);
            for (final ClusterNode node : cluster.nodes())
            {
                final ReferenceEngine engine = new ReferenceEngine(node.nodeId(), disk, undo, cachePages, false);
                final CacheFusion fusion = CacheFusion.start(node, grd, CacheFusionConfig.defaults(), engine);
                engine.attach(fusion);
                engine.fenceWith(node); // with quorum membership: writes carry the epoch as their fencing token
                engines.add(engine);
                fusions.add(fusion);
            }
            cluster.awaitFullView(Duration.ofSeconds(30));
        }

        CacheFusion fusion(final int node)
        {
            return fusions.get(node - 1);
        }

        int pageMasteredBy(final int master, final int skip)
        {
            int found = 0;
            for (int page = 0; page < PAGES; page++)
            {
                if (fusion(1).directory().masterOf(ReferenceEngine.block(page)) == master && found++ == skip)
                {
                    return page;
                }
            }
            throw new IllegalStateException("no page mastered by node " + master);
        }

        @Override
        public void close() throws Exception
        {
            CloseHelper.quietCloseAll(fusions);
            cluster.close();
            CloseHelper.quietCloseAll(engines);
            disk.close();
            try (var files = Files.list(dir))
            {
                for (final Path p : (Iterable<Path>)files::iterator)
                {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private static GrdConfig noRemastering()
    {
        return GrdConfig.builder().remastering(false).build();
    }

    /** A block bounced between nodes 1 and 2; the master is node 3 (3-way) or node 2 (2-way). */
    private void gets(final JsonLine json) throws Exception
    {
        log("1/3 current-block gets: 2-way and 3-way EXCLUSIVE transfers vs a raw Aeron round trip");
        final List<Double> two50 = new ArrayList<>();
        final List<Double> two99 = new ArrayList<>();
        final List<Double> three50 = new ArrayList<>();
        final List<Double> three99 = new ArrayList<>();
        final List<Double> raw50 = new ArrayList<>();
        final List<Double> rawBlock50 = new ArrayList<>();
        final List<Double> earlyShares = new ArrayList<>();
        // 3 nodes and the caller: node 1 (which runs the driver for all) and the caller on CPU 0, nodes 2 and 3 on
        // CPU 1, none parking. The raw round trip is not pinned: pinned, or yielding, it was no faster (27-42 us
        // with its pinger and driver on one CPU), and a floor must be the fastest measured
        final CpuPlacement placement = CpuPlacement.forBusyThreads(4);
        log("  threads %s; idle: yield, never park", placement.pinning() ?
            "pinned (node 1, its driver and the caller on CPU 0; nodes 2 and 3 on CPU 1)" : "not pinned");
        for (int round = 0; round < ROUNDS; round++)
        {
            try (Cluster c = new Cluster(noRemastering(), b -> LocalCluster.smallMachineDefaults(b)
                .idleMode(IdleMode.YIELDING).agentThreadFactory(placement.threadsOn(b.nodeId() == 1 ? 0 : 1)), PAGES, quorum);
                 CpuPlacement.Pinned caller = placement.pinCurrentThread(0))
            {
                final Histogram two = bounce(c, c.pageMasteredBy(2, 0), GetKind.TWO_WAY);
                final Histogram three = bounce(c, c.pageMasteredBy(3, 0), GetKind.THREE_WAY);
                long early = 0;
                long remote = 0;
                for (final CacheFusion f : c.fusions)
                {
                    final WaitEvents e = f.waitEvents();
                    early += e.count("grants_with_image");
                    remote += e.count("current_2way") + e.count("current_3way");
                }
                log("  %,d of %,d remote gets used an image that carried its grant", early, remote);
                earlyShares.add(remote == 0 ? 0.0 : (double)early / remote);
                two50.add(us(two, 50));
                two99.add(us(two, 99));
                three50.add(us(three, 50));
                three99.add(us(three, 99));
            }
            final int[] ports = LocalCluster.freeUdpPorts(2);
            raw50.add(us(Baselines.rawAeronRtt(ns(2), ports[0], ports[1]), 50));
            rawBlock50.add(us(Baselines.rawAeronRtt(ns(2), ports[0], ports[1], AccountPage.SIZE, JUMBO_MTU), 50));
            log("  round %d: 2-way p50 %.1f us p99 %.1f us | 3-way p50 %.1f us p99 %.1f us | raw Aeron round trip " +
                "p50 %.1f us (32 B each way), %.1f us (32 B out, an 8 KiB block back)", round + 1, two50.get(round),
                two99.get(round), three50.get(round), three99.get(round), raw50.get(round), rawBlock50.get(round));
        }
        json.put("two_way_p50_us", median(two50));
        json.put("two_way_p99_us", median(two99));
        json.put("three_way_p50_us", median(three50));
        json.put("three_way_p99_us", median(three99));
        json.put("raw_rtt_p50_us", median(raw50));
        json.put("two_way_vs_raw_rtt", median(two50) / median(raw50));
        json.put("three_way_vs_raw_rtt", median(three50) / median(raw50));
        json.put("raw_block_rtt_p50_us", median(rawBlock50));
        json.put("two_way_vs_raw_block_rtt", median(two50) / median(rawBlock50));
        json.put("three_way_vs_raw_block_rtt", median(three50) / median(rawBlock50));
        json.put("threads_pinned", placement.pinning());
        json.put("grants_with_image_share", median(earlyShares));
    }

    private Histogram bounce(final Cluster c, final int page, final GetKind expected) throws Exception
    {
        final long block = ReferenceEngine.block(page);
        final Histogram h = new Histogram(3);
        final long warm = System.nanoTime() + ns(0.5);
        final long end = warm + ns(2.5);
        int node = 1;
        long other = 0;
        while (System.nanoTime() < end)
        {
            final BlockGrant g = spin(c.fusion(node).acquire(block, LockMode.EXCLUSIVE));
            c.fusion(node).release(block);
            if (System.nanoTime() > warm)
            {
                if (g.kind() == expected)
                {
                    h.recordValue(g.latencyNs());
                }
                else
                {
                    other++;
                }
            }
            node = node == 1 ? 2 : 1;
        }
        if (other > h.getTotalCount() / 10)
        {
            log("  note: %d of the gets were not %s", other, expected);
        }
        return h;
    }

    private static <T> T spin(final CompletableFuture<T> future) throws Exception
    {
        while (!future.isDone())
        {
            Thread.yield();
        }
        return future.get();
    }

    /** All pages shipped from node 1 to node 2 and back, many in flight at once. */
    private void throughput(final JsonLine json) throws Exception
    {
        log("2/3 block transfer throughput: %d 8 KiB pages moved between two nodes, compression off vs on", PAGES);
        for (final boolean compress : new boolean[]{false, true})
        {
            final List<Double> mbs = new ArrayList<>();
            final List<Double> blocks = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++)
            {
                try (Cluster c = new Cluster(noRemastering(),
                    b -> LocalCluster.smallMachineDefaults(b).compressionThreshold(compress ? 4096 : 0)
                        .compressIdleLink(compress).bulkTermLength(16 << 20).bulkQueueBytes(8 << 20)
                        .maxBatchBytes(32704), PAGES, quorum))
                {
                    // make the pages dirty on node 1 so every transfer ships a real image
                    for (int page = 0; page < PAGES; page++)
                    {
                        final long a = (long)page * AccountPage.ROWS;
                        c.engines.get(0).transfer(a, a + 1, 1, 10_000);
                    }
                    final long warm = System.nanoTime() + ns(0.5);
                    final long end = warm + ns(3);
                    long moved = 0;
                    long startNs = 0;
                    int to = 2;
                    while (System.nanoTime() < end)
                    {
                        final List<CompletableFuture<BlockGrant>> gets = new ArrayList<>(PAGES);
                        for (int page = 0; page < PAGES; page++)
                        {
                            gets.add(c.fusion(to).acquire(ReferenceEngine.block(page), LockMode.EXCLUSIVE));
                        }
                        for (int page = 0; page < PAGES; page++)
                        {
                            gets.get(page).get(30, TimeUnit.SECONDS);
                            c.fusion(to).release(ReferenceEngine.block(page));
                        }
                        if (System.nanoTime() > warm)
                        {
                            if (startNs == 0)
                            {
                                startNs = System.nanoTime();
                            }
                            else
                            {
                                moved += PAGES;
                            }
                        }
                        to = to == 1 ? 2 : 1;
                    }
                    final double seconds = (System.nanoTime() - startNs) / 1e9;
                    blocks.add(moved / seconds);
                    mbs.add(moved * (double)AccountPage.SIZE / seconds / (1 << 20));
                    log("  compression %-3s round %d: %,.0f blocks/s, %.1f MB/s", compress ? "on" : "off", round + 1,
                        blocks.get(round), mbs.get(round));
                }
            }
            json.put("blocks_per_s_" + (compress ? "compressed" : "uncompressed"), median(blocks));
            json.put("block_mb_per_s_" + (compress ? "compressed" : "uncompressed"), median(mbs));
        }
    }

    /** The bank: each node moves money mostly between accounts on "its" third of the pages. */
    private void bank(final JsonLine json) throws Exception
    {
        log("3/3 bank workload, skewed (each node 90%% on its own pages), affinity remastering off vs on");
        boolean invariant = true;
        final List<Double> tpsOff = new ArrayList<>();
        final List<Double> tpsOn = new ArrayList<>();
        final List<Double> threeOff = new ArrayList<>();
        final List<Double> threeOn = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++)
        {
            for (final boolean remaster : new boolean[]{false, true})
            {
                final double[] r = bankRun(remaster);
                invariant &= r[2] == 1;
                (remaster ? tpsOn : tpsOff).add(r[0]);
                (remaster ? threeOn : threeOff).add(r[1]);
                log("  round %d remastering %-3s: %,.0f transfers/s, 3-way share of gets %.1f%%, invariant %s",
                    round + 1, remaster ? "on" : "off", r[0], r[1] * 100, r[2] == 1 ? "ok" : "BROKEN");
            }
        }
        json.put("bank_tps_remastering_off", median(tpsOff));
        json.put("bank_tps_remastering_on", median(tpsOn));
        json.put("three_way_share_remastering_off", median(threeOff));
        json.put("three_way_share_remastering_on", median(threeOn));
        json.put("bank_invariant_ok", invariant);
    }

    private double[] bankRun(final boolean remaster) throws Exception
    {
        final GrdConfig grd = GrdConfig.builder().remastering(remaster).remoteRequestsToRemaster(3)
            .minResidence(Duration.ofMillis(200)).build();
        try (Cluster c = new Cluster(grd, LocalCluster::smallMachineDefaults, PAGES, quorum))
        {
            final AtomicBoolean running = new AtomicBoolean(true);
            final AtomicBoolean measuring = new AtomicBoolean();
            final AtomicLong transfers = new AtomicLong();
            final AtomicLong failures = new AtomicLong();
            final long[][] deltas = new long[3][PAGES * AccountPage.ROWS];
            final List<Thread> workers = new ArrayList<>();
            final int share = PAGES / 3;
            for (int n = 1; n <= 3; n++)
            {
                final int node = n;
                final Thread t = new Thread(() ->
                {
                    final SplittableRandom random = new SplittableRandom(node);
                    final ReferenceEngine engine = c.engines.get(node - 1);
                    while (running.get())
                    {
                        final long from = account(random, node, share);
                        long to = account(random, node, share);
                        if (to == from)
                        {
                            to = (to + 1) % (PAGES * AccountPage.ROWS);
                        }
                        final long amount = 1 + random.nextInt(20);
                        try
                        {
                            engine.transfer(from, to, amount, 30_000);
                            deltas[node - 1][(int)from] -= amount;
                            deltas[node - 1][(int)to] += amount;
                            if (measuring.get())
                            {
                                transfers.incrementAndGet();
                            }
                        }
                        catch (final Exception ex)
                        {
                            failures.incrementAndGet();
                        }
                    }
                }, "bank-" + node);
                workers.add(t);
                t.start();
            }
            Thread.sleep(ns(1) / 1_000_000);
            final WaitEvents[] before = new WaitEvents[3];
            for (int n = 0; n < 3; n++)
            {
                before[n] = c.fusions.get(n).waitEvents();
            }
            measuring.set(true);
            final long start = System.nanoTime();
            Thread.sleep(ns(4) / 1_000_000);
            measuring.set(false);
            final double seconds = (System.nanoTime() - start) / 1e9;
            long three = 0;
            long gets = 0;
            for (int n = 0; n < 3; n++)
            {
                final WaitEvents after = c.fusions.get(n).waitEvents();
                for (final String kind : new String[]{"current_grant", "current_2way", "current_3way"})
                {
                    gets += after.count(kind) - before[n].count(kind);
                }
                three += after.count("current_3way") - before[n].count("current_3way");
            }
            running.set(false);
            for (final Thread t : workers)
            {
                t.join();
            }
            // the invariant: every balance is the opening balance plus the acknowledged transfers
            boolean ok = failures.get() == 0;
            for (int page = 0; page < PAGES && ok; page++)
            {
                final long block = ReferenceEngine.block(page);
                c.fusion(1).acquire(block, LockMode.SHARED).get(30, TimeUnit.SECONDS);
                try
                {
                    final byte[] bytes = c.engines.get(0).current(block).bytes();
                    for (int row = 0; row < AccountPage.ROWS; row++)
                    {
                        final int account = page * AccountPage.ROWS + row;
                        final long expected = 1_000 + deltas[0][account] + deltas[1][account] + deltas[2][account];
                        ok &= AccountPage.balance(bytes, row) == expected;
                    }
                }
                finally
                {
                    c.fusion(1).release(block);
                }
            }
            return new double[]{transfers.get() / seconds, gets == 0 ? 0 : (double)three / gets, ok ? 1 : 0};
        }
    }

    /** 90% an account on the node's own third of the pages, else anywhere. */
    private static long account(final SplittableRandom random, final int node, final int share)
    {
        final int page = random.nextInt(10) == 0 ? random.nextInt(PAGES) : (node - 1) * share + random.nextInt(share);
        return (long)page * AccountPage.ROWS + random.nextInt(AccountPage.ROWS);
    }
}
