package dev.fusion.replication;

/**
 * Replication stream messages on cluster-core.
 * <pre>
 * SUBSCRIBE    (type 48, HIGH, subscriber to publisher): i64 applied watermark, i32 window, i64 epoch — send me
 *              everything after the watermark, at most window transactions beyond what I acknowledged; the
 *              newest publisher epoch I have seen (a publisher of an older one is fenced)
 * TXN          (type 49, NORMAL, publisher to subscriber): i64 epoch, i64 previous position, encoded transaction
 * NOT_RETAINED (type 50, HIGH, publisher to subscriber): i64 retained-after, i64 publisher epoch — a full sync is needed
 * ACK          (type 51, HIGH, subscriber to publisher): i64 received position, i64 applied watermark,
 *              i64 transactions taken since the subscription (informational: the publisher's credit counts the
 *              positions it sent above the received position, so a stale acknowledgement frees nothing)
 * FULL_SYNC    (type 52, HIGH, subscriber to publisher): i32 window — take a snapshot and send me its first
 *              window chunks (ignored while one for this subscriber is being taken)
 * CHUNK        (type 53, NORMAL, publisher to subscriber): i64 snapshot id, i64 position, i32 index, i32 count,
 *              i32 size, i32 CRC32 of the 28 header bytes before it and of the data, data (size bytes; every
 *              chunk but the last holds CHUNK_BYTES)
 * RESEND       (type 54, HIGH, subscriber to publisher): i64 snapshot id, i32 from, i32 to — send me chunks
 *              from..to-1 of that snapshot (the next window, or chunks that never arrived)
 * TXN_PART     (type 55, NORMAL, publisher to subscriber): i32 index, i32 count, bytes — a transaction larger
 *              than one message, split; the parts joined are a TXN message's payload
 * </pre>
 * The previous position in TXN lets the subscriber detect a gap (a dropped message) and resubscribe from what
 * it has, instead of applying past a hole.
 */
final class StreamMessages
{
    static final int SUBSCRIBE = 48;
    static final int TXN = 49;
    static final int NOT_RETAINED = 50;
    static final int ACK = 51;
    static final int FULL_SYNC = 52;
    static final int CHUNK = 53;
    static final int RESEND = 54;
    static final int TXN_PART = 55;
    static final int PART_HEADER = 8;
    static final int CHUNK_HEADER = 32;
    /** Header bytes the chunk CRC covers: all but the CRC field itself. */
    static final int CHUNK_CHECKED_HEADER = 28;
    static final int CHUNK_BYTES = 32 * 1024;
    static final int FULL_SYNC_LENGTH = 4;
    static final int RESEND_LENGTH = 16;

    private StreamMessages()
    {
    }

    /**
     * Writes a chunk's header, CRC included, in front of its data.
     *
     * @param header a chunk message over a byte array: {@link #CHUNK_HEADER} bytes, then {@code size} bytes of data.
     * @param crc    reset and used here (one per thread).
     */
    static void putChunkHeader(final org.agrona.concurrent.UnsafeBuffer header, final java.util.zip.CRC32 crc,
        final long id, final long position, final int index, final int count, final int size)
    {
        header.putLong(0, id, java.nio.ByteOrder.LITTLE_ENDIAN);
        header.putLong(8, position, java.nio.ByteOrder.LITTLE_ENDIAN);
        header.putInt(16, index, java.nio.ByteOrder.LITTLE_ENDIAN);
        header.putInt(20, count, java.nio.ByteOrder.LITTLE_ENDIAN);
        header.putInt(24, size, java.nio.ByteOrder.LITTLE_ENDIAN);
        header.putInt(CHUNK_CHECKED_HEADER, chunkCrc(header.byteArray(), crc, size), java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param chunk a chunk message whose header fields are written.
     * @param crc   reset and used here.
     * @param size  its data bytes.
     * @return the CRC32 of its header fields and data.
     */
    static int chunkCrc(final byte[] chunk, final java.util.zip.CRC32 crc, final int size)
    {
        crc.reset();
        crc.update(chunk, 0, CHUNK_CHECKED_HEADER);
        crc.update(chunk, CHUNK_HEADER, size);
        return (int)crc.getValue();
    }
}
