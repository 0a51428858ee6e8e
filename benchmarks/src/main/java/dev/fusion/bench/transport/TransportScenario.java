package dev.fusion.bench.transport;

import dev.fusion.bench.Baselines;
import dev.fusion.bench.BenchThreading;
import dev.fusion.bench.JsonLine;
import static dev.fusion.bench.Stats.log;
import static dev.fusion.bench.Stats.median;
import static dev.fusion.bench.Stats.us;
import dev.fusion.bench.Pages;
import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.Priority;
import dev.fusion.cluster.TransportMetrics;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;

/**
 * {@code ./fusion bench transport}: Fusion's transport against its own variants and against the floors
 * (raw Aeron, plain TCP), all measured in one run on two nodes on loopback sharing one embedded media driver.
 * Prints progress, then one JSON line. Figures are medians over rounds; modes are interleaved so that drift
 * on a noisy machine hits them alike.
 */
public final class TransportScenario
{
    /** Default total run length. */
    public static final int DEFAULT_SECONDS = 120;

    private static final int SMALL = 100;
    private static final int PING = 101;
    private static final int PONG = 102;
    private static final int BLOCK = 103;
    private static final int SMALL_SIZE = 128;
    private static final int BLOCK_SIZE = 8192;
    private static final int ROUNDS = 3;
    private static final int LIGHT_RATE = 5_000;
    /**
     * Sending threads of the streaming section's extra figure: large bulk messages are compressed by the thread
     * that sends them, so a database's several shipping threads (RAC's LMS processes) add compression capacity.
     */
    private static final int BLOCK_SENDERS = 2;
    /** A producer whose queue is full backs off as an engine thread would, rather than spinning on a core. */
    private static final long BACK_OFF_NS = 20_000;
    private static final int JUMBO_MTU = 8992;
    /** The largest Aeron MTU; loopback's own MTU is 64 KiB, so one batch frame is one datagram. */
    private static final int LOOPBACK_MTU = 65504;
    /** The pinger waits for its pong as an engine thread waits for a grant: parked, not spinning on a core. */
    private static final long WAIT_NS = 5_000;
    /** Developers' switch: {@code -Dfusion.bench.only=13} runs sections 1 and 3 only. */
    private static final String ONLY = System.getProperty("fusion.bench.only", "12345");

    private final double unit;
    private Mode bestFixedMode;
    private double idleRttP50 = Double.NaN;

    /** A batching setting under test. */
    private record Mode(String name, int min, int max)
    {
        UnaryOperator<ClusterConfig.Builder> apply()
        {
            return b -> LocalCluster.smallMachineDefaults(b).batchSize(min, max).idleMaxParkUs(50);
        }
    }

    /**
     * @param seconds the whole run's target length.
     */
    public TransportScenario(final int seconds)
    {
        this.unit = seconds / 60.0;
    }

    private long ns(final double units)
    {
        return (long)(Math.max(0.3, units * unit) * 1e9);
    }

    /**
     * Runs every measurement and prints the JSON line.
     *
     * @throws Exception when a run fails.
     */
    public void run() throws Exception
    {
        final List<Mode> modes = List.of(new Mode("unbatched", 1, 1), new Mode("fixed_10", 10, 10),
            new Mode("fixed_100", 100, 100), new Mode("fixed_1000", 1000, 1000), new Mode("adaptive", 10, 1000));
        final JsonLine json = new JsonLine("transport");
        json.put("seconds", Math.round(unit * 60));

        if (ONLY.contains("1"))
        {
            heavyLoad(json, modes);
        }
        if (ONLY.contains("2"))
        {
            lightLoad(json, modes);
        }
        if (ONLY.contains("3"))
        {
            critical(json);
        }
        if (ONLY.contains("4"))
        {
            blocks(json);
        }
        if (ONLY.contains("5"))
        {
            floors(json);
        }
        json.put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(json);
    }

    private void heavyLoad(final JsonLine json, final List<Mode> modes) throws Exception
    {
        log("1/5 small (%d B) messages, heavy load: one producer as fast as it can, %d rounds", SMALL_SIZE, ROUNDS);
        final Map<String, List<Double>> heavy = new LinkedHashMap<>();
        for (int round = 1; round <= ROUNDS; round++)
        {
            for (final Mode mode : modes)
            {
                final double rate = smallThroughput(mode);
                heavy.computeIfAbsent(mode.name(), k -> new ArrayList<>()).add(rate);
                log("  round %d %-10s %,12.0f msg/s", round, mode.name(), rate);
            }
        }
        final double unbatched = median(heavy.get("unbatched"));
        final double adaptive = median(heavy.get("adaptive"));
        String bestFixed = null;
        for (final Mode mode : modes)
        {
            if (mode.name().startsWith("fixed") &&
                (bestFixed == null || median(heavy.get(mode.name())) > median(heavy.get(bestFixed))))
            {
                bestFixed = mode.name();
            }
        }
        final double tcpRate = Baselines.tcpSmallMessageRate(ns(0.5), ns(2));
        log("  plain TCP, one write per message: %,.0f msg/s", tcpRate);
        heavy.forEach((name, rates) -> json.put(name + "_msgs_per_s", median(rates)));
        json.put("adaptive_vs_unbatched", adaptive / unbatched);
        json.put("best_fixed", bestFixed);
        json.put("adaptive_vs_best_fixed", adaptive / median(heavy.get(bestFixed)));
        json.put("tcp_small_msgs_per_s", tcpRate);
        json.put("adaptive_vs_tcp", adaptive / tcpRate);
        bestFixedMode = byName(modes, bestFixed);
    }

    private void lightLoad(final JsonLine json, final List<Mode> modes) throws Exception
    {

        log("2/5 small messages, light load (%d msg/s, paced): send() to handler latency", LIGHT_RATE);
        final Map<String, List<Double>> lightP99 = new LinkedHashMap<>();
        final Map<String, List<Double>> lightP50 = new LinkedHashMap<>();
        final List<Mode> lightModes = List.of(modes.get(0), modes.get(4),
            null != bestFixedMode ? bestFixedMode : modes.get(3));
        for (int round = 1; round <= ROUNDS; round++)
        {
            for (final Mode mode : lightModes)
            {
                final Histogram h = lightLatency(mode);
                lightP99.computeIfAbsent(mode.name(), k -> new ArrayList<>()).add(us(h, 99));
                lightP50.computeIfAbsent(mode.name(), k -> new ArrayList<>()).add(us(h, 50));
                log("  round %d %-10s p50 %7.1f us  p99 %7.1f us", round, mode.name(), us(h, 50), us(h, 99));
            }
        }
        lightP99.forEach((name, v) -> json.put("light_p99_us_" + name, median(v)));
        lightP50.forEach((name, v) -> json.put("light_p50_us_" + name, median(v)));
        json.put("light_p99_adaptive_vs_unbatched", median(lightP99.get("adaptive")) / median(lightP99.get("unbatched")));
    }

    private void critical(final JsonLine json) throws Exception
    {

        log("3/5 CRITICAL ping-pong round trip, idle and under a saturating 8 KiB bulk stream");
        // the threading recommended for this machine first (its figures carry the plain keys), then the other one
        final boolean defaultOnNodeThread = ClusterConfig.fewCores();
        for (final boolean invoker : new boolean[]{defaultOnNodeThread, !defaultOnNodeThread})
        {
            final String suffix = invoker == defaultOnNodeThread ? "" : invoker ? "_invoker" : "_shared_driver";
            log("  threading: %s%s", invoker ?
                "driver and client conductor on each node's thread (INVOKER), one driver per node" :
                "one SHARED-mode embedded driver thread for both nodes",
                invoker == defaultOnNodeThread ? " (driverOnAgentThread=auto on this machine)" : "");
            final List<Double> idle50 = new ArrayList<>();
            final List<Double> idle99 = new ArrayList<>();
            final List<Double> idle999 = new ArrayList<>();
            final List<Double> loaded50 = new ArrayList<>();
            final List<Double> loaded99 = new ArrayList<>();
            final List<Double> loaded999 = new ArrayList<>();
            for (int round = 1; round <= ROUNDS; round++)
            {
                final Histogram idle = criticalRtt(false, invoker);
                final Histogram loaded = criticalRtt(true, invoker);
                idle50.add(us(idle, 50));
                idle99.add(us(idle, 99));
                idle999.add(us(idle, 99.9));
                loaded50.add(us(loaded, 50));
                loaded99.add(us(loaded, 99));
                loaded999.add(us(loaded, 99.9));
                log("  round %d idle p50 %6.1f p99 %7.1f p99.9 %7.1f us | loaded p50 %6.1f p99 %7.1f p99.9 %7.1f us",
                    round, us(idle, 50), us(idle, 99), us(idle, 99.9), us(loaded, 50), us(loaded, 99),
                    us(loaded, 99.9));
            }
            json.put("critical_rtt_p50_us_idle" + suffix, median(idle50));
            json.put("critical_rtt_p99_us_idle" + suffix, median(idle99));
            json.put("critical_rtt_p999_us_idle" + suffix, median(idle999));
            json.put("critical_rtt_p50_us_loaded" + suffix, median(loaded50));
            json.put("critical_rtt_p99_us_loaded" + suffix, median(loaded99));
            json.put("critical_rtt_p999_us_loaded" + suffix, median(loaded999));
            json.put("critical_p99_loaded_vs_idle" + suffix, median(loaded99) / median(idle99));
            if (invoker == defaultOnNodeThread)
            {
                idleRttP50 = median(idle50);
            }
        }
    }

    private void blocks(final JsonLine json) throws Exception
    {

        log("4/5 8 KiB page streaming (realistic rows) from one sending thread, compression off and on, MTU 1408, " +
            "jumbo %d and loopback %d; and from %d sending threads at %d", JUMBO_MTU, LOOPBACK_MTU, BLOCK_SENDERS,
            LOOPBACK_MTU);
        final Map<String, List<Double>> blocks = new LinkedHashMap<>();
        final List<Double> ratio = new ArrayList<>();
        for (int round = 1; round <= ROUNDS; round++)
        {
            for (final int mtu : new int[]{1408, JUMBO_MTU, LOOPBACK_MTU})
            {
                final double[] raw = blockStream(false, mtu, 1);
                final double[] lz4 = blockStream(true, mtu, 1);
                blocks.computeIfAbsent("off_" + mtu, k -> new ArrayList<>()).add(raw[0]);
                blocks.computeIfAbsent("on_" + mtu, k -> new ArrayList<>()).add(lz4[0]);
                ratio.add(lz4[1]);
                log("  round %d mtu %5d off %7.1f MB/s | on %7.1f MB/s (wire %.2fx smaller)",
                    round, mtu, raw[0], lz4[0], lz4[1]);
            }
            final double[] several = blockStream(true, LOOPBACK_MTU, BLOCK_SENDERS);
            blocks.computeIfAbsent("senders", k -> new ArrayList<>()).add(several[0]);
            log("  round %d mtu %5d on, %d sending threads %7.1f MB/s", round, LOOPBACK_MTU, BLOCK_SENDERS,
                several[0]);
        }
        json.put("block_mb_per_s", median(blocks.get("on_" + LOOPBACK_MTU)));
        json.put("block_mb_per_s_uncompressed", median(blocks.get("off_" + LOOPBACK_MTU)));
        json.put("block_mtu", LOOPBACK_MTU);
        for (final int mtu : new int[]{1408, JUMBO_MTU})
        {
            json.put("block_mb_per_s_mtu" + mtu, median(blocks.get("on_" + mtu)));
            json.put("block_mb_per_s_uncompressed_mtu" + mtu, median(blocks.get("off_" + mtu)));
        }
        json.put("block_compression_ratio", median(ratio));
        json.put("block_senders_extra", BLOCK_SENDERS);
        json.put("block_mb_per_s_" + BLOCK_SENDERS + "_senders", median(blocks.get("senders")));
    }

    private void floors(final JsonLine json) throws Exception
    {

        log("5/5 floors: raw Aeron UDP ping-pong and NIO TCP ping-pong, 32 B");
        final int[] ports = LocalCluster.freeUdpPorts(2);
        final Histogram raw = Baselines.rawAeronRtt(ns(3), ports[0], ports[1]);
        final Histogram tcp = Baselines.tcpRtt(ns(3));
        log("  raw Aeron p50 %.1f us p99 %.1f us | TCP p50 %.1f us p99 %.1f us",
            us(raw, 50), us(raw, 99), us(tcp, 50), us(tcp, 99));
        json.put("raw_rtt_p50_us", us(raw, 50));
        json.put("raw_rtt_p99_us", us(raw, 99));
        json.put("tcp_rtt_p50_us", us(tcp, 50));
        json.put("critical_rtt_p50_vs_raw", idleRttP50 / us(raw, 50));
    }

    private static Mode byName(final List<Mode> modes, final String name)
    {
        return modes.stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    private double smallThroughput(final Mode mode) throws InterruptedException
    {
        final AtomicLong received = new AtomicLong();
        try (LocalCluster cluster = LocalCluster.start(2, true, b -> BenchThreading.recommended(mode.apply().apply(b))))
        {
            cluster.node(2).registerHandler(SMALL, (s, t, b, o, l) -> received.lazySet(received.get() + 1));
            cluster.awaitFullView(Duration.ofSeconds(30));
            return deliveredPerSecond(cluster.node(1), SMALL, new UnsafeBuffer[]{new UnsafeBuffer(new byte[SMALL_SIZE])},
                received, 1.5, 1);
        }
    }

    /**
     * Producers send the payloads round-robin as fast as the sender's queue takes them (parking briefly when it
     * is full); after a warm-up, counts what the receiver's handler saw.
     *
     * @param senders how many producer threads.
     * @return messages delivered per second.
     */
    private double deliveredPerSecond(final ClusterNode sender, final int type, final UnsafeBuffer[] payloads,
        final AtomicLong received, final double measureUnits, final int senders) throws InterruptedException
    {
        final AtomicBoolean running = new AtomicBoolean(true);
        final Thread[] producers = new Thread[senders];
        for (int p = 0; p < senders; p++)
        {
            final int first = p;
            producers[p] = new Thread(() ->
            {
                int i = first;
                while (running.get())
                {
                    final UnsafeBuffer payload = payloads[i % payloads.length];
                    if (sender.send(2, type, Priority.NORMAL, payload, 0, payload.capacity()))
                    {
                        i++;
                    }
                    else
                    {
                        LockSupport.parkNanos(BACK_OFF_NS);
                    }
                }
            }, "producer-" + p);
            producers[p].start();
        }
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(ns(0.5)));
        final long r0 = received.get();
        final long t0 = System.nanoTime();
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(ns(measureUnits)));
        final long r1 = received.get();
        final long t1 = System.nanoTime();
        running.set(false);
        for (final Thread t : producers)
        {
            t.join();
        }
        return (r1 - r0) / ((t1 - t0) / 1e9);
    }

    private Histogram lightLatency(final Mode mode) throws InterruptedException
    {
        final Recorder latency = new Recorder(3);
        try (LocalCluster cluster = LocalCluster.start(2, true, b -> BenchThreading.recommended(mode.apply().apply(b))))
        {
            cluster.node(2).registerHandler(SMALL, (s, t, b, o, l) ->
                latency.recordValue(Math.max(0, System.nanoTime() - b.getLong(o, ByteOrder.LITTLE_ENDIAN))));
            cluster.awaitFullView(Duration.ofSeconds(30));
            final ClusterNode sender = cluster.node(1);
            final UnsafeBuffer message = new UnsafeBuffer(new byte[SMALL_SIZE]);
            final long intervalNs = 1_000_000_000L / LIGHT_RATE;
            final long warmupEnd = System.nanoTime() + ns(0.3);
            final long end = warmupEnd + ns(3.0); // 30,000 latencies a round by default: a steadier p99
            long next = System.nanoTime();
            boolean warm = false;
            while (System.nanoTime() < end)
            {
                if (!warm && System.nanoTime() >= warmupEnd)
                {
                    latency.reset();
                    warm = true;
                }
                message.putLong(0, System.nanoTime(), ByteOrder.LITTLE_ENDIAN);
                sender.send(2, SMALL, Priority.NORMAL, message, 0, SMALL_SIZE);
                next += intervalNs;
                LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
            }
            Thread.sleep(50);
            return latency.getIntervalHistogram();
        }
    }

    private Histogram criticalRtt(final boolean loaded, final boolean driverOnAgentThread) throws InterruptedException
    {
        final Histogram rtt = new Histogram(3);
        final AtomicLong lastPong = new AtomicLong(-1);
        final Mode adaptive = new Mode("adaptive", 10, 1000);
        try (LocalCluster cluster = LocalCluster.start(2, !driverOnAgentThread,
            b -> adaptive.apply().apply(b).driverOnAgentThread(driverOnAgentThread)))
        {
            final ClusterNode one = cluster.node(1);
            final ClusterNode two = cluster.node(2);
            final UnsafeBuffer pong = new UnsafeBuffer(new byte[16]);
            two.registerHandler(PING, (source, type, buffer, offset, length) ->
            {
                pong.putBytes(0, buffer, offset, 16);
                two.send(source, PONG, Priority.CRITICAL, pong, 0, 16);
            });
            two.registerHandler(BLOCK, (s, t, b, o, l) -> { });
            one.registerHandler(PONG, (s, t, b, o, l) -> lastPong.lazySet(b.getLong(o, ByteOrder.LITTLE_ENDIAN)));
            cluster.awaitFullView(Duration.ofSeconds(30));
            final AtomicBoolean running = new AtomicBoolean(true);
            Thread bulk = null;
            if (loaded)
            {
                bulk = new Thread(() ->
                {
                    final UnsafeBuffer page = new UnsafeBuffer(Pages.realistic(BLOCK_SIZE, 7));
                    while (running.get())
                    {
                        if (!one.send(2, BLOCK, Priority.NORMAL, page, 0, BLOCK_SIZE))
                        {
                            LockSupport.parkNanos(BACK_OFF_NS);
                        }
                    }
                }, "bulk-producer");
                bulk.start();
                Thread.sleep(200);
            }
            final UnsafeBuffer ping = new UnsafeBuffer(new byte[16]);
            final long warmupEnd = System.nanoTime() + ns(0.5);
            final long end = warmupEnd + ns(2.5);
            for (long seq = 0; System.nanoTime() < end; seq++)
            {
                final long start = System.nanoTime();
                ping.putLong(0, seq, ByteOrder.LITTLE_ENDIAN);
                ping.putLong(8, start, ByteOrder.LITTLE_ENDIAN);
                while (!one.send(2, PING, Priority.CRITICAL, ping, 0, 16))
                {
                    Thread.yield();
                }
                final long deadline = start + TimeUnit.SECONDS.toNanos(1);
                while (lastPong.get() < seq && System.nanoTime() < deadline)
                {
                    LockSupport.parkNanos(WAIT_NS);
                }
                if (start > warmupEnd)
                {
                    rtt.recordValue(System.nanoTime() - start);
                }
            }
            running.set(false);
            if (null != bulk)
            {
                bulk.join();
            }
        }
        return rtt;
    }

    /** @return MB/s of page payload delivered, and raw/wire bytes. */
    private double[] blockStream(final boolean compression, final int mtu, final int senders)
        throws InterruptedException
    {
        final AtomicLong received = new AtomicLong();
        try (LocalCluster cluster = LocalCluster.start(2, true, b -> BenchThreading.recommended(b)
            .compressionThreshold(compression ? 4096 : 0).compressIdleLink(compression).mtu(mtu).idleMaxParkUs(50)
            .controlTermLength(1 << 20).bulkTermLength(8 << 20).bulkQueueBytes(4 << 20).maxBatchBytes(64 << 10)))
        {
            cluster.node(2).registerHandler(BLOCK, (s, t, b, o, l) -> received.lazySet(received.get() + 1));
            cluster.awaitFullView(Duration.ofSeconds(30));
            final UnsafeBuffer[] pages = new UnsafeBuffer[64];
            for (int i = 0; i < pages.length; i++)
            {
                pages[i] = new UnsafeBuffer(Pages.realistic(BLOCK_SIZE, i));
            }
            final ClusterNode sender = cluster.node(1);
            final double pagesPerSecond = deliveredPerSecond(sender, BLOCK, pages, received, 2, senders);
            final TransportMetrics m = sender.metrics();
            final double wireRatio = (double)m.counter("bytes_sent_raw") / Math.max(1, m.counter("bytes_sent_wire"));
            return new double[]{pagesPerSecond * BLOCK_SIZE / 1e6, wireRatio};
        }
    }
}
