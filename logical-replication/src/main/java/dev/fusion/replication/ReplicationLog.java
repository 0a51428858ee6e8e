package dev.fusion.replication;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32;

/**
 * The publisher's durable, bounded replication log: transactions appended in commit order to segment files,
 * replayed from any retained position (partial resync), with the oldest segments deleted beyond a size bound
 * or once their newest transaction is older than an age bound.
 * Each record is {@code i32 length, i32 CRC32 of the payload, i64 position, i64 commit time ms, payload}
 * (little-endian, payload
 * in {@link TransactionCodec} form). Opening a log truncates a torn record at the end of the last segment (a
 * crash mid-append), so nothing half-written is ever replayed; a bad record anywhere else is corruption and
 * fails the replay loudly.
 * <p>
 * Thread-safe: appends and replays may come from different threads.
 */
public final class ReplicationLog implements AutoCloseable
{
    private static final int RECORD_HEADER = 24;
    private static final String SUFFIX = ".log";
    private static final String RETAINED_AFTER = "retained-after";

    private final Path dir;
    private final long segmentBytes;
    private final long retentionBytes;
    private final long retentionAgeMs;
    private final boolean syncEachAppend;
    private final List<Segment> segments = new ArrayList<>();
    private final ExpandableArrayBuffer encodeBuffer = new ExpandableArrayBuffer(1024);
    private final CRC32 crc = new CRC32();
    private FileChannel active;
    private long lastPosition;
    private long retainedAfter;

    /** Every this many records a segment remembers where one starts, so a replay need not read from byte 0. */
    private static final int INDEX_EVERY = 64;

    private static final class Segment
    {
        final Path file;
        final long firstPosition;
        long lastPosition;
        long lastCommitMs;
        long bytes;
        long records;
        /** Sparse index: the position and byte offset of every {@link #INDEX_EVERY}th record (guarded by the log). */
        final org.agrona.collections.LongArrayList indexPositions = new org.agrona.collections.LongArrayList();
        final org.agrona.collections.LongArrayList indexOffsets = new org.agrona.collections.LongArrayList();

        Segment(final Path file, final long firstPosition)
        {
            this.file = file;
            this.firstPosition = firstPosition;
        }

        /** Counts a record that starts at {@code offset}. */
        void add(final long position, final long offset)
        {
            if (records++ % INDEX_EVERY == 0)
            {
                indexPositions.addLong(position);
                indexOffsets.addLong(offset);
            }
        }

        /** @return the offset of the last indexed record at or before {@code position}, 0 when none. */
        long startFor(final long position)
        {
            int low = 0;
            int high = indexPositions.size() - 1;
            long start = 0;
            while (low <= high)
            {
                final int mid = (low + high) >>> 1;
                if (indexPositions.getLong(mid) <= position)
                {
                    start = indexOffsets.getLong(mid);
                    low = mid + 1;
                }
                else
                {
                    high = mid - 1;
                }
            }
            return start;
        }
    }

    /** What a replay reads of one segment, taken under the log's lock. */
    private record Span(Path file, long start, long bytes)
    {
    }

    private ReplicationLog(
        final Path dir, final long segmentBytes, final long retentionBytes, final long retentionAgeMs, final boolean sync)
    {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.retentionBytes = retentionBytes;
        this.retentionAgeMs = retentionAgeMs;
        this.syncEachAppend = sync;
    }

    /**
     * Opens (or creates) a log, recovering a torn tail.
     *
     * @param dir            the log's directory.
     * @param segmentBytes   a segment rolls over beyond this size (>= 4 KiB).
     * @param retentionBytes older segments are deleted while the log is larger than this (>= segmentBytes).
     * @param syncEachAppend fsync after every append (durable on return) or only on {@link #sync()}.
     * @return the log.
     */
    public static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final boolean syncEachAppend)
    {
        return open(dir, segmentBytes, retentionBytes, 0, syncEachAppend);
    }

    /**
     * Opens (or creates) a log with a size and an age bound, recovering a torn tail.
     *
     * @param dir            the log's directory.
     * @param segmentBytes   a segment rolls over beyond this size (>= 4 KiB).
     * @param retentionBytes older segments are deleted while the log is larger than this (>= segmentBytes).
     * @param retentionAgeMs a segment whose newest transaction committed longer ago than this is deleted
     *                       (0: no age bound).
     * @param syncEachAppend fsync after every append (durable on return) or only on {@link #sync()}.
     * @return the log.
     */
    public static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final boolean syncEachAppend)
    {
        if (retentionAgeMs < 0)
        {
            throw new IllegalArgumentException("retentionAgeMs must be >= 0, got " + retentionAgeMs);
        }
        if (segmentBytes < 4096)
        {
            throw new IllegalArgumentException("segmentBytes must be >= 4096, got " + segmentBytes);
        }
        if (retentionBytes < segmentBytes)
        {
            throw new IllegalArgumentException("retentionBytes (" + retentionBytes + ") must be >= segmentBytes (" +
                segmentBytes + ")");
        }
        final ReplicationLog log = new ReplicationLog(dir, segmentBytes, retentionBytes, retentionAgeMs, syncEachAppend);
        try
        {
            Files.createDirectories(dir);
            log.load();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot open replication log " + dir + ": " + ex.getMessage(), ex);
        }
        return log;
    }

    private void load() throws IOException
    {
        final Path retained = dir.resolve(RETAINED_AFTER);
        if (Files.exists(retained))
        {
            retainedAfter = Long.parseLong(Files.readString(retained, StandardCharsets.US_ASCII).trim());
        }
        final List<Path> files;
        try (Stream<Path> list = Files.list(dir))
        {
            files = list.filter(p -> p.getFileName().toString().endsWith(SUFFIX)).sorted().toList();
        }
        for (int i = 0; i < files.size(); i++)
        {
            final Path file = files.get(i);
            final String name = file.getFileName().toString();
            final Segment segment = new Segment(file, Long.parseLong(name.substring(0, name.length() - SUFFIX.length())));
            final boolean last = i == files.size() - 1;
            scan(segment, last);
            segments.add(segment);
        }
        if (!segments.isEmpty())
        {
            final Segment tail = segments.get(segments.size() - 1);
            lastPosition = tail.lastPosition;
            active = FileChannel.open(tail.file, StandardOpenOption.WRITE, StandardOpenOption.READ);
            active.position(tail.bytes);
        }
    }

    /** Reads the record headers of a segment; on the last segment a torn or corrupt tail is cut off. */
    private void scan(final Segment segment, final boolean last) throws IOException
    {
        try (FileChannel channel = FileChannel.open(segment.file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final long size = channel.size();
            long at = 0;
            final ByteBuffer header = ByteBuffer.allocate(RECORD_HEADER).order(ByteOrder.LITTLE_ENDIAN);
            while (at < size)
            {
                final Record record = readRecord(channel, at, size, header);
                // torn: incomplete, or a bad CRC on the very last record (a write cut short by a crash);
                // a bad record with more after it is corruption, and nothing after it is thrown away
                final boolean torn = null == record ||
                    (!record.valid() && at + RECORD_HEADER + record.payload().length == size);
                if (null != record && !record.valid() && !torn || torn && !last)
                {
                    throw new IOException("corrupt record at byte " + at + " of " + segment.file +
                        ": refusing to open (restore the log or re-create it and full-sync the subscribers)");
                }
                if (torn)
                {
                    System.getLogger(ReplicationLog.class.getName()).log(System.Logger.Level.WARNING,
                        "replication log: truncating a torn record at byte " + at + " of " + segment.file);
                    channel.truncate(at);
                    break;
                }
                segment.add(record.position, at);
                segment.lastPosition = record.position;
                segment.lastCommitMs = record.commitMs;
                at += RECORD_HEADER + record.payload.length;
            }
            segment.bytes = Math.min(at, size);
        }
    }

    private record Record(long position, long commitMs, byte[] payload, boolean valid)
    {
    }

    /** @return the record at {@code at}, null when it is incomplete; a complete one may fail its CRC. */
    private static Record readRecord(final FileChannel channel, final long at, final long size, final ByteBuffer header)
        throws IOException
    {
        if (size - at < RECORD_HEADER)
        {
            return null;
        }
        header.clear();
        channel.read(header, at);
        final int length = header.getInt(0);
        final int checksum = header.getInt(4);
        final long position = header.getLong(8);
        final long commitMs = header.getLong(16);
        if (length < 0 || size - at - RECORD_HEADER < length)
        {
            return null;
        }
        final ByteBuffer payload = ByteBuffer.allocate(length);
        channel.read(payload, at + RECORD_HEADER);
        final CRC32 crc = new CRC32();
        crc.update(payload.array(), 0, length);
        return new Record(position, commitMs, payload.array(), (int)crc.getValue() == checksum);
    }

    /**
     * Appends a transaction.
     *
     * @param txn the next transaction; its position must be above the last one appended.
     * @throws IllegalArgumentException when the position does not increase.
     */
    public synchronized void append(final Transaction txn)
    {
        if (txn.position() <= lastPosition)
        {
            throw new IllegalArgumentException("position " + txn.position() + " is not above the last appended " +
                lastPosition);
        }
        final int length = TransactionCodec.encode(txn, encodeBuffer, RECORD_HEADER);
        crc.reset();
        crc.update(encodeBuffer.byteArray(), RECORD_HEADER, length);
        encodeBuffer.putInt(0, length, ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putInt(4, (int)crc.getValue(), ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putLong(8, txn.position(), ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putLong(16, txn.commitTimeMs(), ByteOrder.LITTLE_ENDIAN);
        try
        {
            if (null == active || segments.get(segments.size() - 1).bytes >= segmentBytes)
            {
                roll(txn.position());
            }
            final ByteBuffer record = ByteBuffer.wrap(encodeBuffer.byteArray(), 0, RECORD_HEADER + length);
            while (record.hasRemaining())
            {
                active.write(record);
            }
            if (syncEachAppend)
            {
                active.force(false);
            }
            final Segment tail = segments.get(segments.size() - 1);
            tail.add(txn.position(), tail.bytes);
            tail.bytes += RECORD_HEADER + length;
            tail.lastPosition = txn.position();
            tail.lastCommitMs = txn.commitTimeMs();
            lastPosition = txn.position();
            enforceRetention();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot append to replication log " + dir, ex);
        }
    }

    private void roll(final long firstPosition) throws IOException
    {
        if (null != active)
        {
            active.force(false);
            active.close();
        }
        final Path file = dir.resolve(String.format("%020d%s", firstPosition, SUFFIX));
        active = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
        segments.add(new Segment(file, firstPosition));
    }

    private void enforceRetention() throws IOException
    {
        long total = 0;
        for (final Segment s : segments)
        {
            total += s.bytes;
        }
        final long expiredBefore = retentionAgeMs > 0 ? System.currentTimeMillis() - retentionAgeMs : Long.MIN_VALUE;
        while (segments.size() > 1 && (total > retentionBytes || segments.get(0).lastCommitMs < expiredBefore))
        {
            final Segment oldest = segments.remove(0);
            total -= oldest.bytes;
            retainedAfter = oldest.lastPosition;
            final Path tmp = dir.resolve(RETAINED_AFTER + ".tmp");
            Files.writeString(tmp, Long.toString(retainedAfter), StandardCharsets.US_ASCII);
            Files.move(tmp, dir.resolve(RETAINED_AFTER), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
            Files.delete(oldest.file);
        }
    }

    /** Forces appended records to disk. */
    public synchronized void sync()
    {
        try
        {
            if (null != active)
            {
                active.force(false);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** @return the last position appended, 0 when empty. */
    public synchronized long lastPosition()
    {
        return lastPosition;
    }

    /** @return every position after this one is retained. */
    public synchronized long retainedAfter()
    {
        return retainedAfter;
    }

    /**
     * Replays every retained transaction after {@code fromExclusive}, in order.
     *
     * @param fromExclusive the subscriber's applied watermark.
     * @param consumer      given each transaction.
     * @return the last position replayed ({@code fromExclusive} when there was nothing newer).
     * @throws NotRetainedException when transactions after {@code fromExclusive} were already deleted.
     */
    public long replay(final long fromExclusive, final Consumer<Transaction> consumer) throws NotRetainedException
    {
        final List<Span> spans = new ArrayList<>();
        synchronized (this)
        {
            if (fromExclusive < retainedAfter)
            {
                throw new NotRetainedException(fromExclusive, retainedAfter);
            }
            for (final Segment segment : segments)
            {
                if (segment.lastPosition > fromExclusive)
                {
                    spans.add(new Span(segment.file, segment.startFor(fromExclusive), segment.bytes));
                }
            }
        }
        long last = fromExclusive;
        final ByteBuffer header = ByteBuffer.allocate(RECORD_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        for (final Span segment : spans)
        {
            try (FileChannel channel = FileChannel.open(segment.file(), StandardOpenOption.READ))
            {
                final long size = segment.bytes();
                long at = segment.start();
                while (at < size)
                {
                    final Record record = readRecord(channel, at, size, header);
                    if (null == record || !record.valid())
                    {
                        throw new UncheckedIOException(new IOException(
                            "corrupt record at byte " + at + " of " + segment.file() + ": replay stopped"));
                    }
                    if (record.position > fromExclusive)
                    {
                        consumer.accept(TransactionCodec.decode(new UnsafeBuffer(record.payload), 0,
                            record.payload.length));
                        last = record.position;
                    }
                    at += RECORD_HEADER + record.payload.length;
                }
            }
            catch (final java.nio.file.NoSuchFileException ex)
            {
                throw new NotRetainedException(fromExclusive, retainedAfter());
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }
        return last;
    }

    @Override
    public synchronized void close()
    {
        try
        {
            if (null != active)
            {
                active.force(false);
                active.close();
                active = null;
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
