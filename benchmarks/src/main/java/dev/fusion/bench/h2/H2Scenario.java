package dev.fusion.bench.h2;

import dev.fusion.bench.JsonLine;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.h2.H2Apply;
import dev.fusion.h2.H2Capture;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.Transaction;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import static dev.fusion.bench.Stats.log;
import static dev.fusion.bench.Stats.median;

/**
 * {@code ./fusion bench h2}: a workload captured from an H2 database by the adapter's triggers, then applied into
 * fresh file-based H2 replicas serially (1 worker) and in parallel (8 workers), side by side, both in-process and
 * through H2's TCP server; every replica must equal the source. Then the source's commit throughput through
 * write-ahead capture with 1 and 8 writers. Ends with one JSON line.
 */
public final class H2Scenario
{
    /** Default run length. */
    public static final int DEFAULT_SECONDS = 60;
    private static final int ROUNDS = 3;
    private static final int ACCOUNTS = 2_000;
    private static final String[] SCHEMA = {
        "CREATE TABLE ACCOUNTS(ID BIGINT PRIMARY KEY, OWNER VARCHAR(40), BALANCE DECIMAL(18,2))",
        "CREATE TABLE TRANSFERS(ID BIGINT PRIMARY KEY, FROM_ID BIGINT REFERENCES ACCOUNTS(ID), " +
            "TO_ID BIGINT REFERENCES ACCOUNTS(ID), AMOUNT DECIMAL(18,2))",
        "CREATE TABLE AUDIT(MSG VARCHAR(100), AT BIGINT)"};

    private final double unit;

    /**
     * @param seconds target run length.
     */
    public H2Scenario(final int seconds)
    {
        this.unit = seconds / 60.0;
    }

    /**
     * @throws Exception when a run fails.
     */
    public void run() throws Exception
    {
        final JsonLine json = new JsonLine("h2");
        final Path dir = Files.createTempDirectory("fusion-bench-h2");
        try
        {
            final String source = "jdbc:h2:mem:bench-source-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
            final int count = Math.max(2_000, (int)(20_000 * unit));
            log("1/3 capturing %,d transactions from an H2 source (transfers between %,d accounts, audit rows without " +
                "a primary key)", count, ACCOUNTS);
            final List<Transaction> txns = capture(source, dir.resolve("log"), count);
            json.put("transactions", txns.size());
            log("2/3 applying them into fresh file-based H2 replicas, embedded (in-process) and behind H2's TCP server " +
                "(a replica reached over JDBC, as a real one is): 1 worker vs 8 workers, a warm-up round then %d " +
                "measured rounds each", ROUNDS);
            boolean identical = true;
            final org.h2.tools.Server server = org.h2.tools.Server.createTcpServer(
                "-tcpPort", String.valueOf(freePort()), "-baseDir", dir.toString(), "-ifNotExists").start();
            try
            {
                for (final String target : new String[]{"embedded", "tcp"})
                {
                    final List<Double> serial = new ArrayList<>();
                    final List<Double> parallel = new ArrayList<>();
                    for (int round = 0; round <= ROUNDS; round++)
                    {
                        for (final int workers : new int[]{1, 8})
                        {
                            final String name = target + "-" + round + "-" + workers;
                            final String replica = target.equals("tcp") ?
                                "jdbc:h2:tcp://127.0.0.1:" + server.getPort() + "/" + name :
                                "jdbc:h2:" + dir.resolve(name);
                            final double rate = apply(txns, replica, workers);
                            final boolean same = content(replica).equals(content(source));
                            identical &= same;
                            if (round > 0)
                            {
                                (workers == 1 ? serial : parallel).add(rate);
                            }
                            log("  %s %s, %d worker(s): %,.0f txn/s, identical to the source: %s", target,
                                round == 0 ? "warm-up" : "round " + round, workers, rate, same);
                        }
                    }
                    json.put(target + "_serial_txn_per_s", median(serial));
                    json.put(target + "_parallel_txn_per_s", median(parallel));
                    json.put(target + "_parallel_vs_serial", median(parallel) / median(serial));
                }
            }
            finally
            {
                server.stop();
            }
            final long millis = Math.max(2_000, (long)(5_000 * unit));
            log("3/3 source commit throughput through write-ahead capture (each commit writes its transaction into " +
                "the outbox table in the same H2 transaction, then publishes in position order; file database, " +
                "WRITE_DELAY 0): 1 writer vs 8 writers on disjoint keys, %d rounds of %,d ms each", ROUNDS, millis);
            final List<Double> one = new ArrayList<>();
            final List<Double> eight = new ArrayList<>();
            for (int round = 1; round <= ROUNDS; round++)
            {
                for (final int writers : new int[]{1, 8})
                {
                    final double rate = sourceCommits(dir, "source-" + round + "-" + writers, writers, millis);
                    (writers == 1 ? one : eight).add(rate);
                    log("  round %d, %d writer(s): %,.0f commits/s", round, writers, rate);
                }
            }
            json.put("source_txn_per_s_1_writer", median(one));
            json.put("source_txn_per_s_8_writers", median(eight));
            json.put("identical", identical);
            json.put("cores", Runtime.getRuntime().availableProcessors());
            System.out.println(json);
        }
        finally
        {
            try (var files = Files.walk(dir))
            {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static List<Transaction> capture(final String url, final Path logDir, final int count) throws Exception
    {
        try (LocalCluster cluster = LocalCluster.start(1, dev.fusion.bench.BenchThreading::smallMachine);
             ReplicationLog log = ReplicationLog.open(logDir, 64 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 16);
             Connection c = DriverManager.getConnection(url);
             Connection admin = DriverManager.getConnection(url))
        {
            schema(c);
            c.setAutoCommit(false);
            final H2Capture capture = H2Capture.open(publisher, 1, admin);
            for (final String table : new String[]{"ACCOUNTS", "TRANSFERS", "AUDIT"})
            {
                capture.capture(c, table);
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO ACCOUNTS VALUES (?, ?, 1000.00)"))
            {
                for (int i = 0; i < ACCOUNTS; i++)
                {
                    s.setLong(1, i);
                    s.setString(2, "owner-" + i);
                    s.executeUpdate();
                    if (i % 100 == 99)
                    {
                        capture.commit(c);
                    }
                }
                capture.commit(c);
            }
            final Random random = new Random(42);
            try (PreparedStatement debit = c.prepareStatement("UPDATE ACCOUNTS SET BALANCE = BALANCE - ? WHERE ID = ?");
                 PreparedStatement credit = c.prepareStatement("UPDATE ACCOUNTS SET BALANCE = BALANCE + ? WHERE ID = ?");
                 PreparedStatement transfer = c.prepareStatement("INSERT INTO TRANSFERS VALUES (?, ?, ?, ?)");
                 PreparedStatement audit = c.prepareStatement("INSERT INTO AUDIT VALUES (?, ?)"))
            {
                for (long id = 1; id <= count; id++)
                {
                    final long from = random.nextInt(ACCOUNTS);
                    final long to = (from + 1 + random.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
                    final BigDecimal amount = BigDecimal.valueOf(1 + random.nextInt(50));
                    update(debit, amount, from);
                    update(credit, amount, to);
                    update(transfer, id, from, to, amount);
                    if (id % 20 == 0)
                    {
                        update(audit, "checkpoint " + id, id);
                    }
                    capture.commit(c);
                }
            }
            final List<Transaction> txns = new ArrayList<>();
            log.replay(0, txns::add);
            return txns;
        }
    }

    /** Commits through capture from {@code writers} threads for {@code millis}; returns commits per second. */
    private static double sourceCommits(final Path dir, final String name, final int writers, final long millis)
        throws Exception
    {
        final String url = "jdbc:h2:" + dir.resolve(name);
        try (LocalCluster cluster = LocalCluster.start(1, dev.fusion.bench.BenchThreading::smallMachine);
             ReplicationLog log = ReplicationLog.open(dir.resolve(name + "-log"), 64 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 16);
             Connection admin = DriverManager.getConnection(url))
        {
            try (Statement s = admin.createStatement())
            {
                s.execute("CREATE TABLE KV(ID BIGINT PRIMARY KEY, V BIGINT)");
            }
            final H2Capture capture = H2Capture.open(publisher, 1, admin);
            try (Connection c = DriverManager.getConnection(url))
            {
                capture.capture(c, "KV");
            }
            final AtomicLong commits = new AtomicLong();
            final List<Throwable> failures = new CopyOnWriteArrayList<>();
            final long start = System.nanoTime();
            final long end = start + millis * 1_000_000L;
            final List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++)
            {
                final long base = w * 1_000_000L;
                final Thread t = new Thread(() ->
                {
                    final Random random = new Random(base);
                    try (Connection c = DriverManager.getConnection(url);
                         PreparedStatement merge = c.prepareStatement("MERGE INTO KV KEY(ID) VALUES (?, ?)"))
                    {
                        c.setAutoCommit(false);
                        while (System.nanoTime() - end < 0)
                        {
                            update(merge, base + random.nextInt(10_000), random.nextLong());
                            capture.commit(c);
                            commits.incrementAndGet();
                        }
                    }
                    catch (final Exception ex)
                    {
                        failures.add(ex);
                    }
                }, "bench-h2-writer-" + w);
                threads.add(t);
                t.start();
            }
            for (final Thread t : threads)
            {
                t.join();
            }
            if (!failures.isEmpty())
            {
                throw new IllegalStateException("a writer failed", failures.get(0));
            }
            return commits.get() * 1e9 / (System.nanoTime() - start);
        }
    }

    private static double apply(final List<Transaction> txns, final String url, final int workers) throws Exception
    {
        try (Connection c = DriverManager.getConnection(url))
        {
            schema(c);
        }
        try (H2Apply apply = new H2Apply(url, workers + 2);
             ParallelApplier applier = new ParallelApplier(apply, workers, true, 256, 1_000_000, 0))
        {
            final long start = System.nanoTime();
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            if (!applier.awaitWatermark(txns.get(txns.size() - 1).position(), 300_000))
            {
                throw new IllegalStateException("apply did not finish: " + applier.failure());
            }
            return txns.size() / ((System.nanoTime() - start) / 1e9);
        }
    }

    private static void update(final PreparedStatement statement, final Object... values) throws SQLException
    {
        for (int i = 0; i < values.length; i++)
        {
            statement.setObject(i + 1, values[i]);
        }
        statement.executeUpdate();
    }

    private static int freePort() throws java.io.IOException
    {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0))
        {
            return socket.getLocalPort();
        }
    }

    private static void schema(final Connection c) throws SQLException
    {
        try (Statement s = c.createStatement())
        {
            for (final String ddl : SCHEMA)
            {
                s.execute(ddl);
            }
        }
    }

    private static List<String> content(final String url) throws SQLException
    {
        final List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement())
        {
            for (final String table : new String[]{"ACCOUNTS", "TRANSFERS", "AUDIT"})
            {
                try (ResultSet rs = s.executeQuery("SELECT * FROM " + table))
                {
                    final int n = rs.getMetaData().getColumnCount();
                    while (rs.next())
                    {
                        final StringBuilder row = new StringBuilder(table).append(':');
                        for (int i = 1; i <= n; i++)
                        {
                            row.append(rs.getString(i)).append(';');
                        }
                        rows.add(row.toString());
                    }
                }
            }
        }
        rows.sort(null);
        return rows;
    }
}
