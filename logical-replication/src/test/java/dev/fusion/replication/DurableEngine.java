package dev.fusion.replication;

import java.nio.file.Path;

/**
 * A subscriber engine that survives kill -9: every commit appends the transaction to its own fsynced log
 * (CRC per record, torn tail cut on open) before it becomes visible, so the log is both the data and the
 * applied watermark, written atomically together. Reopening replays the log into memory.
 */
final class DurableEngine implements ApplyHandler, AutoCloseable
{
    final TableStore state = new TableStore(true, 0);
    private final ReplicationLog log;

    DurableEngine(final Path dir)
    {
        log = ReplicationLog.open(dir, 1 << 20, Long.MAX_VALUE / 2, true);
        try
        {
            log.replay(0, t ->
            {
                state.apply(t);
                state.commit(t);
            });
        }
        catch (final NotRetainedException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    long watermark()
    {
        return log.lastPosition();
    }

    @Override
    public void apply(final Transaction txn)
    {
        state.apply(txn);
    }

    @Override
    public void commit(final Transaction txn)
    {
        log.append(txn);
        state.commit(txn);
    }

    @Override
    public void close()
    {
        log.close();
    }
}
