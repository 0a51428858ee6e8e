package dev.fusion.cluster.transport;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * One sending thread's means to compress a large bulk message before it is queued: {@code i32 raw length} then
 * the LZ4 chunks of {@link FrameCompressor}. Compressing on the threads that send spreads the work over them, where
 * compressing whole batches on the node's thread made that one thread the ceiling of a compressed stream.
 * Its buffers grow to the largest message compressed. Not thread-safe: a sending thread takes one from the
 * transport's pool and gives it back; closing it frees LZ4's native state.
 */
final class MessageCompression implements AutoCloseable
{
    /** Bytes before the compressed chunks: the raw length. */
    static final int PREFIX = 4;

    private final FrameCompressor compressor;
    private byte[] compressed = new byte[0];
    private final UnsafeBuffer compressedView = new UnsafeBuffer(compressed);

    MessageCompression(final int threshold, final double minSaving, final int acceleration)
    {
        this.compressor = new FrameCompressor(threshold, minSaving, acceleration);
    }

    /**
     * @param payload holding the message.
     * @param offset  of the message.
     * @param length  of the message.
     * @return bytes written to {@link #compressed()}, raw length prefix included; -1 when compressing saves too
     * little and the raw message should be queued.
     */
    int compress(final DirectBuffer payload, final int offset, final int length)
    {
        final int capacity = PREFIX + compressor.maxCompressedLength(length);
        if (compressed.length < capacity)
        {
            compressed = new byte[capacity];
            compressedView.wrap(compressed);
        }
        final int chunks = compressor.compress(payload, offset, length, compressed, PREFIX);
        if (chunks < 0 || PREFIX + chunks >= length)
        {
            return -1; // with its prefix no smaller than the raw message (compressionMinSaving 0)
        }
        compressedView.putInt(0, length, ByteOrder.LITTLE_ENDIAN); // little-endian, like every integer of a frame
        return PREFIX + chunks;
    }

    /** @return the last message compressed, from offset 0. */
    DirectBuffer compressed()
    {
        return compressedView;
    }

    @Override
    public void close()
    {
        compressor.close();
    }
}
