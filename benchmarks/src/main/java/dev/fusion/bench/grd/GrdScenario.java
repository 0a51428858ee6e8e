package dev.fusion.bench.grd;

import dev.fusion.bench.Baselines;
import dev.fusion.bench.BenchThreading;
import dev.fusion.bench.CpuPlacement;
import dev.fusion.bench.JsonLine;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.IdleMode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GlobalResourceDirectory;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.GrdStats;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.RecoveryHandler;
import dev.fusion.grd.ResourceId;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static dev.fusion.bench.Stats.log;
import static dev.fusion.bench.Stats.median;
import static dev.fusion.bench.Stats.us;

/**
 * {@code ./fusion bench grd}: local lookup cost, a remote grant's round trip against a raw Aeron ping-pong in the
 * same run, and a skewed-affinity workload with remastering off and on. Ends with one JSON line.
 */
public final class GrdScenario
{
    /** Default run length. */
    public static final int DEFAULT_SECONDS = 60;
    private static final int ROUNDS = 3;
    private static final int BATCH = 64;
    /** Round trips on 2 shared cores are bimodal: more rounds for a steadier median. */
    private static final int GRANT_ROUNDS = 5;
    /** Developers' switch: {@code -Dfusion.bench.only=2} runs section 2 only. */
    private static final String ONLY = System.getProperty("fusion.bench.only", "123");
    /** The same idle strategy bound as the raw Aeron baseline's, so the comparison is like with like. */
    private static final long IDLE_MAX_PARK_US = 10;

    private final double unit;
    private final boolean quorum;

    /**
     * @param seconds target run length.
     * @param quorum  whether the clusters decide membership by a quorum of voters (else each node alone).
     */
    public GrdScenario(final int seconds, final boolean quorum)
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
        final JsonLine json = new JsonLine("grd");
        json.put("seconds", Math.round(unit * 60));
        json.put("membership", quorum ? "quorum" : "local");
        log("membership: %s", quorum ? "quorum of 3 voters (Aeron Cluster)" : "local (each node alone)");
        if (ONLY.contains("1"))
        {
            lookups(json);
        }
        if (ONLY.contains("2"))
        {
            remoteGrant(json);
        }
        if (ONLY.contains("3"))
        {
            affinity(json);
        }
        json.put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(json);
    }

    private static List<GlobalResourceDirectory> start(final LocalCluster cluster, final GrdConfig config)
    {
        final List<GlobalResourceDirectory> grds = new ArrayList<>();
        for (final ClusterNode node : cluster.nodes())
        {
            grds.add(GlobalResourceDirectory.start(node, config, RecoveryHandler.NONE));
        }
        cluster.awaitFullView(Duration.ofSeconds(30));
        return grds;
    }

    /** masterOf + heldMode, timed in batches of 64 (a nanoTime pair costs more than one lookup). */
    private void lookups(final JsonLine json) throws Exception
    {
        log("1/3 local lookups: masterOf + this node's held mode, lock-free, 1 and 2 threads");
        try (LocalCluster cluster = LocalCluster.start(3, true, quorum, BenchThreading::smallMachine))
        {
            final List<GlobalResourceDirectory> grds = start(cluster, GrdConfig.defaults());
            try
            {
                final GlobalResourceDirectory grd = grds.get(0);
                for (int i = 0; i < 1000; i++)
                {
                    grd.acquire(ResourceId.of(1, i), LockMode.SHARED).get();
                }
                for (final int threads : new int[]{1, 2})
                {
                    final List<Double> p99 = new ArrayList<>();
                    final List<Double> rate = new ArrayList<>();
                    for (int round = 0; round < ROUNDS; round++)
                    {
                        final double[] r = lookupRun(grd, threads, ns(2));
                        p99.add(r[0]);
                        rate.add(r[1]);
                        log("  %d thread(s) round %d: p99 %.0f ns per lookup, %,.0f lookups/s", threads, round + 1,
                            r[0], r[1]);
                    }
                    json.put("lookup_p99_ns_" + threads + "t", median(p99));
                    json.put("lookups_per_s_" + threads + "t", median(rate));
                    if (threads == 1)
                    {
                        json.put("lookup_p99_ns", median(p99));
                    }
                }
            }
            finally
            {
                CloseHelper.quietCloseAll(grds);
            }
        }
    }

    private static double[] lookupRun(final GlobalResourceDirectory grd, final int threads, final long measureNs)
        throws InterruptedException
    {
        final Histogram[] histograms = new Histogram[threads];
        final long[] counts = new long[threads];
        final Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int id = t;
            histograms[t] = new Histogram(3);
            workers[t] = new Thread(() ->
            {
                final Random random = new Random(id);
                final long end = System.nanoTime() + measureNs;
                long sink = 0;
                long n = 0;
                while (System.nanoTime() < end)
                {
                    final long start = System.nanoTime();
                    for (int i = 0; i < BATCH; i++)
                    {
                        final long r = ResourceId.of(1, random.nextInt(2000));
                        sink += grd.masterOf(r) + grd.heldMode(r).ordinal();
                    }
                    histograms[id].recordValue((System.nanoTime() - start) / BATCH);
                    n += BATCH;
                }
                counts[id] = n + (sink == 42 ? 1 : 0);
            });
            workers[t].start();
        }
        final Histogram all = new Histogram(3);
        long total = 0;
        for (int t = 0; t < threads; t++)
        {
            workers[t].join();
            all.add(histograms[t]);
            total += counts[t];
        }
        return new double[]{all.getValueAtPercentile(99), total / (measureNs / 1e9)};
    }

    private void remoteGrant(final JsonLine json) throws Exception
    {
        log("2/3 remote grant round trip (acquire EXCLUSIVE + release, master on the other node) vs raw Aeron;");
        log("    each node with its own embedded driver, on the node's thread and on a SHARED driver thread");
        final boolean pinned = CpuPlacement.forBusyThreads(3).pinning();
        log("    on the node's thread: threads %s", pinned ?
            "pinned (node 1 and the caller on CPU 0, node 2 on CPU 1), nodes yield, never park" : "not pinned");
        final List<Double> grant50 = new ArrayList<>();
        final List<Double> grant99 = new ArrayList<>();
        final List<Double> shared50 = new ArrayList<>();
        final List<Double> shared99 = new ArrayList<>();
        final List<Double> raw50 = new ArrayList<>();
        final List<Double> allocCaller = new ArrayList<>();
        final List<Double> allocRequester = new ArrayList<>();
        final List<Double> allocMaster = new ArrayList<>();
        // a fresh JVM compiles the whole path during its first round (its median was 3-5x the others'): one round
        // of each threading before the measured ones, as JMH's warm-up iterations
        grantRound(true);
        grantRound(false);
        for (int round = 0; round < GRANT_ROUNDS; round++)
        {
            final double[] onNode = grantRound(true);
            final double[] sharedThread = grantRound(false);
            grant50.add(onNode[0]);
            grant99.add(onNode[1]);
            allocCaller.add(onNode[2]);
            allocRequester.add(onNode[3]);
            allocMaster.add(onNode[4]);
            shared50.add(sharedThread[0]);
            shared99.add(sharedThread[1]);
            final int[] ports = LocalCluster.freeUdpPorts(2);
            final Histogram raw = Baselines.rawAeronRtt(ns(2), ports[0], ports[1]);
            raw50.add(us(raw, 50));
            log("  round %d: grant p50 %.1f us p99 %.1f us (SHARED driver thread: p50 %.1f p99 %.1f) | raw Aeron " +
                "round trip p50 %.1f us", round + 1, onNode[0], onNode[1], sharedThread[0], sharedThread[1],
                raw50.get(round));
        }
        json.put("remote_grant_p50_us", median(grant50));
        json.put("remote_grant_p99_us", median(grant99));
        json.put("raw_rtt_p50_us", median(raw50));
        json.put("remote_grant_vs_raw_rtt", median(grant50) / median(raw50));
        json.put("remote_grant_threads_pinned", pinned);
        json.put("remote_grant_p50_us_shared_driver", median(shared50));
        json.put("remote_grant_p99_us_shared_driver", median(shared99));
        json.put("remote_grant_vs_raw_rtt_shared_driver", median(shared50) / median(raw50));
        // bytes allocated per acquire + release cycle: by the calling thread (the API's futures), and on the
        // requesting and the mastering node's threads (transport, directory agent)
        json.put("alloc_bytes_per_grant_caller", median(allocCaller));
        json.put("alloc_bytes_per_grant_requester_node", median(allocRequester));
        json.put("alloc_bytes_per_grant_master_node", median(allocMaster));
        log("  allocated per acquire + release: caller %.0f B, requesting node's thread %.0f B, master's %.0f B",
            median(allocCaller), median(allocRequester), median(allocMaster));
    }

    /**
     * One thread acquires and releases a resource the other node masters, one request in flight, waiting in
     * {@code join()} as an engine's thread would.
     *
     * @return p50 and p99 of the acquire (us), then bytes allocated per acquire + release by the caller, the
     * requesting node's thread and the master's.
     */
    private double[] grantRound(final boolean driverOnNodeThread) throws Exception
    {
        // on the node's thread: node 1 and the caller on CPU 0, node 2 on CPU 1, the nodes never parking, where
        // the machine has fewer processors than those three threads (left to the scheduler the rounds were
        // bimodal, 14 or 27 us); the SHARED-driver variant (the default threading) is left as it comes
        final CpuPlacement placement = CpuPlacement.forBusyThreads(driverOnNodeThread ? 3 : 1);
        try (LocalCluster cluster = LocalCluster.start(2, false, quorum, b -> LocalCluster.smallMachineDefaults(b)
            .idleMaxParkUs(IDLE_MAX_PARK_US).driverOnAgentThread(driverOnNodeThread)
            .idleMode(placement.pinning() ? IdleMode.YIELDING : IdleMode.BACKOFF)
            .agentThreadFactory(placement.threadsOn(b.nodeId() == 1 ? 0 : 1)));
             CpuPlacement.Pinned caller = placement.pinCurrentThread(0))
        {
            final List<GlobalResourceDirectory> grds = start(cluster, GrdConfig.builder().remastering(false).build());
            try
            {
                final GlobalResourceDirectory one = grds.get(0);
                long r = 0;
                while (one.masterOf(r) != 2)
                {
                    r++;
                }
                final Histogram h = new Histogram(3);
                final long warm = System.nanoTime() + ns(0.5);
                final long end = warm + ns(2.5);
                final long[] threads = {Thread.currentThread().getId(), threadId("fusion-node-1"),
                    threadId("fusion-node-2")};
                long[] allocatedAtWarm = null;
                long cycles = 0;
                while (System.nanoTime() < end)
                {
                    final long start = System.nanoTime();
                    if (null == allocatedAtWarm && start > warm)
                    {
                        allocatedAtWarm = ALLOCATIONS.getThreadAllocatedBytes(threads);
                    }
                    one.acquire(r, LockMode.EXCLUSIVE).join();
                    final long granted = System.nanoTime();
                    one.release(r).join();
                    if (start > warm)
                    {
                        h.recordValue(granted - start);
                        cycles++;
                    }
                }
                final long[] allocated = ALLOCATIONS.getThreadAllocatedBytes(threads);
                return new double[]{us(h, 50), us(h, 99),
                    (allocated[0] - allocatedAtWarm[0]) / (double)cycles,
                    (allocated[1] - allocatedAtWarm[1]) / (double)cycles,
                    (allocated[2] - allocatedAtWarm[2]) / (double)cycles};
            }
            finally
            {
                CloseHelper.quietCloseAll(grds);
            }
        }
    }

    private static final com.sun.management.ThreadMXBean ALLOCATIONS =
        (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();

    private static long threadId(final String name)
    {
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (t.getName().equals(name))
            {
                return t.getId();
            }
        }
        throw new IllegalStateException("no thread named " + name);
    }

    /** Each node touches its "own" object 90% of the time; the ring masters 2/3 of those elsewhere. */
    private void affinity(final JsonLine json) throws Exception
    {
        log("3/3 skewed affinity: each node mostly uses its own object, remastering off vs on");
        final List<Double> shareOff = new ArrayList<>();
        final List<Double> shareOn = new ArrayList<>();
        final List<Double> rateOff = new ArrayList<>();
        final List<Double> rateOn = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++)
        {
            for (final boolean remaster : new boolean[]{false, true})
            {
                final double[] r = affinityRun(remaster);
                (remaster ? shareOn : shareOff).add(r[0]);
                (remaster ? rateOn : rateOff).add(r[1]);
                log("  round %d remastering %-3s: remote grants %5.1f%%, %,.0f grants/s", round + 1,
                    remaster ? "on" : "off", r[0] * 100, r[1]);
            }
        }
        json.put("remote_grant_share_off", median(shareOff));
        json.put("remote_grant_share_on", median(shareOn));
        json.put("grants_per_s_off", median(rateOff));
        json.put("grants_per_s_on", median(rateOn));
        json.put("remaster_remote_grant_reduction", 1.0 - median(shareOn) / median(shareOff));
    }

    private double[] affinityRun(final boolean remaster) throws Exception
    {
        try (LocalCluster cluster = LocalCluster.start(3, true, quorum, BenchThreading::smallMachine))
        {
            final List<GlobalResourceDirectory> grds = start(cluster,
                GrdConfig.builder().remastering(remaster).remoteRequestsToRemaster(3).build());
            try
            {
                final AtomicBoolean running = new AtomicBoolean(true);
                final AtomicBoolean measuring = new AtomicBoolean();
                final AtomicLong grants = new AtomicLong();
                final List<Thread> workers = new ArrayList<>();
                for (final GlobalResourceDirectory g : grds)
                {
                    final Thread t = new Thread(() ->
                    {
                        final Random random = new Random(g.nodeId());
                        while (running.get())
                        {
                            final int object = random.nextInt(10) == 0 ? 1 + random.nextInt(3) : g.nodeId();
                            final long r = ResourceId.of(object, random.nextInt(100));
                            try
                            {
                                g.acquire(r, LockMode.EXCLUSIVE).get();
                                g.release(r).get();
                                if (measuring.get())
                                {
                                    grants.incrementAndGet();
                                }
                            }
                            catch (final Exception ex)
                            {
                                // timeouts under contention are part of the workload; counted by the directory
                            }
                        }
                    });
                    workers.add(t);
                    t.start();
                }
                Thread.sleep(ns(2) / 1_000_000);
                final long[] before = remoteAndTotal(grds);
                measuring.set(true);
                final long start = System.nanoTime();
                Thread.sleep(ns(3) / 1_000_000);
                measuring.set(false);
                final long elapsed = System.nanoTime() - start;
                final long[] after = remoteAndTotal(grds);
                running.set(false);
                for (final Thread t : workers)
                {
                    t.join();
                }
                final double share = (double)(after[0] - before[0]) / Math.max(1, after[1] - before[1]);
                return new double[]{share, grants.get() / (elapsed / 1e9)};
            }
            finally
            {
                CloseHelper.quietCloseAll(grds);
            }
        }
    }

    private static long[] remoteAndTotal(final List<GlobalResourceDirectory> grds)
    {
        long remote = 0;
        long total = 0;
        for (final GlobalResourceDirectory g : grds)
        {
            final GrdStats s = g.stats();
            remote += s.remoteGrants();
            total += s.remoteGrants() + s.localGrants();
        }
        return new long[]{remote, total};
    }
}
