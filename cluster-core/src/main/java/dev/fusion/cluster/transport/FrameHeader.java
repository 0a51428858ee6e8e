package dev.fusion.cluster.transport;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * Flyweight over the header every frame starts with. A frame carries one or more messages, each as
 * {@code int type, int length, bytes}; when {@link #FLAG_COMPRESSED} is set the messages are LZ4 compressed
 * and {@link #rawLength()} bytes long once decompressed.
 * <pre>
 *  0 u8  version          1 u8  flags        2 u8 priority     3 u8 reserved (0)
 *  4 u16 source node      6 u16 message count
 *  8 i32 sender's membership epoch (low 32 bits)
 * 12 i32 sender's incarnation
 * 16 i32 frame length (header + payload as sent)
 * 20 i32 raw payload length (after decompression)
 * 24 i64 sequence (per sender, peer and stream)
 * 32 i64 send time, epoch nanoseconds
 * 40 payload
 * </pre>
 * All fields are little-endian.
 */
public final class FrameHeader
{
    /** The only version this code reads and writes. */
    public static final int VERSION = 2;
    /** Bytes in the header. */
    public static final int LENGTH = 40;
    /**
     * Set in a message's type when its payload is {@code i32 raw length} then LZ4 chunks: a large bulk message
     * compressed by the thread that sent it.
     */
    public static final int COMPRESSED_MESSAGE = 1 << 30;
    /** Bytes before each message in the payload: type and length. */
    public static final int MESSAGE_HEADER_LENGTH = 8;
    /** Set when the payload is LZ4 compressed. */
    public static final int FLAG_COMPRESSED = 0x1;
    /** Flags this version understands. */
    public static final int KNOWN_FLAGS = FLAG_COMPRESSED;

    static final int VERSION_OFFSET = 0;
    static final int FLAGS_OFFSET = 1;
    static final int PRIORITY_OFFSET = 2;
    static final int RESERVED_OFFSET = 3;
    static final int SOURCE_OFFSET = 4;
    static final int COUNT_OFFSET = 6;
    static final int EPOCH_OFFSET = 8;
    static final int INCARNATION_OFFSET = 12;
    static final int FRAME_LENGTH_OFFSET = 16;
    static final int RAW_LENGTH_OFFSET = 20;
    static final int SEQUENCE_OFFSET = 24;
    static final int SEND_TIME_OFFSET = 32;

    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private DirectBuffer buffer;
    private MutableDirectBuffer mutableBuffer;
    private int offset;

    /**
     * Wraps a frame for reading.
     *
     * @param buffer holding the frame.
     * @param offset of the frame.
     * @return this.
     */
    public FrameHeader wrap(final DirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.mutableBuffer = null;
        this.offset = offset;
        return this;
    }

    /**
     * Wraps a frame for writing.
     *
     * @param buffer holding the frame.
     * @param offset of the frame.
     * @return this.
     */
    public FrameHeader wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.mutableBuffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * Writes a whole header.
     *
     * @param flags        frame flags.
     * @param priority     the priority's ordinal.
     * @param sourceNode   sender id.
     * @param messageCount messages in the frame.
     * @param epoch        sender's view epoch.
     * @param incarnation  sender's incarnation.
     * @param frameLength  header + payload as sent.
     * @param rawLength    payload length uncompressed.
     * @param sequence     frame sequence.
     * @param sendTimeNs   epoch nanoseconds.
     * @return this.
     */
    public FrameHeader write(
        final int flags,
        final int priority,
        final int sourceNode,
        final int messageCount,
        final long epoch,
        final int incarnation,
        final int frameLength,
        final int rawLength,
        final long sequence,
        final long sendTimeNs)
    {
        final MutableDirectBuffer b = mutableBuffer;
        b.putByte(offset + VERSION_OFFSET, (byte)VERSION);
        b.putByte(offset + FLAGS_OFFSET, (byte)flags);
        b.putByte(offset + PRIORITY_OFFSET, (byte)priority);
        b.putByte(offset + RESERVED_OFFSET, (byte)0);
        b.putShort(offset + SOURCE_OFFSET, (short)sourceNode, ORDER);
        b.putShort(offset + COUNT_OFFSET, (short)messageCount, ORDER);
        b.putInt(offset + EPOCH_OFFSET, (int)epoch, ORDER);
        b.putInt(offset + INCARNATION_OFFSET, incarnation, ORDER);
        b.putInt(offset + FRAME_LENGTH_OFFSET, frameLength, ORDER);
        b.putInt(offset + RAW_LENGTH_OFFSET, rawLength, ORDER);
        b.putLong(offset + SEQUENCE_OFFSET, sequence, ORDER);
        b.putLong(offset + SEND_TIME_OFFSET, sendTimeNs, ORDER);
        return this;
    }

    /** @return the version byte. */
    public int version()
    {
        return buffer.getByte(offset + VERSION_OFFSET) & 0xFF;
    }

    /** @return the flags. */
    public int flags()
    {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    /** @return the priority's ordinal. */
    public int priority()
    {
        return buffer.getByte(offset + PRIORITY_OFFSET) & 0xFF;
    }

    /** @return the reserved byte, 0 in this version. */
    public int reserved()
    {
        return buffer.getByte(offset + RESERVED_OFFSET) & 0xFF;
    }

    /** @return the sender's node id. */
    public int sourceNode()
    {
        return buffer.getShort(offset + SOURCE_OFFSET, ORDER) & 0xFFFF;
    }

    /** @return the number of messages in the frame. */
    public int messageCount()
    {
        return buffer.getShort(offset + COUNT_OFFSET, ORDER) & 0xFFFF;
    }

    /** @return the sender's view epoch (low 32 bits). */
    public int epoch()
    {
        return buffer.getInt(offset + EPOCH_OFFSET, ORDER);
    }

    /** @return the sender's incarnation. */
    public int incarnation()
    {
        return buffer.getInt(offset + INCARNATION_OFFSET, ORDER);
    }

    /** @return header + payload as sent. */
    public int frameLength()
    {
        return buffer.getInt(offset + FRAME_LENGTH_OFFSET, ORDER);
    }

    /** @return payload length once decompressed. */
    public int rawLength()
    {
        return buffer.getInt(offset + RAW_LENGTH_OFFSET, ORDER);
    }

    /** @return the frame's sequence number. */
    public long sequence()
    {
        return buffer.getLong(offset + SEQUENCE_OFFSET, ORDER);
    }

    /** @return the send time in epoch nanoseconds. */
    public long sendTimeNs()
    {
        return buffer.getLong(offset + SEND_TIME_OFFSET, ORDER);
    }

    /**
     * Writes a message header into a payload.
     *
     * @param buffer the payload buffer.
     * @param offset where the message starts.
     * @param type   message type.
     * @param length payload length of the message.
     */
    public static void putMessageHeader(final MutableDirectBuffer buffer, final int offset, final int type, final int length)
    {
        buffer.putInt(offset, type, ORDER);
        buffer.putInt(offset + 4, length, ORDER);
    }

    /**
     * @param buffer the payload buffer.
     * @param offset of a message.
     * @return the message type.
     */
    public static int messageType(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset, ORDER);
    }

    /**
     * @param buffer the payload buffer.
     * @param offset of a message.
     * @return the message length.
     */
    public static int messageLength(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + 4, ORDER);
    }
}
