package dev.fusion.replication;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An in-memory engine for the tests: tables of rows by primary key, a unique index on accounts.email, a
 * foreign key orders -> accounts, and a table without a primary key. It enforces its constraints, so applying
 * dependent transactions out of order fails loudly instead of quietly diverging. With {@code staged} true the
 * changes of {@link #apply} stay private until {@link #commit}.
 */
final class TableStore implements ApplyHandler
{
    final Map<String, Map<String, String>> tables = new ConcurrentHashMap<>();
    final Map<String, String> emailIndex = new ConcurrentHashMap<>();
    final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<Long> commitOrder = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Map<Long, Transaction> staged = new ConcurrentHashMap<>();
    private final boolean stage;
    private final long applyDelayNanos;

    TableStore(final boolean stage, final long applyDelayNanos)
    {
        this.stage = stage;
        this.applyDelayNanos = applyDelayNanos;
        tables.put("accounts", new ConcurrentHashMap<>());
        tables.put("orders", new ConcurrentHashMap<>());
    }

    @Override
    public void apply(final Transaction txn)
    {
        if (applyDelayNanos > 0)
        {
            java.util.concurrent.locks.LockSupport.parkNanos(applyDelayNanos);
        }
        if (stage)
        {
            staged.put(txn.position(), txn);
        }
        else
        {
            write(txn);
        }
    }

    @Override
    public void commit(final Transaction txn)
    {
        if (stage)
        {
            write(staged.remove(txn.position()));
        }
        commitOrder.add(txn.position());
    }

    private void write(final Transaction txn)
    {
        for (final Change c : txn.changes())
        {
            final String table = c.table();
            if (c.op() == ChangeOp.DDL)
            {
                final String suffix = text(c.after());
                tables.get(table).replaceAll((k, v) -> v + suffix);
                continue;
            }
            if (null == c.primaryKey())
            {
                log.add(text(c.after()));
                continue;
            }
            final String pk = text(c.primaryKey().value());
            final Map<String, String> rows = tables.get(table);
            switch (c.op())
            {
                case INSERT ->
                {
                    if (rows.putIfAbsent(pk, text(c.after())) != null)
                    {
                        throw new IllegalStateException("duplicate key " + table + "/" + pk);
                    }
                    checkForeignKey(c);
                    indexEmail(table, pk, text(c.after()));
                }
                case UPDATE ->
                {
                    if (rows.replace(pk, text(c.after())) == null)
                    {
                        throw new IllegalStateException("update of missing " + table + "/" + pk);
                    }
                    unindexEmail(table, text(c.before()));
                    indexEmail(table, pk, text(c.after()));
                }
                case DELETE ->
                {
                    if (rows.remove(pk) == null)
                    {
                        throw new IllegalStateException("delete of missing " + table + "/" + pk);
                    }
                    if ("accounts".equals(table) && tables.get("orders").values().stream()
                        .anyMatch(o -> o.startsWith(pk + ",")))
                    {
                        throw new IllegalStateException("delete of account " + pk + " with orders");
                    }
                    unindexEmail(table, text(c.before()));
                }
                default -> throw new IllegalStateException("unexpected op " + c.op());
            }
        }
    }

    private void checkForeignKey(final Change c)
    {
        for (final KeyRef parent : c.parentKeys())
        {
            if (!tables.get(parent.table()).containsKey(text(parent.value())))
            {
                throw new IllegalStateException("foreign key: missing " + parent);
            }
        }
    }

    private void indexEmail(final String table, final String pk, final String row)
    {
        if ("accounts".equals(table))
        {
            final String email = row.split(",")[0];
            final String other = emailIndex.putIfAbsent(email, pk);
            if (null != other && !other.equals(pk))
            {
                throw new IllegalStateException("unique email " + email + " already used by " + other);
            }
        }
    }

    private void unindexEmail(final String table, final String row)
    {
        if ("accounts".equals(table))
        {
            emailIndex.remove(row.split(",")[0]);
        }
    }

    /** Writes every table, the log and the index; the caller knows the position it reflects. */
    synchronized void writeSnapshot(final java.io.OutputStream out) throws java.io.IOException
    {
        final java.io.DataOutputStream data = new java.io.DataOutputStream(out);
        data.writeInt(tables.size());
        for (final Map.Entry<String, Map<String, String>> table : new TreeMap<>(tables).entrySet())
        {
            data.writeUTF(table.getKey());
            data.writeInt(table.getValue().size());
            for (final Map.Entry<String, String> row : new TreeMap<>(table.getValue()).entrySet())
            {
                data.writeUTF(row.getKey());
                data.writeUTF(row.getValue());
            }
        }
        data.writeInt(log.size());
        for (final String line : List.copyOf(log))
        {
            data.writeUTF(line);
        }
        data.writeInt(emailIndex.size());
        for (final Map.Entry<String, String> e : new TreeMap<>(emailIndex).entrySet())
        {
            data.writeUTF(e.getKey());
            data.writeUTF(e.getValue());
        }
        data.flush();
    }

    /** Replaces everything with a snapshot. */
    synchronized void loadSnapshot(final java.io.InputStream in) throws java.io.IOException
    {
        final java.io.DataInputStream data = new java.io.DataInputStream(in);
        tables.clear();
        final int tableCount = data.readInt();
        for (int t = 0; t < tableCount; t++)
        {
            final Map<String, String> rows = new ConcurrentHashMap<>();
            tables.put(data.readUTF(), rows);
            final int n = data.readInt();
            for (int i = 0; i < n; i++)
            {
                rows.put(data.readUTF(), data.readUTF());
            }
        }
        log.clear();
        final int logCount = data.readInt();
        for (int i = 0; i < logCount; i++)
        {
            log.add(data.readUTF());
        }
        emailIndex.clear();
        final int emails = data.readInt();
        for (int i = 0; i < emails; i++)
        {
            emailIndex.put(data.readUTF(), data.readUTF());
        }
    }

    Map<String, Object> snapshot()
    {
        final Map<String, Object> s = new TreeMap<>();
        tables.forEach((t, rows) -> s.put(t, new TreeMap<>(rows)));
        s.put("log", List.copyOf(log));
        s.put("emails", new TreeMap<>(emailIndex));
        return s;
    }

    static String text(final byte[] bytes)
    {
        return null == bytes ? null : new String(bytes, StandardCharsets.UTF_8);
    }
}
