package dev.fusion.replication;

import java.util.List;

/**
 * One row change (or one DDL statement) of a committed transaction.
 *
 * @param table      the table.
 * @param primaryKey the row's primary key, or null when the table has none (such changes are barriers).
 * @param uniqueKeys the row's unique keys (before and after values both, for updates that change them).
 * @param parentKeys the parent rows its foreign keys reference.
 * @param op         what it does.
 * @param before     the row before (UPDATE, DELETE), or null.
 * @param after      the row after (INSERT, UPDATE), or the DDL text, or null.
 */
public record Change(
    String table,
    KeyRef primaryKey,
    List<KeyRef> uniqueKeys,
    List<KeyRef> parentKeys,
    ChangeOp op,
    byte[] before,
    byte[] after)
{
    /** Validates. */
    public Change
    {
        if (null == table || table.isEmpty())
        {
            throw new IllegalArgumentException("a change needs a table");
        }
        if (null == op)
        {
            throw new IllegalArgumentException("a change needs an op");
        }
        uniqueKeys = null == uniqueKeys ? List.of() : List.copyOf(uniqueKeys);
        parentKeys = null == parentKeys ? List.of() : List.copyOf(parentKeys);
    }
}
