package dev.fusion.h2;

import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.Transaction;
import dev.fusion.replication.TransactionCodec;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Change capture from an embedded H2 database, written ahead: row triggers ({@link CaptureTrigger}) collect a
 * transaction's changes on the writing thread, and {@link #commit} writes the encoded transaction, under the stream
 * position it takes, into the source's own outbox table ({@value #OUTBOX}) in the same JDBC transaction before it
 * commits. So a transaction H2 reports committed is in the outbox whatever happens next, and one that rolled back
 * is not. After the commit the transaction is handed to the publisher in position order; positions taken by
 * transactions that then failed are skipped. {@link #open} re-publishes, after a crash, the outbox's transactions
 * that the replication log lacks, and the outbox is pruned once the log has them on disk.
 * <p>
 * Commits from many threads run concurrently: positions come from a counter, a transaction takes its position
 * after its last write (two transactions that change the same row are ordered by H2's row lock, so their positions
 * follow their commit order), and whichever thread completes the next position publishes every transaction ready
 * after it (a group publish). DDL goes through {@link #ddl}, which excludes commits while it runs. Each writing
 * thread uses its own connection (H2 embedded runs statements on the caller's thread, which is how the trigger
 * finds the pending transaction).
 * <p>
 * {@link #open} sets the database's {@code WRITE_DELAY} to 0, so a commit H2 reports is in its file (the page
 * cache) when it returns and survives the process being killed.
 */
public final class H2Capture
{
    /** The outbox table: one row per captured transaction not yet known to be on the log's disk. */
    public static final String OUTBOX = "FUSION_OUTBOX";
    /** How many transactions are published between two prunes of the outbox. */
    static final int PRUNE_EVERY = 1024;
    static final String TRIGGER_PREFIX = "FUSION_CAPTURE_";
    private static final System.Logger LOG = System.getLogger(H2Capture.class.getName());
    private static final Object ABORTED = new Object();
    private static final ThreadLocal<ExpandableArrayBuffer> ENCODE =
        ThreadLocal.withInitial(() -> new ExpandableArrayBuffer(1024));
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
    private final Connection admin;
    /** Commits share it; a DDL takes it alone (H2 rebuilds the table from a snapshot taken as the DDL starts). */
    private final ReentrantReadWriteLock ddlLock = new ReentrantReadWriteLock();
    private final AtomicLong positions;
    /** Positions resolved but not yet handed over: a Transaction, or ABORTED. */
    private final ConcurrentHashMap<Long, Object> resolved = new ConcurrentHashMap<>();
    private final Object publishLock = new Object();
    /** Guarded by publishLock: every position up to it is handed over (or skipped). */
    private long published;
    /** Guarded by publishLock. */
    private long publishedSincePrune;

    private H2Capture(final Publisher publisher, final int origin, final Connection admin, final long lastPosition)
    {
        this.publisher = publisher;
        this.origin = origin;
        this.admin = admin;
        this.positions = new AtomicLong(lastPosition);
        this.published = lastPosition;
    }

    /**
     * Opens capture on a source database: creates the outbox table if needed, sets {@code WRITE_DELAY} to 0,
     * re-publishes (in position order) the outbox's transactions past the publisher's log, which a crash after
     * their commit kept from it, and prunes the outbox up to the log.
     *
     * @param publisher publishes the captured transactions; its log says what was published before.
     * @param origin    this database's node id.
     * @param admin     a connection to the source database that capture keeps for its outbox (recovery and
     *                  pruning); the caller keeps it open while capture runs and uses it for nothing else.
     * @return the capture.
     * @throws SQLException when the outbox cannot be read or written, or holds a transaction that does not decode.
     */
    public static H2Capture open(final Publisher publisher, final int origin, final Connection admin)
        throws SQLException
    {
        Objects.requireNonNull(publisher, "publisher");
        admin.setAutoCommit(true);
        try (Statement s = admin.createStatement())
        {
            s.execute("CREATE TABLE IF NOT EXISTS \"" + OUTBOX + "\" (POSITION BIGINT PRIMARY KEY, " +
                "TXN VARBINARY(1000000000) NOT NULL)");
            s.execute("SET WRITE_DELAY 0");
        }
        final long logged = publisher.position();
        long last = logged;
        int recovered = 0;
        try (PreparedStatement select = admin.prepareStatement("SELECT POSITION, TXN FROM \"" + OUTBOX +
            "\" WHERE POSITION > ? ORDER BY POSITION"))
        {
            select.setLong(1, logged);
            try (ResultSet rows = select.executeQuery())
            {
                while (rows.next())
                {
                    final long position = rows.getLong(1);
                    final byte[] bytes = rows.getBytes(2);
                    final Transaction txn;
                    try
                    {
                        txn = TransactionCodec.decode(new UnsafeBuffer(bytes), 0, bytes.length);
                    }
                    catch (final RuntimeException ex)
                    {
                        throw new SQLException("outbox row " + position + " of " + OUTBOX + " does not decode as a " +
                            "transaction: " + ex.getMessage(), ex);
                    }
                    if (txn.position() != position)
                    {
                        throw new SQLException("outbox row " + position + " of " + OUTBOX + " holds the transaction " +
                            "of position " + txn.position());
                    }
                    publisher.publish(txn);
                    last = position;
                    recovered++;
                }
            }
        }
        prune(admin, logged);
        if (recovered > 0)
        {
            final int count = recovered;
            final long to = last;
            LOG.log(System.Logger.Level.WARNING, () -> "re-published " + count + " transaction(s) committed on the " +
                "source but missing from the replication log (positions " + logged + " to " + to + "): the " +
                "process stopped between their commit and their publication");
        }
        return new H2Capture(publisher, origin, admin, last);
    }

    private static void prune(final Connection admin, final long upTo) throws SQLException
    {
        try (PreparedStatement delete = admin.prepareStatement("DELETE FROM \"" + OUTBOX + "\" WHERE POSITION <= ?"))
        {
            delete.setLong(1, upTo);
            delete.executeUpdate();
        }
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
     * Commits the connection's transaction with its changes written ahead into the outbox, then publishes them.
     *
     * @param conn the writing thread's connection (auto-commit off).
     * @return the transaction's stream position, or 0 when it changed nothing captured.
     * @throws SQLException when the commit fails (it is rolled back, nothing is published, its position is
     *                      skipped); when it is refused and rolled back because this node may not publish (no
     *                      lease from the membership quorum, or another node is the primary); or when it committed
     *                      but could not be published because the node lost that right in between: it stays in the
     *                      outbox, published by the next {@link #open} if this node is still the primary then, or
     *                      undone by the full sync that makes it a replica.
     */
    public long commit(final Connection conn) throws SQLException
    {
        final List<Change> changes = PENDING.get();
        try
        {
            if (changes.isEmpty())
            {
                conn.commit();
                return 0;
            }
            ddlLock.readLock().lock();
            final Transaction txn;
            try
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
                txn = new Transaction(origin, positions.incrementAndGet(), System.currentTimeMillis(),
                    List.copyOf(changes));
                commitWrittenAhead(conn, txn);
            }
            finally
            {
                ddlLock.readLock().unlock();
            }
            resolve(txn.position(), txn);
            return txn.position();
        }
        finally
        {
            endTransaction();
        }
    }

    /** Writes the transaction into the outbox and commits; on any failure rolls back and skips its position. */
    private void commitWrittenAhead(final Connection conn, final Transaction txn) throws SQLException
    {
        boolean committed = false;
        try
        {
            final ExpandableArrayBuffer buffer = ENCODE.get();
            final int length = TransactionCodec.encode(txn, buffer, 0);
            final byte[] bytes = new byte[length];
            buffer.getBytes(0, bytes);
            try (PreparedStatement insert = conn.prepareStatement("INSERT INTO \"" + OUTBOX +
                "\" (POSITION, TXN) VALUES (?, ?)"))
            {
                insert.setLong(1, txn.position());
                insert.setBytes(2, bytes);
                insert.executeUpdate();
            }
            conn.commit();
            committed = true;
        }
        finally
        {
            if (!committed)
            {
                try
                {
                    conn.rollback();
                }
                catch (final SQLException ex)
                {
                    LOG.log(System.Logger.Level.WARNING, "rollback after a failed commit failed too: " + ex);
                }
                resolve(txn.position(), ABORTED);
            }
        }
    }

    /**
     * A position is settled: hands over, in position order, every transaction from the next expected position on
     * that is ready. Whichever thread settles the next expected position publishes for the others.
     */
    private void resolve(final long position, final Object outcome) throws SQLException
    {
        resolved.put(position, outcome);
        synchronized (publishLock)
        {
            Object next;
            while (null != (next = resolved.remove(published + 1)))
            {
                if (next instanceof Transaction txn)
                {
                    try
                    {
                        publisher.publish(txn);
                    }
                    catch (final IllegalStateException fenced)
                    {
                        resolved.put(published + 1, txn);
                        throw new SQLException("transaction " + txn.position() + " committed on this node but was " +
                            "not published: " + fenced.getMessage() + "; it stays in the outbox", fenced);
                    }
                    publishedSincePrune++;
                }
                published++;
            }
            if (publishedSincePrune >= PRUNE_EVERY)
            {
                publishedSincePrune = 0;
                prune(admin, publisher.sync());
            }
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
     * Runs a DDL statement and publishes it (replicas apply it alone, as a barrier). It excludes commits while it
     * runs, so no transaction commits while it does (H2 rebuilds the table from a snapshot taken as the statement starts:
     * a commit in between would be lost from the copy), and only once no transaction has uncommitted changes to
     * the table (such a writer would hold the table while waiting for the commit lock): from the call on, new
     * changes to the table fail with SQL state 40001 until the DDL is published, and the transactions already
     * changing it are waited for.
     *
     * @param conn  a connection with nothing pending.
     * @param table the table it changes.
     * @param sql   the statement.
     * @return its stream position.
     * H2 commits a DDL statement by itself, so it cannot share a transaction with its outbox row: the row is
     * committed right after it, and a crash between the two loses the DDL from the stream.
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
            ddlLock.writeLock().lock();
            final Transaction txn;
            try
            {
                publisher.checkLease();
                txn = new Transaction(origin, positions.incrementAndGet(), System.currentTimeMillis(),
                    List.of(new Change(table, null, null, null, ChangeOp.DDL, null,
                        sql.getBytes(StandardCharsets.UTF_8))));
                try (Statement s = conn.createStatement())
                {
                    s.execute(sql);
                }
                catch (final SQLException ex)
                {
                    conn.rollback();
                    resolve(txn.position(), ABORTED);
                    throw ex;
                }
                commitWrittenAhead(conn, txn);
            }
            catch (final IllegalStateException fenced)
            {
                throw new SQLException("DDL refused: " + fenced.getMessage(), fenced);
            }
            finally
            {
                ddlLock.writeLock().unlock();
            }
            resolve(txn.position(), txn);
            return txn.position();
        }
        finally
        {
            DDL_PENDING.remove(key);
        }
    }

    /** @return the last position handed to the publisher (every one before it too, or skipped). */
    public long position()
    {
        synchronized (publishLock)
        {
            return published;
        }
    }
}
