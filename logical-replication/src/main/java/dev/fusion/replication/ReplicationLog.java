package dev.fusion.replication;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32;

/**
 * The publisher's durable, bounded replication log: transactions appended in commit order to segment files,
 * replayed from any retained position (partial resync), with the oldest segments deleted beyond a size bound
 * or once their newest transaction is older than an age bound.
 * <p>
 * <b>Record</b> (little-endian): {@code i32 length, i32 CRC32, i64 position, i64 commit time ms, payload}, where
 * {@code length} is the payload's, the payload is a transaction in {@link TransactionCodec} form, and the CRC32
 * covers the length, the position, the commit time and the payload (every byte of the record but the CRC itself).
 * A segment file is named by the position of its first record (20 digits) with {@code .log}; positions grow
 * strictly across the whole log. The file {@code retained-after} holds the position after which everything is
 * retained. Any other file in the directory is ignored with a warning.
 * <p>
 * <b>Durability</b>: {@link #append} returns once the record is written (in the page cache). With
 * {@link Durability#FSYNC} (the default) a committing thread then calls {@link #awaitDurable(long)}, which returns
 * once an fsync covering its record is done; the first waiting thread forces the log and the others wait for it,
 * so one fsync covers every record appended before it started (group commit). Appends are serialized only for
 * the write itself, never for an fsync. With {@link Durability#OS} nothing waits, and the tail of the log can be
 * lost on power loss. A segment is forced before the next one is started, and the directory is forced after a
 * segment is created or deleted and after {@code retained-after} is replaced.
 * <p>
 * <b>Faults</b>: a write that fails part way (a full disk, an I/O error) is truncated back to the last whole
 * record and {@code append} throws {@link ReplicationLogException}: nothing was written, and appends succeed again
 * once the fault is gone. A segment that cannot be created fails the append the same way and the current segment
 * stays in use. A failed fsync makes the log refuse every later append, since what it covered is unknown, until
 * the log is closed and opened again.
 * <p>
 * <b>Opening</b> checks every record. In the newest segment, a record that is incomplete, or fails its CRC with
 * nothing but zeros after it, is a torn tail (a crash mid-append, or a zero-filled region the file system
 * extended the file with) and is cut off, so nothing half-written is ever replayed; an empty newest segment is
 * removed. Any other bad record, or a position that does not exceed the one before it, is corruption: the log
 * refuses to open and names the file and the byte offset.
 * <p>
 * Thread-safe: appends, waits for durability and replays may come from different threads.
 */
public final class ReplicationLog implements AutoCloseable
{
    private static final int RECORD_HEADER = 24;
    private static final int LENGTH_OFFSET = 0;
    private static final int CRC_OFFSET = 4;
    private static final int POSITION_OFFSET = 8;
    private static final int COMMIT_TIME_OFFSET = 16;
    private static final String SUFFIX = ".log";
    private static final int NAME_DIGITS = 20;
    private static final String RETAINED_AFTER = "retained-after";
    private static final String RETAINED_AFTER_TMP = RETAINED_AFTER + ".tmp";
    /** Every this many records a segment remembers where one starts, so a replay need not read from byte 0. */
    private static final int INDEX_EVERY = 64;
    private static final System.Logger LOG = System.getLogger(ReplicationLog.class.getName());

    private final Path dir;
    private final SegmentFiles files;
    private final long segmentBytes;
    private final long retentionBytes;
    private final long retentionAgeMs;
    private final Durability durability;
    private final boolean syncEachAppend;
    private final List<Segment> segments = new ArrayList<>();
    private final ExpandableArrayBuffer encodeBuffer = new ExpandableArrayBuffer(1024);
    private final CRC32 crc = new CRC32();
    private ByteBuffer writeBuffer = ByteBuffer.wrap(encodeBuffer.byteArray());
    private long lastPosition;
    private long retainedAfter;
    private boolean closed;

    private final ReentrantLock syncLock = new ReentrantLock();
    private final Condition syncDone = syncLock.newCondition();
    /** A thread is forcing the log (guarded by {@link #syncLock}). */
    private boolean syncing;
    /** Every record up to this position is on disk. */
    private volatile long durablePosition;
    /** Set when an fsync failed, or a failed write could not be truncated: every later append is refused. */
    private volatile ReplicationLogException failure;

    private static final class Segment
    {
        final Path file;
        /** The open channel of the newest segment, null for older ones (guarded by the log). */
        FileChannel channel;
        /** Forced and closed to start the next segment: whatever it holds is on disk. */
        volatile boolean sealed;
        long lastPosition;
        long lastCommitMs;
        long bytes;
        long records;
        /** Sparse index: the position and byte offset of every {@link #INDEX_EVERY}th record (guarded by the log). */
        final LongArrayList indexPositions = new LongArrayList();
        final LongArrayList indexOffsets = new LongArrayList();

        Segment(final Path file)
        {
            this.file = file;
        }

        /** Counts a whole record that starts at {@code offset}. */
        void add(final long position, final long commitMs, final long offset, final int recordBytes)
        {
            if (records++ % INDEX_EVERY == 0)
            {
                indexPositions.addLong(position);
                indexOffsets.addLong(offset);
            }
            lastPosition = position;
            lastCommitMs = commitMs;
            bytes = offset + recordBytes;
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

    /** A record read back: {@code bytes} holds the whole record, header included. */
    private record Record(long position, long commitMs, byte[] bytes, int length, boolean valid)
    {
    }

    private ReplicationLog(final Path dir, final SegmentFiles files, final long segmentBytes,
        final long retentionBytes, final long retentionAgeMs, final Durability durability,
        final boolean syncEachAppend)
    {
        this.dir = dir;
        this.files = files;
        this.segmentBytes = segmentBytes;
        this.retentionBytes = retentionBytes;
        this.retentionAgeMs = retentionAgeMs;
        this.durability = durability;
        this.syncEachAppend = syncEachAppend;
    }

    /**
     * Opens (or creates) a log with {@link Durability#FSYNC} and no age bound, recovering a torn tail.
     *
     * @param dir            the log's directory.
     * @param segmentBytes   a segment rolls over beyond this size (>= 4 KiB).
     * @param retentionBytes older segments are deleted while the log is larger than this (>= segmentBytes).
     * @return the log.
     */
    public static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes)
    {
        return open(dir, segmentBytes, retentionBytes, 0, Durability.FSYNC);
    }

    /**
     * Opens (or creates) a log, recovering a torn tail.
     *
     * @param dir            the log's directory.
     * @param segmentBytes   a segment rolls over beyond this size (>= 4 KiB).
     * @param retentionBytes older segments are deleted while the log is larger than this (>= segmentBytes).
     * @param syncEachAppend true: {@link Durability#FSYNC} with {@link #append} itself waiting for the fsync
     *                       (durable on return); false: {@link Durability#OS}.
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
     * @param syncEachAppend true: {@link Durability#FSYNC} with {@link #append} itself waiting for the fsync
     *                       (durable on return); false: {@link Durability#OS}.
     * @return the log.
     */
    public static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final boolean syncEachAppend)
    {
        return open(dir, segmentBytes, retentionBytes, retentionAgeMs, syncEachAppend, SegmentFiles.DEFAULT);
    }

    /**
     * Opens (or creates) a log with a size and an age bound and a durability, recovering a torn tail.
     *
     * @param dir            the log's directory.
     * @param segmentBytes   a segment rolls over beyond this size (>= 4 KiB).
     * @param retentionBytes older segments are deleted while the log is larger than this (>= segmentBytes).
     * @param retentionAgeMs a segment whose newest transaction committed longer ago than this is deleted
     *                       (0: no age bound).
     * @param durability     what {@link #awaitDurable(long)} waits for.
     * @return the log.
     */
    public static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final Durability durability)
    {
        return open(dir, segmentBytes, retentionBytes, retentionAgeMs, durability, false, SegmentFiles.DEFAULT);
    }

    static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final boolean syncEachAppend, final SegmentFiles files)
    {
        return open(dir, segmentBytes, retentionBytes, retentionAgeMs,
            syncEachAppend ? Durability.FSYNC : Durability.OS, syncEachAppend, files);
    }

    static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final Durability durability, final SegmentFiles files)
    {
        return open(dir, segmentBytes, retentionBytes, retentionAgeMs, durability, false, files);
    }

    private static ReplicationLog open(final Path dir, final long segmentBytes, final long retentionBytes,
        final long retentionAgeMs, final Durability durability, final boolean syncEachAppend,
        final SegmentFiles files)
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
        final ReplicationLog log = new ReplicationLog(
            dir, files, segmentBytes, retentionBytes, retentionAgeMs, durability, syncEachAppend);
        try
        {
            Files.createDirectories(dir);
            log.load();
        }
        catch (final IOException ex)
        {
            log.closeQuietly();
            throw new ReplicationLogException("cannot open replication log " + dir + ": " + ex.getMessage(), ex);
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
        boolean dirChanged = Files.deleteIfExists(dir.resolve(RETAINED_AFTER_TMP));
        final List<Path> found = segmentFiles();
        long previous = 0;
        for (int i = 0; i < found.size(); i++)
        {
            final Segment segment = new Segment(found.get(i));
            previous = scan(segment, i == found.size() - 1, previous);
            if (0 == segment.records)
            {
                LOG.log(System.Logger.Level.WARNING, "replication log: removing the empty segment " + segment.file);
                Files.delete(segment.file);
                dirChanged = true;
            }
            else
            {
                segments.add(segment);
            }
        }
        lastPosition = Math.max(retainedAfter, previous);
        if (!segments.isEmpty())
        {
            final Segment tail = segments.get(segments.size() - 1);
            tail.channel = files.open(tail.file, StandardOpenOption.WRITE, StandardOpenOption.READ);
            tail.channel.force(false);
        }
        if (dirChanged)
        {
            syncDirectory();
        }
        durablePosition = lastPosition;
    }

    /** @return the segment files in position order; anything else but {@code retained-after} is warned about. */
    private List<Path> segmentFiles() throws IOException
    {
        final List<Path> found = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir))
        {
            list.forEach(
                (file) ->
                {
                    final String name = file.getFileName().toString();
                    if (isSegmentName(name) && Files.isRegularFile(file))
                    {
                        found.add(file);
                    }
                    else if (!RETAINED_AFTER.equals(name))
                    {
                        LOG.log(System.Logger.Level.WARNING, "replication log: ignoring " + file +
                            ", which is not one of its files (segments are named by 20 digits and " + SUFFIX + ")");
                    }
                });
        }
        found.sort(null);
        return found;
    }

    private static boolean isSegmentName(final String name)
    {
        if (name.length() != NAME_DIGITS + SUFFIX.length() || !name.endsWith(SUFFIX))
        {
            return false;
        }
        for (int i = 0; i < NAME_DIGITS; i++)
        {
            if (name.charAt(i) < '0' || name.charAt(i) > '9')
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads the records of a segment; on the newest one a torn or zero-filled tail is cut off.
     *
     * @return the last position read ({@code previous} when there was none).
     */
    private long scan(final Segment segment, final boolean newest, final long previous) throws IOException
    {
        long last = previous;
        try (FileChannel channel = files.open(segment.file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final long size = channel.size();
            final ByteBuffer header = ByteBuffer.allocate(RECORD_HEADER).order(ByteOrder.LITTLE_ENDIAN);
            long at = 0;
            while (at < size)
            {
                final Record record = readRecord(channel, at, size, header);
                if (null != record && record.valid())
                {
                    if (record.position() <= last)
                    {
                        throw new IOException("position " + record.position() + " at byte " + at + " of " +
                            segment.file + " does not exceed the position before it (" + last + "): refusing to " +
                            "open (restore the log or re-create it and full-sync the subscribers)");
                    }
                    segment.add(record.position(), record.commitMs(), at, record.bytes().length);
                    last = record.position();
                    at += record.bytes().length;
                    continue;
                }
                final long end = null == record ? size : at + record.bytes().length;
                if (!newest || !zeroFrom(channel, end, size))
                {
                    throw new IOException("corrupt record at byte " + at + " of " + segment.file +
                        ": refusing to open (restore the log or re-create it and full-sync the subscribers)");
                }
                LOG.log(System.Logger.Level.WARNING, "replication log: truncating a torn record at byte " + at +
                    " of " + segment.file + " (" + (size - at) + " bytes)");
                channel.truncate(at);
                break;
            }
        }
        return last;
    }

    /** @return whether every byte of the channel from {@code from} to {@code size} is zero. */
    private static boolean zeroFrom(final FileChannel channel, final long from, final long size) throws IOException
    {
        final ByteBuffer chunk = ByteBuffer.allocate(8192);
        long at = from;
        while (at < size)
        {
            chunk.clear().limit((int)Math.min(chunk.capacity(), size - at));
            readFully(channel, chunk, at);
            for (int i = 0; i < chunk.limit(); i++)
            {
                if (0 != chunk.get(i))
                {
                    return false;
                }
            }
            at += chunk.limit();
        }
        return true;
    }

    /**
     * @return the record at {@code at}, null when the file ends inside it; a whole one may be invalid (a bad
     * length or CRC).
     */
    private static Record readRecord(final FileChannel channel, final long at, final long size, final ByteBuffer header)
        throws IOException
    {
        if (size - at < RECORD_HEADER)
        {
            return null;
        }
        header.clear();
        readFully(channel, header, at);
        final int length = header.getInt(LENGTH_OFFSET);
        if (length > 0 && size - at - RECORD_HEADER < length)
        {
            return null;
        }
        final long position = header.getLong(POSITION_OFFSET);
        final long commitMs = header.getLong(COMMIT_TIME_OFFSET);
        if (length <= 0)
        {
            return new Record(position, commitMs, header.array().clone(), 0, false);
        }
        final ByteBuffer bytes = ByteBuffer.allocate(RECORD_HEADER + length);
        readFully(channel, bytes, at);
        final int checksum = checksum(new CRC32(), bytes.array(), length);
        return new Record(position, commitMs, bytes.array(), length, checksum == header.getInt(CRC_OFFSET));
    }

    /** @return the CRC32 of a record's bytes other than the CRC field (the record starts at index 0). */
    private static int checksum(final CRC32 crc, final byte[] record, final int length)
    {
        crc.reset();
        crc.update(record, LENGTH_OFFSET, CRC_OFFSET - LENGTH_OFFSET);
        crc.update(record, POSITION_OFFSET, RECORD_HEADER - POSITION_OFFSET + length);
        return (int)crc.getValue();
    }

    private static void readFully(final FileChannel channel, final ByteBuffer buffer, final long at) throws IOException
    {
        long offset = at;
        while (buffer.hasRemaining())
        {
            final int read = channel.read(buffer, offset);
            if (read < 0)
            {
                throw new IOException("unexpected end of file at byte " + offset);
            }
            offset += read;
        }
    }

    /**
     * Appends a transaction: returns once it is written (in the page cache; durable on return when the log was
     * opened with {@code syncEachAppend}). With {@link Durability#FSYNC}, wait for {@link #awaitDurable(long)}
     * before reporting the commit.
     *
     * @param txn the next transaction; its position must be above the last one appended.
     * @return the transaction's position.
     * @throws IllegalArgumentException when the position does not increase.
     * @throws ReplicationLogException  when it could not be written (nothing was), or the log refuses appends
     *                                  after a failed fsync.
     * @throws IllegalStateException    when the log is closed.
     */
    public long append(final Transaction txn)
    {
        final long position = txn.position();
        synchronized (this)
        {
            if (closed)
            {
                throw new IllegalStateException("replication log " + dir + " is closed");
            }
            final ReplicationLogException failed = failure;
            if (null != failed)
            {
                throw new ReplicationLogException("cannot append position " + position + ": " + failed.getMessage(),
                    failed.getCause());
            }
            if (position <= lastPosition)
            {
                throw new IllegalArgumentException("position " + position + " is not above the last appended " +
                    lastPosition);
            }
            final int length = encode(txn);
            final Segment tail = segments.isEmpty() ? null : segments.get(segments.size() - 1);
            if (null == tail || tail.bytes >= segmentBytes)
            {
                appendToNewSegment(tail, position, txn.commitTimeMs(), length);
            }
            else
            {
                appendTo(tail, position, txn.commitTimeMs(), length);
            }
            lastPosition = position;
            enforceRetention();
        }
        if (syncEachAppend)
        {
            awaitDurable(position);
        }
        return position;
    }

    /** Encodes a record into {@link #encodeBuffer}; @return the payload's length. */
    private int encode(final Transaction txn)
    {
        final int length = TransactionCodec.encode(txn, encodeBuffer, RECORD_HEADER);
        encodeBuffer.putInt(LENGTH_OFFSET, length, ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putLong(POSITION_OFFSET, txn.position(), ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putLong(COMMIT_TIME_OFFSET, txn.commitTimeMs(), ByteOrder.LITTLE_ENDIAN);
        encodeBuffer.putInt(CRC_OFFSET, checksum(crc, encodeBuffer.byteArray(), length), ByteOrder.LITTLE_ENDIAN);
        if (writeBuffer.array() != encodeBuffer.byteArray())
        {
            writeBuffer = ByteBuffer.wrap(encodeBuffer.byteArray());
        }
        return length;
    }

    private void appendTo(final Segment segment, final long position, final long commitMs, final int length)
    {
        try
        {
            write(channelOf(segment), segment.bytes, RECORD_HEADER + length);
        }
        catch (final IOException ex)
        {
            throw cutPartialRecord(segment, position, ex);
        }
        segment.add(position, commitMs, segment.bytes, RECORD_HEADER + length);
    }

    /**
     * Starts a segment with this record, once the current one is forced. The current segment stays the log's tail
     * until the new one holds the record: a failure to create or write the new one leaves the log as it was.
     */
    private void appendToNewSegment(final Segment current, final long position, final long commitMs, final int length)
    {
        if (null != current)
        {
            force(current, position);
        }
        final Path file = dir.resolve(String.format("%0" + NAME_DIGITS + "d%s", position, SUFFIX));
        final FileChannel channel;
        try
        {
            channel = files.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ);
        }
        catch (final IOException ex)
        {
            throw new ReplicationLogException("cannot append position " + position + " to replication log " + dir +
                ": creating the segment " + file + " failed (" + ex + "); nothing was written" +
                (null == current ? "" : " and the log goes on in " + current.file), ex);
        }
        try
        {
            syncDirectory();
            write(channel, 0, RECORD_HEADER + length);
        }
        catch (final IOException ex)
        {
            discard(file, channel, ex);
            throw new ReplicationLogException("cannot append position " + position + " to replication log " + dir +
                ": starting the segment " + file + " failed (" + ex + "); it was removed, nothing was written" +
                (null == current ? "" : " and the log goes on in " + current.file), ex);
        }
        final Segment segment = new Segment(file);
        segment.channel = channel;
        segment.add(position, commitMs, 0, RECORD_HEADER + length);
        segments.add(segment);
        if (null != current)
        {
            current.sealed = true;
            closeQuietly(current.channel);
            current.channel = null;
            markDurable(current.lastPosition);
        }
    }

    /** Forces the current segment before the next one starts; a failure fails the log. */
    private void force(final Segment segment, final long position)
    {
        try
        {
            channelOf(segment).force(false);
        }
        catch (final IOException ex)
        {
            throw fail(new ReplicationLogException("fsync of " + segment.file + " failed (" + ex + ") before " +
                "position " + position + " could start a new segment: records up to position " +
                segment.lastPosition + " may not be on disk, so the replication log " + dir + " refuses every " +
                "append until it is closed and opened again (opening re-checks the tail)", ex));
        }
    }

    private void write(final FileChannel channel, final long at, final int bytes) throws IOException
    {
        final ByteBuffer record = writeBuffer.limit(bytes).position(0);
        long offset = at;
        while (record.hasRemaining())
        {
            offset += channel.write(record, offset);
        }
    }

    /** @return the newest segment's channel, opened again when an interrupted thread closed it. */
    private FileChannel channelOf(final Segment segment) throws IOException
    {
        if (!segment.channel.isOpen())
        {
            segment.channel = files.open(segment.file, StandardOpenOption.WRITE, StandardOpenOption.READ);
        }
        return segment.channel;
    }

    /** Truncates a failed write back to the segment's last whole record; @return the exception to throw. */
    private ReplicationLogException cutPartialRecord(final Segment segment, final long position, final IOException ex)
    {
        final boolean interrupted = Thread.interrupted();
        try
        {
            channelOf(segment).truncate(segment.bytes);
        }
        catch (final IOException truncateEx)
        {
            ex.addSuppressed(truncateEx);
            return fail(new ReplicationLogException("writing position " + position + " to " + segment.file +
                " failed (" + ex + ") and the partial record could not be truncated away (" + truncateEx + "): " +
                "the replication log " + dir + " refuses every append until it is closed and opened again " +
                "(opening cuts a torn tail)", ex));
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
        return new ReplicationLogException("cannot append position " + position + " to replication log " + dir +
            ": writing " + segment.file + " failed (" + ex + "); the partial record was truncated away, nothing " +
            "was written, and appends resume once the fault is gone", ex);
    }

    private void discard(final Path file, final FileChannel channel, final IOException cause)
    {
        closeQuietly(channel);
        try
        {
            Files.deleteIfExists(file);
            syncDirectory();
        }
        catch (final IOException ex)
        {
            cause.addSuppressed(ex);
        }
    }

    private ReplicationLogException fail(final ReplicationLogException ex)
    {
        if (null == failure)
        {
            failure = ex;
        }
        LOG.log(System.Logger.Level.ERROR, ex.getMessage());
        return ex;
    }

    private void syncDirectory() throws IOException
    {
        try (FileChannel channel = files.open(dir, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }

    /** Deletes the oldest segments beyond the bounds; a failure leaves them for the next append to retry. */
    private void enforceRetention()
    {
        long total = 0;
        for (int i = 0; i < segments.size(); i++)
        {
            total += segments.get(i).bytes;
        }
        final long expiredBefore = retentionAgeMs > 0 ? System.currentTimeMillis() - retentionAgeMs : Long.MIN_VALUE;
        while (segments.size() > 1 && (total > retentionBytes || segments.get(0).lastCommitMs < expiredBefore))
        {
            final Segment oldest = segments.get(0);
            try
            {
                retainAfter(oldest.lastPosition);
                Files.delete(oldest.file);
                syncDirectory();
            }
            catch (final IOException ex)
            {
                LOG.log(System.Logger.Level.WARNING, "replication log: cannot delete " + oldest.file +
                    " beyond retention (" + ex + "); will try again", ex);
                return;
            }
            segments.remove(0);
            total -= oldest.bytes;
        }
    }

    /** Replaces {@code retained-after}, durably, before any segment it covers is deleted. */
    private void retainAfter(final long position) throws IOException
    {
        final Path tmp = dir.resolve(RETAINED_AFTER_TMP);
        try (FileChannel channel = files.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE))
        {
            final ByteBuffer text = ByteBuffer.wrap(Long.toString(position).getBytes(StandardCharsets.US_ASCII));
            while (text.hasRemaining())
            {
                channel.write(text);
            }
            channel.force(false);
        }
        Files.move(tmp, dir.resolve(RETAINED_AFTER), StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        syncDirectory();
        retainedAfter = position;
    }

    /**
     * Waits until the record at {@code position} is on disk. With {@link Durability#FSYNC} the first waiting thread
     * forces the log and the others wait for it; one fsync covers every record appended before it started, so a
     * thread whose record it covers returns without one. With {@link Durability#OS} it returns at once.
     *
     * @param position a position appended to this log.
     * @throws ReplicationLogException when the fsync failed (the log then refuses appends until reopened).
     * @throws IllegalStateException   when the log was closed before the position was forced.
     * @throws IllegalArgumentException when the position was never appended.
     */
    public void awaitDurable(final long position)
    {
        if (Durability.FSYNC == durability)
        {
            forceUpTo(position);
        }
    }

    /** Forces every record appended so far to disk, whatever the durability. */
    public void sync()
    {
        final long position;
        synchronized (this)
        {
            position = lastPosition;
        }
        forceUpTo(position);
    }

    private void forceUpTo(final long position)
    {
        if (durablePosition >= position)
        {
            return;
        }
        syncLock.lock();
        try
        {
            while (durablePosition < position)
            {
                final ReplicationLogException failed = failure;
                if (null != failed)
                {
                    throw new ReplicationLogException("position " + position + " is not durable: " +
                        failed.getMessage(), failed.getCause());
                }
                if (syncing)
                {
                    syncDone.awaitUninterruptibly();
                    continue;
                }
                syncing = true;
                syncLock.unlock();
                long covered = 0;
                try
                {
                    covered = forceTail(position);
                }
                finally
                {
                    syncLock.lock();
                    syncing = false;
                    if (covered > durablePosition)
                    {
                        durablePosition = covered;
                    }
                    syncDone.signalAll();
                }
            }
        }
        finally
        {
            syncLock.unlock();
        }
    }

    /**
     * Forces the newest segment as it is now, outside the log's lock so appends go on meanwhile.
     *
     * @return the last position the force covers, 0 when it was cut short by a concurrent close (try again).
     */
    private long forceTail(final long wanted)
    {
        final long target;
        final Segment tail;
        final FileChannel channel;
        synchronized (this)
        {
            if (closed)
            {
                throw new IllegalStateException("replication log " + dir + " is closed");
            }
            target = lastPosition;
            if (target < wanted)
            {
                throw new IllegalArgumentException("position " + wanted + " was never appended (the last is " +
                    target + ")");
            }
            if (segments.isEmpty())
            {
                return target;
            }
            tail = segments.get(segments.size() - 1);
            try
            {
                channel = channelOf(tail);
            }
            catch (final IOException ex)
            {
                throw fail(syncFailure(tail, target, ex));
            }
        }
        try
        {
            channel.force(false);
            return target;
        }
        catch (final ClosedByInterruptException ex)
        {
            throw new ReplicationLogException("interrupted while forcing " + tail.file + ": position " + target +
                " may not be durable yet", ex);
        }
        catch (final ClosedChannelException ex)
        {
            return tail.sealed ? target : 0;
        }
        catch (final IOException ex)
        {
            throw fail(syncFailure(tail, target, ex));
        }
    }

    private ReplicationLogException syncFailure(final Segment segment, final long target, final IOException ex)
    {
        return new ReplicationLogException("fsync of " + segment.file + " failed (" + ex + "): records up to " +
            "position " + target + " may not be on disk, so the replication log " + dir + " refuses every append " +
            "until it is closed and opened again (opening re-checks the tail)", ex);
    }

    private void markDurable(final long position)
    {
        syncLock.lock();
        try
        {
            if (position > durablePosition)
            {
                durablePosition = position;
                syncDone.signalAll();
            }
        }
        finally
        {
            syncLock.unlock();
        }
    }

    /** @return what {@link #awaitDurable(long)} waits for. */
    public Durability durability()
    {
        return durability;
    }

    /** @return the last position appended, 0 when empty. */
    public synchronized long lastPosition()
    {
        return lastPosition;
    }

    /** @return every position up to this one is on disk. */
    public long durablePosition()
    {
        return durablePosition;
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
            try (FileChannel channel = files.open(segment.file(), StandardOpenOption.READ))
            {
                final long size = segment.bytes();
                long at = segment.start();
                while (at < size)
                {
                    final Record record = readRecord(channel, at, size, header);
                    if (null == record || !record.valid())
                    {
                        throw new ReplicationLogException("corrupt record at byte " + at + " of " + segment.file() +
                            ": replay stopped", new IOException("bad record"));
                    }
                    if (record.position() > fromExclusive)
                    {
                        consumer.accept(TransactionCodec.decode(new UnsafeBuffer(record.bytes()), RECORD_HEADER,
                            record.length()));
                        last = record.position();
                    }
                    at += record.bytes().length;
                }
            }
            catch (final NoSuchFileException ex)
            {
                throw new NotRetainedException(fromExclusive, retainedAfter());
            }
            catch (final IOException ex)
            {
                throw new ReplicationLogException("cannot replay " + segment.file() + ": " + ex.getMessage(), ex);
            }
        }
        return last;
    }

    /**
     * Forces what was appended and closes the log. After a failed fsync it only closes: open the log again to
     * re-check its tail.
     *
     * @throws ReplicationLogException when the final fsync fails.
     */
    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        final Segment tail = segments.isEmpty() ? null : segments.get(segments.size() - 1);
        if (null == tail || null == tail.channel)
        {
            return;
        }
        try
        {
            if (null == failure && tail.channel.isOpen())
            {
                tail.channel.force(false);
                tail.sealed = true;
                markDurable(lastPosition);
            }
        }
        catch (final IOException ex)
        {
            throw fail(syncFailure(tail, lastPosition, ex));
        }
        finally
        {
            closeQuietly(tail.channel);
            tail.channel = null;
        }
    }

    private synchronized void closeQuietly()
    {
        closed = true;
        for (final Segment segment : segments)
        {
            closeQuietly(segment.channel);
            segment.channel = null;
        }
    }

    private static void closeQuietly(final FileChannel channel)
    {
        if (null != channel)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ex)
            {
                LOG.log(System.Logger.Level.WARNING, "replication log: closing a segment failed: " + ex);
            }
        }
    }
}
