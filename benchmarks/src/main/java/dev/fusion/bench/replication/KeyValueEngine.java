package dev.fusion.bench.replication;

import dev.fusion.replication.ApplyHandler;
import dev.fusion.replication.Change;
import dev.fusion.replication.Transaction;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * A key-value table for the replication benchmark: each change sets a row to its after image. An optional
 * delay per transaction stands for the I/O a real engine's apply waits on (a commit's fsync, a page read).
 */
class KeyValueEngine implements ApplyHandler
{
    private final Map<String, String> rows = new ConcurrentHashMap<>();
    private final long delayNs;

    KeyValueEngine(final long delayNs)
    {
        this.delayNs = delayNs;
    }

    @Override
    public void apply(final Transaction txn)
    {
        if (delayNs > 0)
        {
            LockSupport.parkNanos(delayNs);
        }
        for (final Change c : txn.changes())
        {
            rows.put(new String(c.primaryKey().value(), StandardCharsets.UTF_8),
                new String(c.after(), StandardCharsets.UTF_8));
        }
    }

    Map<String, String> snapshot()
    {
        return new TreeMap<>(rows);
    }
}
