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
import java.util.Objects;

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
     * @throws SQLException when the commit fails (nothing is published; the changes are dropped).
     */
    public long commit(final Connection conn) throws SQLException
    {
        final List<Change> changes = PENDING.get();
        try
        {
            synchronized (commitLock)
            {
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
            changes.clear();
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
        PENDING.get().clear();
        conn.rollback();
    }

    /**
     * Runs a DDL statement and publishes it (replicas apply it alone, as a barrier).
     *
     * @param conn  a connection with nothing pending.
     * @param table the table it changes.
     * @param sql   the statement.
     * @return its stream position.
     * @throws SQLException when it fails (nothing is published).
     */
    public long ddl(final Connection conn, final String table, final String sql) throws SQLException
    {
        synchronized (commitLock)
        {
            try (Statement s = conn.createStatement())
            {
                s.execute(sql);
            }
            conn.commit();
            final long p = ++position;
            publisher.publish(new Transaction(origin, p, System.currentTimeMillis(), List.of(new Change(table, null,
                null, null, ChangeOp.DDL, null, sql.getBytes(StandardCharsets.UTF_8)))));
            return p;
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
