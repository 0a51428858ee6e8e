package dev.fusion.cluster.transport;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.agrona.DirectBuffer;

/**
 * Decides whether a frame payload is worth compressing, compresses it with LZ4, and decompresses received
 * payloads with the <em>safe</em> decompressor into a bounded, declared length: frames come from the network.
 * Not thread-safe: one per agent.
 */
public final class FrameCompressor
{
    private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();

    private final LZ4Compressor compressor = FACTORY.fastCompressor();
    private final LZ4SafeDecompressor decompressor = FACTORY.safeDecompressor();
    private final int threshold;
    private final double minSaving;
    private byte[] input = new byte[0];

    /**
     * @param threshold payloads shorter than this are sent raw; 0 turns compression off.
     * @param minSaving the fraction compression must save, else the raw bytes are sent.
     */
    public FrameCompressor(final int threshold, final double minSaving)
    {
        this.threshold = threshold;
        this.minSaving = minSaving;
    }

    /**
     * @param rawLength a payload length.
     * @return true when a payload this long should be tried.
     */
    public boolean shouldTry(final int rawLength)
    {
        return threshold > 0 && rawLength >= threshold;
    }

    /**
     * @param rawLength a payload length.
     * @return the most bytes compressing it can produce.
     */
    public int maxCompressedLength(final int rawLength)
    {
        return compressor.maxCompressedLength(rawLength);
    }

    /**
     * Compresses {@code src[srcOffset, srcOffset + length)} into {@code dst} when that saves enough.
     *
     * @return the compressed length, or -1 when the raw bytes should be sent.
     */
    public int compress(final byte[] src, final int srcOffset, final int length, final byte[] dst, final int dstOffset)
    {
        final int compressed = compressor.compress(src, srcOffset, length, dst, dstOffset, dst.length - dstOffset);
        return compressed <= (long)(length * (1.0 - minSaving)) ? compressed : -1;
    }

    /**
     * Decompresses a received payload.
     *
     * @param src       holding the compressed bytes.
     * @param srcOffset of the compressed bytes.
     * @param length    of the compressed bytes.
     * @param dst       destination, at least {@code rawLength} long.
     * @param rawLength the length the header declares.
     * @return true when exactly {@code rawLength} bytes were produced.
     */
    public boolean decompress(
        final DirectBuffer src, final int srcOffset, final int length, final byte[] dst, final int rawLength)
    {
        final byte[] array = src.byteArray();
        final byte[] in;
        final int inOffset;
        if (null != array)
        {
            in = array;
            inOffset = src.wrapAdjustment() + srcOffset;
        }
        else
        {
            if (input.length < length)
            {
                input = new byte[Math.max(length, input.length * 2)];
            }
            src.getBytes(srcOffset, input, 0, length);
            in = input;
            inOffset = 0;
        }
        try
        {
            return decompressor.decompress(in, inOffset, length, dst, 0, rawLength) == rawLength;
        }
        catch (final LZ4Exception ex)
        {
            return false;
        }
    }
}
