package dev.fusion.bench;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.Priority;
import dev.fusion.cluster.TransportMetrics;
import dev.fusion.grd.GlobalResourceDirectory;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.GrdStats;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.RecoveryHandler;
import dev.fusion.grd.ResourceId;
import org.agrona.CloseHelper;
import org.HdrHistogram.Recorder;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code ./fusion demo}: three nodes on loopback, each with an embedded media driver and a global resource
 * directory. Each node takes and releases EXCLUSIVE locks, mostly on blocks of "its own" table, which the
 * consistent-hash ring masters mostly elsewhere, so mastership moves towards the users as it runs; beside that,
 * it sends lock-sized HIGH messages, 8 KiB page images on NORMAL (LZ4 compressed), LOW statistics and CRITICAL
 * pings. Every second it prints what each node does; two thirds in, node 3 is stopped, the survivors fence it
 * in a new membership epoch and rebuild the directory; it ends with a summary table.
 */
final class Demo
{
    static final int DEFAULT_SECONDS = 30;
    private static final int LOCK = 100;
    private static final int PAGE = 101;
    private static final int STATS = 102;
    private static final int PING = 103;
    private static final int PONG = 104;

    private final int seconds;
    private final Recorder rtt = new Recorder(3);
    private final List<String> events = new ArrayList<>();
    private final List<GlobalResourceDirectory> grds = new ArrayList<>();
    private volatile boolean running = true;
    private volatile boolean stopped3;

    private Demo(final int seconds)
    {
        this.seconds = seconds;
    }

    static void run(final Options options) throws InterruptedException
    {
        new Demo(options.seconds(DEFAULT_SECONDS)).go();
    }

    private void go() throws InterruptedException
    {
        final List<Thread> drivers = new ArrayList<>();
        System.out.printf("Fusion demo: 3 nodes on loopback, embedded Aeron media drivers, %d s%n", seconds);
        System.out.println("  transport: HIGH lock messages, NORMAL 8 KiB pages (LZ4), LOW stats, CRITICAL pings");
        System.out.println("  directory: each node locks blocks of its own table; watch remote grants fall as " +
            "mastership moves");
        try (LocalCluster cluster = LocalCluster.start(3, LocalCluster::smallMachineDefaults))
        {
            final long start = System.nanoTime();
            for (final ClusterNode node : cluster.nodes())
            {
                wire(node, start);
            }
            for (final ClusterNode node : cluster.nodes())
            {
                grds.add(GlobalResourceDirectory.start(node, GrdConfig.defaults(), RecoveryHandler.NONE));
            }
            cluster.awaitFullView(Duration.ofSeconds(30));
            event(start, "all 3 nodes see each other (epoch " + cluster.node(1).view().epoch() + ")");
            for (final GlobalResourceDirectory grd : grds)
            {
                final Thread t = new Thread(() -> lock(grd), "demo-locks-" + grd.nodeId());
                t.setDaemon(true);
                t.start();
                drivers.add(t);
            }
            for (final ClusterNode node : cluster.nodes())
            {
                final Thread t = new Thread(() -> drive(node), "demo-traffic-" + node.nodeId());
                t.setDaemon(true);
                t.start();
                drivers.add(t);
            }
            System.out.println(" time  node  view(epoch:members)   HIGH msg/s  NORMAL MB/s  LOW msg/s  batch  lz4   " +
                "ping p99 us   locks/s  remote  mastered-in");
            final int killAt = Math.max(2, seconds * 2 / 3);
            boolean killed = false;
            final TransportMetrics[] last = new TransportMetrics[3];
            final GrdStats[] lastGrd = new GrdStats[3];
            for (int s = 1; s <= seconds; s++)
            {
                Thread.sleep(1000);
                if (!killed && s >= killAt)
                {
                    event(start, "stopping node 3 (no more heartbeats from it)");
                    stopped3 = true;
                    drivers.get(2).join(2000);
                    drivers.get(5).join(2000);
                    grds.get(2).close();
                    cluster.stop(3);
                    killed = true;
                }
                final double p99 = rtt.getIntervalHistogram().getValueAtPercentile(99) / 1000.0;
                for (int id = 1; id <= 3; id++)
                {
                    if (killed && id == 3)
                    {
                        continue;
                    }
                    final ClusterNode node = cluster.node(id);
                    final TransportMetrics m = node.metrics();
                    final GrdStats g = grds.get(id - 1).stats();
                    System.out.println(row(s, node, m, last[id - 1], p99) + grdColumns(g, lastGrd[id - 1]));
                    last[id - 1] = m;
                    lastGrd[id - 1] = g;
                }
            }
            running = false;
            for (final Thread t : drivers)
            {
                t.join(2000);
            }
            summary(cluster, killed);
        }
        finally
        {
            CloseHelper.quietCloseAll(grds);
        }
    }

    private void wire(final ClusterNode node, final long start)
    {
        final UnsafeBuffer pong = new UnsafeBuffer(new byte[8]);
        node.registerHandler(LOCK, (s, t, b, o, l) -> { });
        node.registerHandler(PAGE, (s, t, b, o, l) -> { });
        node.registerHandler(STATS, (s, t, b, o, l) -> { });
        node.registerHandler(PING, (source, type, buffer, offset, length) ->
        {
            pong.putLong(0, buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN), ByteOrder.LITTLE_ENDIAN);
            node.send(source, PONG, Priority.CRITICAL, pong, 0, 8);
        });
        node.registerHandler(PONG, (source, type, buffer, offset, length) ->
            rtt.recordValue(Math.max(0, System.nanoTime() - buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN))));
        node.addMembershipListener((previous, current) -> event(start, "node " + node.nodeId() +
            " moves to epoch " + current.epoch() + ", members " + current.members() + " " + current.states()));
    }

    /** A steady mix: 2000 lock messages, 200 page images, 20 statistics and 20 pings a second to each peer. */
    private void drive(final ClusterNode node)
    {
        final UnsafeBuffer lock = new UnsafeBuffer(new byte[64]);
        final UnsafeBuffer page = new UnsafeBuffer(Pages.realistic(8192, node.nodeId()));
        final UnsafeBuffer stats = new UnsafeBuffer(new byte[256]);
        final UnsafeBuffer ping = new UnsafeBuffer(new byte[8]);
        final long tickNs = TimeUnit.MILLISECONDS.toNanos(10);
        long tick = 0;
        long next = System.nanoTime();
        while (running && !(node.nodeId() == 3 && stopped3))
        {
            final MembershipView view = node.view();
            for (final int peer : view.members())
            {
                if (peer == node.nodeId())
                {
                    continue;
                }
                for (int i = 0; i < 20; i++)
                {
                    lock.putLong(0, tick * 20 + i);
                    node.send(peer, LOCK, Priority.HIGH, lock, 0, lock.capacity());
                }
                node.send(peer, PAGE, Priority.NORMAL, page, 0, page.capacity());
                node.send(peer, PAGE, Priority.NORMAL, page, 0, page.capacity());
                if (tick % 5 == 0)
                {
                    node.send(peer, STATS, Priority.LOW, stats, 0, stats.capacity());
                    ping.putLong(0, System.nanoTime(), ByteOrder.LITTLE_ENDIAN);
                    node.send(peer, PING, Priority.CRITICAL, ping, 0, 8);
                }
            }
            tick++;
            next += tickNs;
            LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
        }
    }

    /** EXCLUSIVE lock cycles on blocks of table {@code nodeId} (90%) or any table, about 500 a second. */
    private void lock(final GlobalResourceDirectory grd)
    {
        final java.util.Random random = new java.util.Random(grd.nodeId());
        while (running && !(grd.nodeId() == 3 && stopped3))
        {
            final int table = random.nextInt(10) == 0 ? 1 + random.nextInt(3) : grd.nodeId();
            final long block = ResourceId.of(table, random.nextInt(50));
            try
            {
                grd.acquire(block, LockMode.EXCLUSIVE).get();
                grd.release(block).get();
            }
            catch (final Exception ex)
            {
                // a timeout while a node dies is expected; the directory counts it
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    private static String grdColumns(final GrdStats now, final GrdStats before)
    {
        final long local = now.localGrants() - (null == before ? 0 : before.localGrants());
        final long remote = now.remoteGrants() - (null == before ? 0 : before.remoteGrants());
        final double share = local + remote == 0 ? 0 : 100.0 * remote / (local + remote);
        return String.format(Locale.ROOT, " %9d %6.0f%% %12d", local + remote, share, now.remastersIn());
    }

    private static String row(
        final int second, final ClusterNode node, final TransportMetrics now, final TransportMetrics before,
        final double pingP99Us)
    {
        final long high = delta(now, before, "messages_received_high");
        final double normalMb = delta(now, before, "messages_received_normal") * 8192 / 1e6;
        final long low = delta(now, before, "messages_received_low");
        final double raw = now.counter("bytes_sent_raw");
        final double wire = Math.max(1, now.counter("bytes_sent_wire"));
        final MembershipView v = node.view();
        return String.format(Locale.ROOT, "%4ds  %4d  %-20s %11d %12.2f %10d %6.1f %4.2fx %11.0f", second,
            node.nodeId(), v.epoch() + ":" + v.members(), high, normalMb, low, now.batchSize().getMean(),
            raw / wire, pingP99Us);
    }

    private static long delta(final TransportMetrics now, final TransportMetrics before, final String name)
    {
        return now.counter(name) - (null == before ? 0 : before.counter(name));
    }

    private synchronized void event(final long start, final String what)
    {
        final String line = String.format(Locale.ROOT, "[%5.1fs] %s", (System.nanoTime() - start) / 1e9, what);
        events.add(line);
        System.out.println(line);
    }

    private void summary(final LocalCluster cluster, final boolean killed)
    {
        System.out.println();
        System.out.println("Summary");
        System.out.println("node  final view (epoch:members)  msgs sent   msgs received  frames sent  mean batch  lz4 saved  " +
            "drops   locks  remote  remastered  forwarded");
        for (int id = 1; id <= 3; id++)
        {
            if (killed && id == 3)
            {
                System.out.println("   3  (stopped; fenced by the survivors)");
                continue;
            }
            final ClusterNode node = cluster.node(id);
            final TransportMetrics m = node.metrics();
            final long sent = sum(m, "messages_sent_");
            final long received = sum(m, "messages_received_");
            final double saved = 1.0 - (double)m.counter("bytes_sent_wire") / Math.max(1, m.counter("bytes_sent_raw"));
            final long drops = m.drops().values().stream().mapToLong(Long::longValue).sum();
            final GrdStats g = grds.get(id - 1).stats();
            System.out.println(String.format(Locale.ROOT, "%4d  %-27s %10d %14d %12d %11.1f %9.0f%% %6d %7d %6.0f%% %11d %10d",
                id, node.view().epoch() + ":" + node.view().members(), sent, received, m.counter("frames_sent"),
                m.batchSize().getMean(), saved * 100, drops, g.localGrants() + g.remoteGrants(), g.remoteShare() * 100,
                g.remastersIn(), g.forwarded()));
        }
        System.out.println();
        System.out.println("Membership events:");
        events.forEach(e -> System.out.println("  " + e));
        System.out.println("drops are outbound messages to node 3 discarded after it was declared dead (counted);");
        System.out.println("remote is the share of a node's lock grants that needed another node (all run), " +
            "remastered the resources that moved to it");
    }

    private static long sum(final TransportMetrics m, final String prefix)
    {
        long total = 0;
        for (final Priority p : Priority.values())
        {
            total += m.counter(prefix + p.name().toLowerCase(Locale.ROOT));
        }
        return total;
    }
}
