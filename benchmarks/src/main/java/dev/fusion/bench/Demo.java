package dev.fusion.bench;

import dev.fusion.cachefusion.CacheFusion;
import dev.fusion.cachefusion.CacheFusionConfig;
import dev.fusion.cachefusion.WaitEvents;
import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.Priority;
import dev.fusion.cluster.TransportMetrics;
import dev.fusion.grd.GrdConfig;
import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.KeyRef;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.Subscriber;
import dev.fusion.replication.Transaction;
import dev.fusion.replication.monitor.LagMonitor;
import dev.fusion.replication.monitor.LagThresholds;
import dev.fusion.replication.monitor.MonitorHttpServer;
import dev.fusion.replication.monitor.SubscriberLag;
import dev.fusion.grd.GrdStats;
import dev.fusion.grd.LockMode;
import org.agrona.CloseHelper;
import org.HdrHistogram.Recorder;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code ./fusion demo}: three nodes on loopback, each with an embedded media driver, the global resource
 * directory and cache fusion over the reference engine (a bank on 8 KiB account pages on one shared disk). Each
 * node moves money between accounts, mostly on "its own" pages, and the pages travel between the nodes' caches
 * (grants from disk, 2-way and 3-way transfers); beside that it sends lock-sized HIGH messages, 8 KiB page
 * images on NORMAL (LZ4 compressed), LOW statistics and CRITICAL pings. Membership is decided by a quorum of three
 * voters (Aeron Cluster), one in each node. Every second it prints what each node does. A fifth in, node 3 is cut
 * off (its media drivers drop every datagram, through Aeron's debug channel endpoints) for twice the time after
 * which the quorum declares a silent node dead: it loses its lease and fences itself, the others declare it dead,
 * fence it on the disk and recover its pages; when the link heals it learns it was declared dead, drops its cache
 * and rejoins as a new incarnation. Two thirds in, node 3 crashes (no writes, no releases), and the survivors
 * recover the pages it held from its redo; it ends with a summary table and the bank's check: every balance is
 * the opening balance plus the acknowledged transfers.
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
    private static final int PAGES = 30;
    private final List<CacheFusion> fusions = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Drops every datagram of node 3's media drivers while set: the partition. */
    private final dev.fusion.cluster.LinkCut cut = new dev.fusion.cluster.LinkCut();
    private volatile LocalCluster cluster;
    private final List<ReferenceEngine> engines = new ArrayList<>();
    private final long[][] deltas = new long[3][PAGES * AccountPage.ROWS];
    private final long[][] inFlight = new long[3][];
    private final AtomicLong[] transfers = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
    private volatile boolean running = true;
    private volatile boolean stopped3;
    private volatile long startNs;
    /** Node 1 publishes its committed transfers; node 2 keeps a replica of them, applied in parallel. */
    private Publisher publisher;
    private ParallelApplier replicaApplier;
    private Subscriber replicaSubscriber;
    private LagMonitor lagMonitor;
    private MonitorHttpServer lagHttp;
    private ReplicationLog replicationLog;
    private final java.util.concurrent.ConcurrentHashMap<Long, Long> replica = new java.util.concurrent.ConcurrentHashMap<>();
    private long publishedPosition;
    private Path workDir;

    private Demo(final int seconds)
    {
        this.seconds = seconds;
    }

    static void run(final Options options) throws Exception
    {
        new Demo(options.seconds(DEFAULT_SECONDS)).go();
    }

    private void go() throws Exception
    {
        final Path dir = Files.createTempDirectory("fusion-demo");
        workDir = dir;
        final SharedDisk disk = SharedDisk.format(dir.resolve("disk"), PAGES, 1_000);
        try
        {
            go(disk);
        }
        finally
        {
            CloseHelper.quietCloseAll(engines);
            disk.close();
            try (var files = Files.walk(dir))
            {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private void go(final SharedDisk disk) throws Exception
    {
        final List<Thread> drivers = new ArrayList<>();
        System.out.printf("Fusion demo: 3 nodes on loopback, embedded Aeron media drivers, %d s%n", seconds);
        System.out.println("  transport: HIGH lock messages, NORMAL 8 KiB pages (LZ4), LOW stats, CRITICAL pings");
        System.out.println("  cache fusion: a bank on " + PAGES + " shared 8 KiB pages; each node mostly moves money " +
            "on its own pages, pages travel between caches");
        try (LocalCluster cluster = LocalCluster.startWithQuorum(3, b -> LocalCluster.smallMachineDefaults(b)
            .driverCustomizer(b.nodeId() == 3 ? cut::install : c -> c)))
        {
            this.cluster = cluster;
            final long start = System.nanoTime();
            startNs = start;
            for (final ClusterNode node : cluster.nodes())
            {
                wire(node, start);
            }
            final UndoStore undo = new UndoStore(64);
            for (final ClusterNode node : cluster.nodes())
            {
                final ReferenceEngine engine = new ReferenceEngine(node.nodeId(), disk, undo, PAGES, false);
                final CacheFusion fusion = CacheFusion.start(node, GrdConfig.defaults(), CacheFusionConfig.defaults(),
                    engine);
                engine.attach(fusion);
                engine.fenceWith(node);
                engines.add(engine);
                fusions.add(fusion);
            }
            cluster.awaitFullView(Duration.ofSeconds(30));
            event(start, "all 3 nodes hold leases from the quorum and see each other (epoch " +
                cluster.node(1).view().epoch() + ")");
            startReplication(cluster);
            System.out.println("  replication: node 1 publishes its committed transfers, node 2 applies them in " +
                "parallel; lag endpoint " + lagHttp.url() + "/replication/status (also /replication/subscribers, " +
                "/metrics)");
            for (int n = 1; n <= 3; n++)
            {
                final int id = n;
                final Thread t = new Thread(() -> bank(id), "demo-bank-" + id);
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
                "ping p99 us  xfers/s  local  grant  2-way  3-way  shipped  recovered");
            final int killAt = Math.max(2, seconds * 2 / 3);
            final long deadAfterMs = TimeUnit.NANOSECONDS.toMillis(cluster.node(3).config().leaseNs() +
                cluster.node(3).config().leaseMarginNs());
            final int cutAt = Math.max(2, seconds / 5);
            final int healAt = cutAt + (int)(2 * deadAfterMs / 1000);
            final boolean partition = healAt + 5 <= killAt;
            if (!partition)
            {
                event(start, "no partition phase: it needs --seconds " + (5 * (healAt + 5 - cutAt) / 3 + 1) +
                    " or more");
            }
            boolean lease3 = true;
            boolean killed = false;
            final TransportMetrics[] last = new TransportMetrics[3];
            final WaitEvents[] lastEvents = new WaitEvents[3];
            final long[] lastTransfers = new long[3];
            for (int s = 1; s <= seconds; s++)
            {
                Thread.sleep(1000);
                if (partition && s == cutAt)
                {
                    event(start, "node 3 is cut off from nodes 1 and 2 (its drivers drop every datagram) for " +
                        (healAt - cutAt) + " s, twice the " + deadAfterMs + " ms after which the quorum declares " +
                        "a silent node dead");
                    cut.cut(true);
                }
                if (partition && s == healAt)
                {
                    event(start, "the link to node 3 heals");
                    cut.cut(false);
                }
                if (!killed && lease3 != cluster.node(3).hasLease())
                {
                    lease3 = !lease3;
                    event(start, lease3 ? "node 3 holds a lease again" : "node 3 lost its lease: it fences itself " +
                        "(sends nothing, grants nothing, uses no cached page, publishes nothing)");
                }
                if (!killed && s >= killAt)
                {
                    event(start, "node 3 crashes: its cache and locks vanish, no writes, no releases");
                    stopped3 = true;
                    fusions.get(2).close();
                    cluster.stop(3);
                    drivers.get(2).join(2000);
                    drivers.get(5).join(2000);
                    killed = true;
                }
                if (s % 5 == 0)
                {
                    // like a database writer: each node writes the dirty pages it holds; every node then drops
                    // its past images of older versions
                    for (int id = 1; id <= 3; id++)
                    {
                        if (!(killed && id == 3))
                        {
                            fusions.get(id - 1).checkpoint();
                        }
                    }
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
                    final WaitEvents w = fusions.get(id - 1).waitEvents();
                    final long done = transfers[id - 1].get();
                    System.out.println(row(s, node, m, last[id - 1], p99) +
                        fusionColumns(w, lastEvents[id - 1], done - lastTransfers[id - 1]));
                    last[id - 1] = m;
                    lastEvents[id - 1] = w;
                    lastTransfers[id - 1] = done;
                }
                System.out.println(replicationLine());
            }
            running = false;
            for (final Thread t : drivers)
            {
                t.join(2000);
            }
            summary(cluster, killed);
            bankCheck();
            replicaCheck();
            stopReplication();
        }
        finally
        {
            stopReplication();
            CloseHelper.quietCloseAll(fusions);
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

    /** Transfers, 90% between accounts on the node's own third of the pages, about 300 a second. */
    private void bank(final int id)
    {
        final java.util.Random random = new java.util.Random(id);
        final ReferenceEngine engine = engines.get(id - 1);
        final int share = PAGES / 3;
        boolean failing = false;
        while (running && !(id == 3 && stopped3))
        {
            if (cluster.node(id).evicted())
            {
                rejoin(id, engine);
                failing = false;
            }
            final long from = account(random, id, share);
            long to = account(random, id, share);
            to = to == from ? (to + 1) % (PAGES * AccountPage.ROWS) : to;
            final long amount = 1 + random.nextInt(20);
            inFlight[id - 1] = new long[]{from, to, amount};
            try
            {
                engine.transfer(from, to, amount, 20_000);
                deltas[id - 1][(int)from] -= amount;
                deltas[id - 1][(int)to] += amount;
                if (id == 1)
                {
                    publish(from, to, amount);
                }
                inFlight[id - 1] = null;
                transfers[id - 1].incrementAndGet();
                failing = false;
            }
            catch (final Exception ex)
            {
                if (!(id == 3 && stopped3))
                {
                    inFlight[id - 1] = null; // failed before it committed
                    if (!failing)
                    {
                        event(startNs, "node " + id + ": transfer failed (further failures not shown until one " +
                            "succeeds): " + ex);
                    }
                    failing = true;
                }
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(3));
        }
    }

    /**
     * On the node's bank thread, once the quorum has declared the node dead: nothing it held survives. Its cache
     * fusion (and directory) close, its cache is dropped, it rejoins as a new incarnation and starts them again.
     */
    private void rejoin(final int id, final ReferenceEngine engine)
    {
        final ClusterNode node = cluster.node(id);
        event(startNs, "node " + id + " learns the quorum declared it dead: it drops its cache and directory and " +
            "rejoins as a new incarnation");
        fusions.get(id - 1).close();
        engine.discardCache();
        node.rejoin();
        if (!node.awaitLease(30_000))
        {
            event(startNs, "node " + id + " got no lease after rejoining");
            return;
        }
        final CacheFusion fusion = CacheFusion.start(node, GrdConfig.defaults(), CacheFusionConfig.defaults(), engine);
        engine.attach(fusion);
        fusions.set(id - 1, fusion);
        event(startNs, "node " + id + " rejoined (incarnation " + Integer.toHexString(node.incarnation()) + ", epoch " +
            node.view().epoch() + ") and transfers again");
    }

    private void startReplication(final LocalCluster cluster) throws Exception
    {
        replicationLog = ReplicationLog.open(workDir.resolve("replication"), 1 << 20, 64L << 20, false);
        publisher = new Publisher(cluster.node(1), replicationLog, 4096);
        replicaApplier = new ParallelApplier(txn ->
        {
            for (final Change c : txn.changes())
            {
                final long account = java.nio.ByteBuffer.wrap(c.primaryKey().value()).getLong();
                final long delta = java.nio.ByteBuffer.wrap(c.after()).getLong();
                replica.merge(account, delta, Long::sum);
            }
        }, 4, true, 1024, 100_000, 0);
        replicaSubscriber = new Subscriber(cluster.node(2), 1, replicaApplier, 1024);
        lagMonitor = LagMonitor.start(LagThresholds.defaults(), Duration.ofMillis(250)).track(replicaSubscriber)
            .publisher(publisher);
        lagMonitor.addListener((from, to, lag) -> event(startNs, "replica on node 2: lag level " + from + " -> " + to +
            " (" + lag.timeLagMs() + " ms, " + lag.lagTransactions() + " transactions behind)"));
        lagHttp = MonitorHttpServer.start(lagMonitor, MonitorHttpServer.Config.loopback(0), 2);
    }

    /** Called by node 1's bank thread only, in commit order. */
    private void publish(final long from, final long to, final long amount)
    {
        publisher.publish(new Transaction(1, ++publishedPosition, System.currentTimeMillis(), List.of(
            change(from, -amount), change(to, amount))));
    }

    private static Change change(final long account, final long delta)
    {
        final byte[] key = java.nio.ByteBuffer.allocate(8).putLong(account).array();
        return new Change("accounts", new KeyRef("accounts", key), null, null, ChangeOp.UPDATE, null,
            java.nio.ByteBuffer.allocate(8).putLong(delta).array());
    }

    private String replicationLine()
    {
        final List<SubscriberLag> lags = lagMonitor.subscribers();
        if (lags.isEmpty())
        {
            return "  replication 1->2: starting";
        }
        final SubscriberLag l = lags.get(0);
        final long[] acked = lagMonitor.publisherView().get(2);
        return String.format(Locale.ROOT, "  replication 1->2: published %d, applied %d (%.0f/s); behind the " +
            "publisher by %d (its view), %d received not applied, time lag %d ms; commit-to-apply p99 %.1f ms; %s, %s",
            publisher.position(), l.appliedPosition(), l.applyRatePerS(), null == acked ? 0 : acked[4],
            l.lagTransactions(), l.timeLagMs(), l.commitToApplyUs()[1] / 1000.0, l.state(), l.level());
    }

    private void replicaCheck() throws InterruptedException
    {
        final long last = publisher.position();
        final boolean caughtUp = replicaApplier.awaitWatermark(last, 10_000);
        boolean same = caughtUp;
        for (int a = 0; a < deltas[0].length && same; a++)
        {
            same = replica.getOrDefault((long)a, 0L) == deltas[0][a];
        }
        lagMonitor.sampleNow();
        final SubscriberLag l = lagMonitor.subscribers().get(0);
        System.out.printf(Locale.ROOT, "Replica on node 2: %d transactions applied with %d workers, commit-to-apply " +
            "p50 %.1f ms p99 %.1f ms; equal to node 1's acknowledged transfers: %s%n", l.appliedPosition(),
            replicaApplier.workers(), l.commitToApplyAllUs()[0] / 1000.0, l.commitToApplyAllUs()[1] / 1000.0,
            same ? "yes" : "NO");
    }

    /** Idempotent: before the nodes close (the subscriber sends its last acknowledgements through them). */
    private void stopReplication()
    {
        CloseHelper.quietClose(lagHttp);
        CloseHelper.quietClose(lagMonitor);
        lagHttp = null;
        lagMonitor = null;
        try
        {
            if (null != replicaSubscriber)
            {
                replicaSubscriber.close();
                replicaSubscriber = null;
            }
            if (null != replicaApplier)
            {
                replicaApplier.close();
                replicaApplier = null;
            }
            if (null != publisher)
            {
                publisher.close();
                publisher = null;
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        CloseHelper.quietClose(replicationLog);
        replicationLog = null;
    }

    private static long account(final java.util.Random random, final int id, final int share)
    {
        final int page = random.nextInt(10) == 0 ? random.nextInt(PAGES) : (id - 1) * share + random.nextInt(share);
        return (long)page * AccountPage.ROWS + random.nextInt(AccountPage.ROWS);
    }

    private static String fusionColumns(final WaitEvents now, final WaitEvents before, final long transfers)
    {
        return String.format(Locale.ROOT, " %8d %6d %6d %6d %6d %7.1fMB %10d", transfers,
            delta(now, before, "current_local"), delta(now, before, "current_grant"),
            delta(now, before, "current_2way"), delta(now, before, "current_3way"),
            delta(now, before, "bytes_shipped") / 1e6, now.count("recoveries"));
    }

    private static long delta(final WaitEvents now, final WaitEvents before, final String name)
    {
        return now.count(name) - (null == before ? 0 : before.count(name));
    }

    /** Every balance, read SHARED from node 1, against the opening balance plus the acknowledged transfers. */
    private void bankCheck() throws Exception
    {
        final long[] expected = new long[PAGES * AccountPage.ROWS];
        Arrays.fill(expected, 1_000);
        for (final long[] d : deltas)
        {
            for (int a = 0; a < expected.length; a++)
            {
                expected[a] += d[a];
            }
        }
        final long[] actual = new long[expected.length];
        final CacheFusion f = fusions.get(0);
        for (int page = 0; page < PAGES; page++)
        {
            final long block = ReferenceEngine.block(page);
            f.acquire(block, LockMode.SHARED).get(30, TimeUnit.SECONDS);
            try
            {
                final byte[] bytes = engines.get(0).current(block).bytes();
                for (int row = 0; row < AccountPage.ROWS; row++)
                {
                    actual[page * AccountPage.ROWS + row] = AccountPage.balance(bytes, row);
                }
            }
            finally
            {
                f.release(block);
            }
        }
        boolean ok = Arrays.equals(actual, expected);
        final long[] lost = inFlight[2];
        if (!ok && null != lost)
        {
            // node 3 crashed in the middle of one transfer: committed (in its redo) or not, either is right
            expected[(int)lost[0]] -= lost[2];
            expected[(int)lost[1]] += lost[2];
            ok = Arrays.equals(actual, expected);
        }
        final long total = Arrays.stream(actual).sum();
        System.out.println();
        System.out.printf(Locale.ROOT, "Bank: %d transfers acknowledged; total %,d (opening %,d): %s; every balance " +
            "= opening + acknowledged transfers: %s%n", transfers[0].get() + transfers[1].get() + transfers[2].get(),
            total, (long)expected.length * 1_000, total == (long)expected.length * 1_000 ? "unchanged" : "CHANGED",
            ok ? "yes" : "NO");
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
            "drops  grants  remote  remastered  2-way  3-way  past-images");
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
            final GrdStats g = fusions.get(id - 1).directory().stats();
            final WaitEvents w = fusions.get(id - 1).waitEvents();
            System.out.println(String.format(Locale.ROOT,
                "%4d  %-27s %10d %14d %12d %11.1f %9.0f%% %6d %7d %6.0f%% %11d %6d %6d %12d",
                id, node.view().epoch() + ":" + node.view().members(), sent, received, m.counter("frames_sent"),
                m.batchSize().getMean(), saved * 100, drops, g.localGrants() + g.remoteGrants(), g.remoteShare() * 100,
                g.remastersIn(), w.count("current_2way"), w.count("current_3way"), engines.get(id - 1).pastImages()));
        }
        System.out.println();
        System.out.println("Membership events:");
        events.forEach(e -> System.out.println("  " + e));
        System.out.println("drops are outbound messages to node 3 discarded after it was declared dead (counted);");
        System.out.println("grants/remote: the directory's grants to the node and the share from another master; " +
            "2-way/3-way: pages it got from another cache; past-images: kept until a newer version is written");
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
