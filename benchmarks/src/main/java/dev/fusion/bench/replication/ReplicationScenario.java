package dev.fusion.bench.replication;

import dev.fusion.bench.JsonLine;
import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.KeyRef;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.Subscriber;
import dev.fusion.replication.Transaction;
import org.HdrHistogram.Histogram;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

import static dev.fusion.bench.Stats.log;
import static dev.fusion.bench.Stats.median;

/**
 * {@code ./fusion bench replication}: parallel apply on the dependency graph against serial apply of the same
 * transactions, measured in one run: I/O-bound speedup by worker count, the effect of conflicts, CPU-bound
 * throughput, and submit-to-commit latency at half the measured maximum rate. Every parallel run's final state
 * is compared with serial apply's. Streaming (publisher to subscriber) is not part of it yet.
 */
public final class ReplicationScenario
{
    /** Default run length. */
    public static final int DEFAULT_SECONDS = 60;
    private static final long IO_DELAY_NS = 200_000;
    private static final int ROUNDS = 3;

    private final double unit;
    private boolean identical = true;

    /**
     * @param seconds target run length.
     */
    public ReplicationScenario(final int seconds)
    {
        this(seconds, false);
    }

    private final boolean plot;

    /** One sampling interval of the plotted run. */
    record Sample(double seconds, double publishedPerS, double appliedPerS, long timeLagMs, long lagTransactions)
    {
    }

    /**
     * @param seconds target run length.
     * @param plot    also run a ramped stream watched by the lag monitor and write its chart into docs/.
     */
    public ReplicationScenario(final int seconds, final boolean plot)
    {
        this.plot = plot;
        this.unit = seconds / 60.0;
    }

    /**
     * @throws Exception when a run fails.
     */
    public void run() throws Exception
    {
        final JsonLine json = new JsonLine("replication");
        json.put("seconds", Math.round(unit * 60));
        final int ioTxns = Math.max(500, (int)(4000 * unit));
        log("1/5 I/O-bound apply (%d us wait per transaction), low conflict, %d transactions per run",
            IO_DELAY_NS / 1000, ioTxns);
        final List<Transaction> lowConflict = transactions(ioTxns, 0.0, 1);
        final Map<String, String> expected = serial(lowConflict);
        final Map<Integer, List<Double>> seconds = new java.util.TreeMap<>();
        for (int round = 0; round < ROUNDS; round++)
        {
            for (final int workers : new int[]{1, 2, 4, 8, 16})
            {
                seconds.computeIfAbsent(workers, k -> new ArrayList<>())
                    .add(parallel(lowConflict, workers, IO_DELAY_NS, expected));
            }
        }
        final double one = median(seconds.get(1));
        seconds.forEach((workers, s) ->
        {
            final double speedup = one / median(s);
            log("  %2d workers: %6.2f s, speedup %5.2fx (%.2f x N)", workers, median(s), speedup, speedup / workers);
            json.put("speedup_" + workers + "_workers", speedup);
        });

        log("2/5 the same with conflicts: share of transactions touching one hot row, 8 workers");
        for (final double conflict : new double[]{0.0, 0.1, 0.5, 1.0})
        {
            final List<Transaction> txns = transactions(ioTxns, conflict, 2);
            final Map<String, String> serialState = serial(txns);
            final List<Double> runs = new ArrayList<>();
            final List<Double> singles = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++)
            {
                singles.add(parallel(txns, 1, IO_DELAY_NS, serialState));
                runs.add(parallel(txns, 8, IO_DELAY_NS, serialState));
            }
            final double speedup = median(singles) / median(runs);
            log("  %3.0f%% conflicting: speedup %5.2fx with 8 workers", conflict * 100, speedup);
            json.put("speedup_8_workers_conflict_" + Math.round(conflict * 100), speedup);
        }

        cpuBound(json);

        log("4/5 submit-to-commit latency at half the maximum I/O-bound rate, 8 workers");
        final double maxRate = ioTxns / median(seconds.get(8));
        final Histogram latency = paced(lowConflict, 8, maxRate / 2);
        log("  at %,.0f txn/s: p50 %.2f ms p99 %.2f ms", maxRate / 2, latency.getValueAtPercentile(50) / 1e6,
            latency.getValueAtPercentile(99) / 1e6);
        json.put("apply_latency_p50_ms_half_load", latency.getValueAtPercentile(50) / 1e6);
        json.put("apply_latency_p99_ms_half_load", latency.getValueAtPercentile(99) / 1e6);

        log("5/5 end to end: publisher -> log -> cluster-core -> subscriber -> 8 workers");
        final int streamTxns = Math.max(4000, (int)(20_000 * unit));
        final List<Transaction> stream = transactions(streamTxns, 0.0, 5);
        final List<Double> maxRates = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++)
        {
            maxRates.add(streamTxns / streamed(stream, 0, new Histogram(3)));
        }
        final double maxStreamRate = median(maxRates);
        log("  maximum streamed rate %,.0f txn/s; now at half of it", maxStreamRate);
        final Histogram lag = new Histogram(3);
        streamed(stream, maxStreamRate / 2, lag);
        json.put("max_streamed_txn_per_s", maxStreamRate);
        log("  commit-to-apply p50 %.2f ms p99 %.2f ms p99.9 %.2f ms", lag.getValueAtPercentile(50) / 1e6,
            lag.getValueAtPercentile(99) / 1e6, lag.getValueAtPercentile(99.9) / 1e6);
        json.put("lag_p50_ms_half_load", lag.getValueAtPercentile(50) / 1e6);
        json.put("lag_p99_ms_half_load", lag.getValueAtPercentile(99) / 1e6);
        if (plot)
        {
            log("6/6 (--plot) a stream ramped to 25%%, 50%%, 100%% and 150%% of the maximum, watched by the lag " +
                "monitor every 100 ms");
            final List<Sample> samples = ramped(stream, maxStreamRate);
            final java.nio.file.Path png = java.nio.file.Path.of("docs", "replication-lag.png");
            LagPlot.write(samples, png, String.format(java.util.Locale.ROOT,
                "Replication: published and applied rate, time lag (8 workers, %.0f txn/s max)", maxStreamRate));
            long maxLag = 0;
            for (final Sample s : samples)
            {
                maxLag = Math.max(maxLag, s.timeLagMs());
            }
            log("  wrote %s (%d samples, max time lag %d ms)", png.toAbsolutePath(), samples.size(), maxLag);
            json.put("plot", png.toString());
            json.put("plot_max_time_lag_ms", maxLag);
        }
        json.put("identical_to_serial", identical);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(json);
    }

    /** In a method of its own, so its 400K transactions are garbage before the latency sections run. */
    private void cpuBound(final JsonLine json) throws Exception
    {
        log("3/5 CPU-bound apply into memory (no wait), small transactions");
        final int cpuTxns = Math.max(50_000, (int)(400_000 * unit));
        final List<Transaction> cpu = transactions(cpuTxns, 0.0, 3);
        final Map<String, String> cpuExpected = serial(cpu);
        final List<Double> serialRates = new ArrayList<>();
        final List<Double> parallelRates = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++)
        {
            final long start = System.nanoTime();
            serial(cpu);
            serialRates.add(cpuTxns / ((System.nanoTime() - start) / 1e9));
            parallelRates.add(cpuTxns / parallel(cpu, 2, 0, cpuExpected));
        }
        log("  serial %,.0f txn/s | parallel (2 workers + coordinator) %,.0f txn/s", median(serialRates),
            median(parallelRates));
        json.put("serial_txn_per_s", median(serialRates));
        json.put("cpu_bound_txn_per_s", median(parallelRates));

    }

    /** Streams through a publisher and a subscriber on two loopback nodes; measures publish to commit. */
    /** @return seconds from the first publish to the last commit on the subscriber. */
    private double streamed(final List<Transaction> txns, final double rate, final Histogram h) throws Exception
    {
        final double elapsed;
        final Map<Long, Long> published = new ConcurrentHashMap<>();
        final long warmedUp = txns.get(txns.size() / 5).position();
        final KeyValueEngine engine = new KeyValueEngine(IO_DELAY_NS)
        {
            @Override
            public void commit(final Transaction txn)
            {
                final Long at = published.remove(txn.position());
                if (null != at && txn.position() > warmedUp)
                {
                    h.recordValue(System.nanoTime() - at);
                }
            }
        };
        final java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("fusion-bench-log");
        final long intervalNs = rate > 0 ? (long)(1e9 / rate) : 0;
        try (dev.fusion.cluster.LocalCluster cluster = dev.fusion.cluster.LocalCluster.start(2, true,
                dev.fusion.bench.BenchThreading::smallMachine);
             ReplicationLog log = ReplicationLog.open(dir, 64 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 4096);
             ParallelApplier applier = new ParallelApplier(engine, 8, true, 256, 1_000_000, 0);
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 4096))
        {
            cluster.awaitFullView(java.time.Duration.ofSeconds(30));
            final long start = System.nanoTime();
            long next = start;
            for (final Transaction t : txns)
            {
                if (intervalNs > 0)
                {
                    LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
                }
                published.put(t.position(), System.nanoTime());
                publisher.publish(t);
                next += intervalNs;
            }
            if (!applier.awaitWatermark(txns.get(txns.size() - 1).position(), 120_000))
            {
                throw new IllegalStateException("the subscriber did not catch up: " + applier.failure());
            }
            elapsed = (System.nanoTime() - start) / 1e9;
            log("    (%s: %.2f s, gaps %d, dropped %d)", rate > 0 ? "paced" : "unpaced", elapsed, subscriber.gaps(),
                subscriber.dropped());
        }
        finally
        {
            org.agrona.IoUtil.delete(dir.toFile(), true);
        }
        return elapsed;
    }

    /** Streams at 25%, 50%, 100% and 150% of {@code maxRate}, as long at each rate, sampling the lag. */
    private List<Sample> ramped(final List<Transaction> base, final double maxRate) throws Exception
    {
        final int total = Math.max(8000, (int)(maxRate * 12 * unit));
        final List<Transaction> txns = new ArrayList<>(total);
        final long now = System.currentTimeMillis();
        for (int i = 0; i < total; i++)
        {
            final Transaction t = base.get(i % base.size());
            txns.add(new Transaction(t.origin(), i + 1, now, t.changes()));
        }
        final List<Sample> samples = new java.util.concurrent.CopyOnWriteArrayList<>();
        final java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("fusion-bench-plot");
        final KeyValueEngine engine = new KeyValueEngine(IO_DELAY_NS);
        try (dev.fusion.cluster.LocalCluster cluster = dev.fusion.cluster.LocalCluster.start(2, true,
                dev.fusion.bench.BenchThreading::smallMachine);
             ReplicationLog log = ReplicationLog.open(dir, 64 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 4096);
             ParallelApplier applier = new ParallelApplier(engine, 8, true, 256, 1_000_000, 0);
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 4096);
             dev.fusion.replication.monitor.LagMonitor monitor = dev.fusion.replication.monitor.LagMonitor.start(
                 dev.fusion.replication.monitor.LagThresholds.defaults(), java.time.Duration.ofMillis(100)))
        {
            cluster.awaitFullView(java.time.Duration.ofSeconds(30));
            monitor.track(subscriber).publisher(publisher);
            final long start = System.nanoTime();
            final java.util.concurrent.atomic.AtomicLong published = new java.util.concurrent.atomic.AtomicLong();
            final java.util.concurrent.ScheduledExecutorService sampler =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
            final long[] last = {0, 0};
            sampler.scheduleAtFixedRate(() ->
            {
                final List<dev.fusion.replication.monitor.SubscriberLag> lags = monitor.subscribers();
                if (lags.isEmpty())
                {
                    return;
                }
                final dev.fusion.replication.monitor.SubscriberLag l = lags.get(0);
                final long p = published.get();
                final long a = applier.applied();
                samples.add(new Sample((System.nanoTime() - start) / 1e9, (p - last[0]) * 10.0, (a - last[1]) * 10.0,
                    l.timeLagMs(), Math.max(0, p - l.appliedPosition())));
                last[0] = p;
                last[1] = a;
            }, 100, 100, java.util.concurrent.TimeUnit.MILLISECONDS);
            try
            {
                final double[] shares = {0.25, 0.5, 1.0, 1.5};
                final double sum = 3.25;
                int i = 0;
                int end = 0;
                long next = System.nanoTime();
                for (int phase = 0; phase < shares.length; phase++)
                {
                    final long interval = (long)(1e9 / (maxRate * shares[phase]));
                    end = phase == shares.length - 1 ? txns.size() : end + (int)(txns.size() * shares[phase] / sum);
                    for (; i < end; i++)
                    {
                        LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
                        final Transaction t = txns.get(i);
                        publisher.publish(new Transaction(t.origin(), t.position(), System.currentTimeMillis(),
                            t.changes()));
                        published.incrementAndGet();
                        next += interval;
                    }
                }
                if (!applier.awaitWatermark(txns.size(), 120_000))
                {
                    throw new IllegalStateException("the subscriber did not catch up: " + applier.failure());
                }
                Thread.sleep(500);
            }
            finally
            {
                sampler.shutdownNow();
            }
        }
        finally
        {
            org.agrona.IoUtil.delete(dir.toFile(), true);
        }
        return samples;
    }

    /** Transactions of 1-3 row updates; {@code conflict} of them also update the row "hot". */
    private static List<Transaction> transactions(final int count, final double conflict, final long seed)
    {
        final Random random = new Random(seed);
        final List<Transaction> txns = new ArrayList<>(count);
        for (int i = 1; i <= count; i++)
        {
            final List<Change> changes = new ArrayList<>();
            final int n = 1 + random.nextInt(3);
            for (int c = 0; c < n; c++)
            {
                changes.add(update("k" + random.nextInt(1_000_000), "v" + i + "." + c));
            }
            if (random.nextDouble() < conflict)
            {
                changes.add(update("hot", "v" + i));
            }
            txns.add(new Transaction(1, i, System.currentTimeMillis(), changes));
        }
        return txns;
    }

    private static Change update(final String key, final String value)
    {
        return new Change("t", new KeyRef("t", key.getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.UPDATE,
            null, value.getBytes(StandardCharsets.UTF_8));
    }

    private static Map<String, String> serial(final List<Transaction> txns)
    {
        final KeyValueEngine engine = new KeyValueEngine(0);
        for (final Transaction t : txns)
        {
            engine.apply(t);
        }
        return engine.snapshot();
    }

    /** @return seconds to apply all. */
    private double parallel(final List<Transaction> txns, final int workers, final long delayNs,
        final Map<String, String> expected) throws Exception
    {
        final KeyValueEngine engine = new KeyValueEngine(delayNs);
        final long start = System.nanoTime();
        try (ParallelApplier applier = new ParallelApplier(engine, workers, true, 256, 1_000_000, 0))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            if (!applier.awaitWatermark(txns.get(txns.size() - 1).position(), 600_000))
            {
                throw new IllegalStateException("apply did not finish: " + applier.failure());
            }
        }
        final double elapsed = (System.nanoTime() - start) / 1e9;
        if (!engine.snapshot().equals(expected))
        {
            identical = false;
            log("  DIFFERENT from serial apply with %d workers", workers);
        }
        return elapsed;
    }

    private Histogram paced(final List<Transaction> txns, final int workers, final double rate) throws Exception
    {
        final Histogram h = new Histogram(3);
        final Map<Long, Long> submitted = new ConcurrentHashMap<>();
        final KeyValueEngine engine = new KeyValueEngine(IO_DELAY_NS)
        {
            @Override
            public void commit(final Transaction txn)
            {
                final Long at = submitted.remove(txn.position());
                if (null != at)
                {
                    h.recordValue(System.nanoTime() - at);
                }
            }
        };
        final long intervalNs = (long)(1e9 / rate);
        try (ParallelApplier applier = new ParallelApplier(engine, workers, true, 256, 1_000_000, 0))
        {
            long next = System.nanoTime();
            for (final Transaction t : txns)
            {
                LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
                submitted.put(t.position(), System.nanoTime());
                applier.submit(t);
                next += intervalNs;
            }
            applier.awaitWatermark(txns.get(txns.size() - 1).position(), 600_000);
        }
        return h;
    }
}
