package dev.fusion.cachefusion.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * One node's redo: an append-only file of committed changes on shared storage, so survivors can recover the
 * blocks a dead node held. A record is {@code i32 length, i32 crc32, i64 scn, i32 count, count x (i32 page,
 * i32 row, i64 balance)}; reading stops at a torn or corrupt tail. Writes reach the operating system at every
 * commit (they survive a killed process); {@code fsync} also forces them to the device.
 */
public final class RedoLog implements AutoCloseable
{
    /** A committed change to one row. */
    public record Change(int page, int row, long balance)
    {
    }

    /** A committed transaction. */
    public record Record(long scn, List<Change> changes)
    {
    }

    private final FileChannel channel;
    private final boolean fsync;
    private final CRC32 crc = new CRC32();
    private long flushedScn;

    /**
     * @param file  the log file (appended to).
     * @param fsync whether a commit waits for the device, not just the operating system.
     */
    public RedoLog(final Path file, final boolean fsync)
    {
        try
        {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        this.fsync = fsync;
    }

    /**
     * Appends and flushes one transaction's changes: when this returns, the transaction is committed.
     *
     * @param scn     the transaction's SCN.
     * @param changes its row changes.
     */
    public synchronized void commit(final long scn, final List<Change> changes)
    {
        final int bodyLength = 12 + changes.size() * 16;
        final ByteBuffer b = ByteBuffer.allocate(8 + bodyLength).order(ByteOrder.LITTLE_ENDIAN);
        b.position(8);
        b.putLong(scn).putInt(changes.size());
        for (final Change c : changes)
        {
            b.putInt(c.page()).putInt(c.row()).putLong(c.balance());
        }
        crc.reset();
        crc.update(b.array(), 8, bodyLength);
        b.putInt(0, bodyLength).putInt(4, (int)crc.getValue());
        b.flip();
        try
        {
            while (b.hasRemaining())
            {
                channel.write(b);
            }
            if (fsync)
            {
                channel.force(false);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        flushedScn = Math.max(flushedScn, scn);
    }

    /** @return the highest SCN durable in this log. */
    public synchronized long flushedScn()
    {
        return flushedScn;
    }

    /**
     * Reads a node's log from shared storage.
     *
     * @param file the log file.
     * @return its complete records in order; empty when the file does not exist.
     */
    public static List<Record> read(final Path file)
    {
        final List<Record> records = new ArrayList<>();
        if (!Files.exists(file))
        {
            return records;
        }
        try
        {
            final ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            final CRC32 check = new CRC32();
            while (b.remaining() >= 8)
            {
                final int length = b.getInt(b.position());
                final int crc = b.getInt(b.position() + 4);
                if (length < 12 || length > b.remaining() - 8)
                {
                    break; // torn tail
                }
                check.reset();
                check.update(b.array(), b.position() + 8, length);
                if ((int)check.getValue() != crc)
                {
                    break;
                }
                b.position(b.position() + 8);
                final long scn = b.getLong();
                final int count = b.getInt();
                final List<Change> changes = new ArrayList<>(count);
                for (int i = 0; i < count; i++)
                {
                    changes.add(new Change(b.getInt(), b.getInt(), b.getLong()));
                }
                records.add(new Record(scn, changes));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return records;
    }

    @Override
    public synchronized void close()
    {
        try
        {
            channel.close();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
