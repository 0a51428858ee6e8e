package dev.fusion.h2;

import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.KeyRef;
import org.h2.api.Trigger;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The row trigger {@link H2Capture} installs: records each inserted, updated or deleted row of its table in the
 * writing thread's pending transaction, with the primary key and the parent keys its foreign keys reference (the
 * write set the replica's dependency graph orders by). H2 calls it on the writing thread, inside the statement.
 */
public final class CaptureTrigger implements Trigger
{
    private String schema;
    private String table;
    private volatile TableInfo info;
    private String key;

    @Override
    public void init(final Connection conn, final String schemaName, final String triggerName,
        final String tableName, final boolean before, final int type) throws SQLException
    {
        this.schema = schemaName;
        // the trigger's name carries the table's: during ALTER TABLE, H2 fires it on a temporary copy's name
        // (ALTER TABLE rebuilds the table as <T>_COPY_n_m with a trigger <T>_COPY_n_m_FUSION_CAPTURE_<T>, then
        // renames the table but not the trigger instance)
        final int at = triggerName.indexOf(H2Capture.TRIGGER_PREFIX);
        this.table = at >= 0 ? triggerName.substring(at + H2Capture.TRIGGER_PREFIX.length()) : tableName;
        if (!table.equals(tableName))
        {
            System.getLogger(CaptureTrigger.class.getName()).log(System.Logger.Level.DEBUG,
                "capture trigger " + triggerName + " fires on " + tableName + " for table " + table);
        }
        this.info = TableInfo.read(conn, schemaName, tableName);
        this.key = H2Capture.key(conn, table);
    }

    @Override
    public void fire(final Connection conn, final Object[] oldRow, final Object[] newRow) throws SQLException
    {
        H2Capture.touch(key);
        final Object[] row = null != newRow ? newRow : oldRow;
        TableInfo t = info;
        if (row.length != t.columns().size())
        {
            t = TableInfo.read(conn, schema, table); // the table changed shape (a DDL)
            if (t.columns().size() != row.length)
            {
                throw new SQLException("capture of table " + table + ": a row of " + row.length +
                    " columns, the table has " + t.columns().size());
            }
            info = t;
        }
        final ChangeOp op = null == oldRow ? ChangeOp.INSERT : null == newRow ? ChangeOp.DELETE : ChangeOp.UPDATE;
        final KeyRef pk = t.primaryKey().isEmpty() ? null :
            new KeyRef(table, RowCodec.encodeValues(t.values(row, t.primaryKey())));
        final List<KeyRef> parents = new ArrayList<>();
        for (final Map.Entry<String, List<String>> p : t.parents().entrySet())
        {
            final Object[] values = t.values(row, p.getValue());
            boolean allNull = true;
            for (final Object v : values)
            {
                allNull &= null == v;
            }
            if (!allNull)
            {
                parents.add(new KeyRef(p.getKey().substring(0, p.getKey().indexOf('#')),
                    RowCodec.encodeValues(values)));
            }
        }
        H2Capture.pending().add(new Change(table, pk, null, parents.isEmpty() ? null : parents, op,
            null == oldRow ? null : RowCodec.encode(t.columns(), oldRow),
            null == newRow ? null : RowCodec.encode(t.columns(), newRow)));
    }
}
