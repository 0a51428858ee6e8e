package dev.fusion.h2;

import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.Transaction;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Change capture from an embedded H2 database: row triggers ({@link CaptureTrigger}) collect a transaction's
 * changes on the writing thread; the application commits through {@link #commit}, which commits the JDBC
 * transaction and publishes its changes under one lock, so stream positions follow H2's commit order. DDL goes
 * through {@link #ddl}. Each writing thread uses its own connection (H2 embedded runs statements on the caller's
 * thread, which is how the trigger finds the pending transaction).
 */
public final class H2Capture
{
    static final String TRIGGER_PREFIX = "FUSION_CAPTURE_";
    private static final ThreadLocal<List<Change>> PENDING = ThreadLocal.withInitial(ArrayList::new);
    /** Tables the writing thread's pending transaction changed (counted in {@link #IN_FLIGHT}). */
    private static final ThreadLocal<Set<String>> TOUCHED = ThreadLocal.withInitial(HashSet::new);
    /**
     * Transactions with uncommitted changes, by database and table (JVM-wide: H2 creates the trigger by class
     * name, so it finds this state statically).
     */
    private static final ConcurrentHashMap<String, AtomicInteger> IN_FLIGHT = new ConcurrentHashMap<>();
    /** Tables a DDL is waiting for or running on: new transactions may not change them meanwhile. */
    private static final Set<String> DDL_PENDING = ConcurrentHashMap.newKeySet();

    private final Publisher publisher;
    private final int origin;
    private final Object commitLock = new Object();
    private long position;

    /**
     * @param publisher    publishes the captured transactions.
     * @param origin       this database's node id.
     * @param lastPosition the last position published before (0 for a new stream).
     */
    public H2Capture(final Publisher publisher, final int origin, final long lastPosition)
    {
        this.publisher = Objects.requireNonNull(publisher, "publisher");
        this.origin = origin;
        this.position = lastPosition;
    }

    static List<Change> pending()
    {
        return PENDING.get();
    }

    /**
     * Called by the trigger before it records a change: the first change of a transaction to a table counts the
     * transaction in flight there, unless a DDL waits for the table, which fails the statement (the writer rolls
     * back and tries again after the DDL). Counting first, then checking, pairs with {@link #ddl} flagging first,
     * then counting: one of the two always sees the other.
     */
    static void touch(final String key) throws SQLException
    {
        final Set<String> touched = TOUCHED.get();
        if (touched.contains(key))
        {
            return;
        }
        final AtomicInteger count = IN_FLIGHT.computeIfAbsent(key, k -> new AtomicInteger());
        count.incrementAndGet();
        if (DDL_PENDING.contains(key))
        {
            count.decrementAndGet();
            throw new SQLException("table " + key.substring(key.indexOf('.') + 1) + " is being changed by a DDL " +
                "statement: roll back and retry", "40001");
        }
        touched.add(key);
    }

    /** @return the key of a table of the connection's database in the in-flight and DDL registries. */
    static String key(final Connection conn, final String table) throws SQLException
    {
        return conn.getCatalog() + '.' + table;
    }

    private static void endTransaction()
    {
        PENDING.get().clear();
        final Set<String> touched = TOUCHED.get();
        for (final String table : touched)
        {
            IN_FLIGHT.get(table).decrementAndGet();
        }
        touched.clear();
    }

    /**
     * Installs the capture trigger on a table.
     *
     * @param conn  a connection to the source database.
     * @param table the table (as H2 names it, usually upper case).
     * @throws SQLException when the trigger cannot be created.
     */
    public void capture(final Connection conn, final String table) throws SQLException
    {
        try (Statement s = conn.createStatement())
        {
            s.execute("CREATE TRIGGER IF NOT EXISTS \"" + TRIGGER_PREFIX + table + "\" AFTER INSERT, UPDATE, DELETE ON \"" +
                table + "\" FOR EACH ROW CALL \"" + CaptureTrigger.class.getName() + "\"");
        }
    }

    /**
     * Commits the connection's transaction and publishes what it changed.
     *
     * @param conn the writing thread's connection (auto-commit off).
     * @return the transaction's stream position, or 0 when it changed nothing captured.
     * @throws SQLException when the commit fails (nothing is published; the changes are dropped), or is refused
     *                      and rolled back because this node holds no lease from the membership quorum.
     */
    public long commit(final Connection conn) throws SQLException
    {
        final List<Change> changes = PENDING.get();
        try
        {
            synchronized (commitLock)
            {
                if (!changes.isEmpty())
                {
                    try
                    {
                        publisher.checkLease();
                    }
                    catch (final IllegalStateException fenced)
                    {
                        conn.rollback();
                        throw new SQLException("commit refused and rolled back: " + fenced.getMessage(), fenced);
                    }
                }
                conn.commit();
                if (changes.isEmpty())
                {
                    return 0;
                }
                final long p = ++position;
                publisher.publish(new Transaction(origin, p, System.currentTimeMillis(), List.copyOf(changes)));
                return p;
            }
        }
        finally
        {
            endTransaction();
        }
    }

    /**
     * Rolls the connection's transaction back and forgets its captured changes.
     *
     * @param conn the writing thread's connection.
     * @throws SQLException when the rollback fails.
     */
    public void rollback(final Connection conn) throws SQLException
    {
        endTransaction();
        conn.rollback();
    }

    /**
     * Runs a DDL statement and publishes it (replicas apply it alone, as a barrier). It runs under the commit lock,
     * so no transaction commits while it does (H2 rebuilds the table from a snapshot taken as the statement starts:
     * a commit in between would be lost from the copy), and only once no transaction has uncommitted changes to
     * the table (such a writer would hold the table while waiting for the commit lock): from the call on, new
     * changes to the table fail with SQL state 40001 until the DDL is published, and the transactions already
     * changing it are waited for.
     *
     * @param conn  a connection with nothing pending.
     * @param table the table it changes.
     * @param sql   the statement.
     * @return its stream position.
     * @throws SQLException when it fails (nothing is published), or the table's writers do not finish in 30 s.
     */
    public long ddl(final Connection conn, final String table, final String sql) throws SQLException
    {
        final String key = key(conn, table);
        if (!DDL_PENDING.add(key))
        {
            throw new SQLException("another DDL on table " + table + " is running");
        }
        try
        {
            final AtomicInteger inFlight = IN_FLIGHT.computeIfAbsent(key, t -> new AtomicInteger());
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (inFlight.get() > 0)
            {
                if (System.nanoTime() - deadline > 0)
                {
                    throw new SQLException("DDL on table " + table + ": " + inFlight.get() + " transaction(s) " +
                        "changing it did not finish within 30 s");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            synchronized (commitLock)
            {
                try (Statement s = conn.createStatement())
                {
                    s.execute(sql);
                }
                conn.commit();
                final long p = ++position;
                publisher.publish(new Transaction(origin, p, System.currentTimeMillis(), List.of(new Change(table,
                    null, null, null, ChangeOp.DDL, null, sql.getBytes(StandardCharsets.UTF_8)))));
                return p;
            }
        }
        finally
        {
            DDL_PENDING.remove(key);
        }
    }

    /** @return the last position published. */
    public long position()
    {
        synchronized (commitLock)
        {
            return position;
        }
    }
}
