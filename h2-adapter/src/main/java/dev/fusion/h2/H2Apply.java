package dev.fusion.h2;

import dev.fusion.replication.ApplyHandler;
import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.Transaction;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Applies replicated transactions into an H2 database over JDBC, for a {@link dev.fusion.replication.ParallelApplier}
 * with commit order preserved: {@link #apply} runs a transaction's statements on a pooled connection without
 * committing (workers in parallel, each on its own connection); {@link #commit} (in source order) writes the
 * position into {@code FUSION_WATERMARK} and commits, in the same JDBC transaction, so a restart resumes exactly
 * after the last commit ({@link #watermark()}).
 * <p>
 * A transaction holds its connection from {@code apply} to {@code commit}, and with commit order preserved the
 * workers may run ahead of the oldest uncommitted transaction by up to the applier's window; so connections are
 * opened on demand (a fixed pool could be exhausted by transactions waiting for an older one that no worker can
 * then apply) and kept idle for reuse.
 */
public final class H2Apply implements ApplyHandler, AutoCloseable
{
    private final String url;
    private final Queue<Connection> pool = new ConcurrentLinkedQueue<>();
    private final Queue<Connection> all = new ConcurrentLinkedQueue<>();
    private final Map<Long, Connection> inFlight = new ConcurrentHashMap<>();
    private final Map<String, TableInfo> tables = new ConcurrentHashMap<>();

    /**
     * @param url         the replica's JDBC URL.
     * @param connections connections opened up front (typically the applier's workers + 1); more are opened on
     *                    demand.
     * @throws SQLException when the database cannot be opened.
     */
    public H2Apply(final String url, final int connections) throws SQLException
    {
        this.url = url;
        for (int i = 0; i < Math.max(1, connections); i++)
        {
            pool.add(open());
        }
        final Connection c = pool.peek();
        try (Statement s = c.createStatement())
        {
            s.execute("CREATE TABLE IF NOT EXISTS FUSION_WATERMARK(ID INT PRIMARY KEY, POSITION BIGINT NOT NULL)");
            s.execute("MERGE INTO FUSION_WATERMARK KEY(ID) VALUES (0, COALESCE((SELECT POSITION FROM " +
                "FUSION_WATERMARK WHERE ID = 0), 0))");
        }
        c.commit();
    }

    private Connection open() throws SQLException
    {
        final Connection c = DriverManager.getConnection(url);
        c.setAutoCommit(false);
        all.add(c);
        return c;
    }

    /** @return connections opened so far. */
    public int connections()
    {
        return all.size();
    }

    /** @return the position of the last transaction committed here (0 for none). */
    public long watermark() throws SQLException
    {
        try (Connection c = DriverManager.getConnection(url);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT POSITION FROM FUSION_WATERMARK WHERE ID = 0"))
        {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    @Override
    public void apply(final Transaction txn) throws Exception
    {
        final Connection pooled = pool.poll();
        final Connection c = null == pooled ? open() : pooled;
        try
        {
            for (final Change change : txn.changes())
            {
                if (change.op() == ChangeOp.DDL)
                {
                    ddl(c, txn.position(), change);
                }
                else
                {
                    apply(c, change);
                }
            }
            inFlight.put(txn.position(), c);
        }
        catch (final Exception ex)
        {
            c.rollback();
            pool.add(c);
            throw ex;
        }
    }

    @Override
    public void commit(final Transaction txn) throws Exception
    {
        final Connection c = inFlight.remove(txn.position());
        try (PreparedStatement s = c.prepareStatement("UPDATE FUSION_WATERMARK SET POSITION = ? WHERE ID = 0"))
        {
            s.setLong(1, txn.position());
            s.executeUpdate();
            c.commit();
        }
        finally
        {
            pool.add(c);
        }
    }

    private static final java.util.regex.Pattern DROP = java.util.regex.Pattern.compile("(?s)(DROP|ALTER\\s.*\\sDROP)\\s.*");
    /** H2 error codes saying what a CREATE or ADD makes already exists: table, index, column, constraint. */
    private static final java.util.Set<Integer> ALREADY_EXISTS = java.util.Set.of(42101, 42111, 42121, 90045);
    /** H2 error codes saying what a DROP removes is already gone: table, index, column, constraint. */
    private static final java.util.Set<Integer> ALREADY_GONE = java.util.Set.of(42102, 42104, 42112, 42122, 90057);

    /**
     * H2 commits a DDL statement by itself, so it cannot share the watermark's transaction: a marker (row 1 of
     * {@code FUSION_WATERMARK}) records the DDL's position, committed before it runs. After a crash between the
     * DDL and its watermark, the replay finds the marker at this position: the DDL may have run, so a failure
     * saying its effect is already there (what a CREATE or ADD makes exists, what a DROP removes is gone) is taken
     * as done (logged); any other failure stops the applier.
     */
    private void ddl(final Connection c, final long position, final Change change) throws SQLException
    {
        final String sql = new String(change.after(), StandardCharsets.UTF_8);
        long started = 0;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT POSITION FROM FUSION_WATERMARK WHERE ID = 1"))
        {
            if (rs.next())
            {
                started = rs.getLong(1);
            }
        }
        if (started != position)
        {
            try (PreparedStatement s = c.prepareStatement("MERGE INTO FUSION_WATERMARK KEY(ID) VALUES (1, ?)"))
            {
                s.setLong(1, position);
                s.executeUpdate();
            }
            c.commit();
        }
        try (Statement s = c.createStatement())
        {
            s.execute(sql);
        }
        catch (final SQLException ex)
        {
            final boolean drop = DROP.matcher(sql.trim().toUpperCase(java.util.Locale.ROOT)).matches();
            if (started != position || !(drop ? ALREADY_GONE : ALREADY_EXISTS).contains(ex.getErrorCode()))
            {
                throw ex;
            }
            c.rollback();
            System.getLogger(H2Apply.class.getName()).log(System.Logger.Level.WARNING, "DDL at position " +
                position + " had already run before a restart (" + ex.getMessage() + "): taken as applied");
        }
        tables.remove(change.table());
    }

    private void apply(final Connection c, final Change change) throws SQLException
    {
        final TableInfo t = tables.computeIfAbsent(change.table(), name ->
        {
            try
            {
                return TableInfo.read(c, "PUBLIC", name);
            }
            catch (final SQLException ex)
            {
                throw new IllegalStateException("cannot read table " + name + ": " + ex.getMessage(), ex);
            }
        });
        final RowCodec.Row after = null == change.after() ? null : RowCodec.decode(change.after());
        final RowCodec.Row before = null == change.before() ? null : RowCodec.decode(change.before());
        switch (change.op())
        {
            case INSERT -> insert(c, change.table(), after);
            case UPDATE -> update(c, change.table(), t.primaryKey(), before, after);
            case DELETE -> delete(c, change.table(), t.primaryKey(), before);
            default -> throw new IllegalArgumentException("unsupported change " + change.op());
        }
    }

    private static void insert(final Connection c, final String table, final RowCodec.Row row) throws SQLException
    {
        final StringBuilder sql = new StringBuilder("INSERT INTO \"").append(table).append("\" (");
        final StringBuilder marks = new StringBuilder();
        for (int i = 0; i < row.columns().length; i++)
        {
            sql.append(i == 0 ? "" : ",").append('"').append(row.columns()[i]).append('"');
            marks.append(i == 0 ? "?" : ",?");
        }
        sql.append(") VALUES (").append(marks).append(')');
        execute(c, sql.toString(), row.values(), 1);
    }

    private static void update(final Connection c, final String table, final List<String> pk, final RowCodec.Row before,
        final RowCodec.Row after) throws SQLException
    {
        final StringBuilder sql = new StringBuilder("UPDATE \"").append(table).append("\" SET ");
        for (int i = 0; i < after.columns().length; i++)
        {
            sql.append(i == 0 ? "" : ",").append('"').append(after.columns()[i]).append("\"=?");
        }
        final Object[] where = where(sql, pk, before);
        final Object[] args = new Object[after.values().length + where.length];
        System.arraycopy(after.values(), 0, args, 0, after.values().length);
        System.arraycopy(where, 0, args, after.values().length, where.length);
        execute(c, sql.toString(), args, 1);
    }

    private static void delete(final Connection c, final String table, final List<String> pk, final RowCodec.Row before)
        throws SQLException
    {
        final StringBuilder sql = new StringBuilder("DELETE FROM \"").append(table).append('"');
        final Object[] args = where(sql, pk, before);
        execute(c, sql.toString(), args, 1);
    }

    /** By primary key; a table without one is matched on every column, one row at a time. */
    private static Object[] where(final StringBuilder sql, final List<String> pk, final RowCodec.Row before)
    {
        final List<String> columns = pk.isEmpty() ? List.of(before.columns()) : pk;
        final Object[] values = new Object[columns.size()];
        sql.append(" WHERE ");
        for (int i = 0; i < columns.size(); i++)
        {
            sql.append(i == 0 ? "" : " AND ").append('"').append(columns.get(i)).append("\" IS NOT DISTINCT FROM ?");
            values[i] = before.values()[List.of(before.columns()).indexOf(columns.get(i))];
        }
        if (pk.isEmpty())
        {
            sql.append(" FETCH FIRST 1 ROW ONLY");
        }
        return values;
    }

    private static void execute(final Connection c, final String sql, final Object[] args, final int expected)
        throws SQLException
    {
        try (PreparedStatement s = c.prepareStatement(sql))
        {
            for (int i = 0; i < args.length; i++)
            {
                s.setObject(i + 1, args[i]);
            }
            final int rows = s.executeUpdate();
            if (rows != expected)
            {
                throw new SQLException("replica diverged: " + sql + " changed " + rows + " rows, expected " + expected);
            }
        }
    }

    @Override
    public void close() throws SQLException
    {
        for (final Connection c : all)
        {
            c.close();
        }
    }
}
