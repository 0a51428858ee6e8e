package dev.fusion.replication;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A subscriber engine that survives kill -9: every commit appends the transaction to its own fsynced log
 * (CRC per record, torn tail cut on open) before it becomes visible, so the log is both the data and the
 * applied watermark, written atomically together. A full sync writes the snapshot and its position to a file
 * renamed into place atomically; reopening loads that snapshot, then replays the log after its position.
 */
final class DurableEngine implements ApplyHandler, SnapshotSink, AutoCloseable
{
    final TableStore state = new TableStore(true, 0);
    private final Path dir;
    private final ReplicationLog log;
    private long snapshotPosition;

    DurableEngine(final Path dir)
    {
        this.dir = dir;
        try
        {
            Files.createDirectories(dir);
            final Path snapshot = dir.resolve("snapshot.bin");
            if (Files.exists(snapshot))
            {
                try (java.io.DataInputStream in = new java.io.DataInputStream(
                    new java.io.BufferedInputStream(Files.newInputStream(snapshot))))
                {
                    snapshotPosition = in.readLong();
                    state.loadSnapshot(in);
                }
            }
            log = ReplicationLog.open(dir.resolve("log"), 1 << 20, Long.MAX_VALUE / 2, true);
            log.replay(0, t ->
            {
                if (t.position() > snapshotPosition)
                {
                    state.apply(t);
                    state.commit(t);
                }
            });
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final NotRetainedException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    long watermark()
    {
        return Math.max(snapshotPosition, log.lastPosition());
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
    public void load(final InputStream in, final long position) throws IOException
    {
        final byte[] bytes = in.readAllBytes();
        final Path tmp = dir.resolve("snapshot.tmp");
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(Files.newOutputStream(tmp)))
        {
            out.writeLong(position);
            out.write(bytes);
        }
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(tmp,
            java.nio.file.StandardOpenOption.WRITE))
        {
            channel.force(true);
        }
        Files.move(tmp, dir.resolve("snapshot.bin"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        state.loadSnapshot(new java.io.ByteArrayInputStream(bytes));
        snapshotPosition = position;
    }

    @Override
    public void close()
    {
        log.close();
    }
}
