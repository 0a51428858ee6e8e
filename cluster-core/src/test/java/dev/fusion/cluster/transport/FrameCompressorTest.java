package dev.fusion.cluster.transport;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class FrameCompressorTest
{
    private final FrameCompressor compressor = new FrameCompressor(4096, 0.10);

    @Test
    void triesOnlyFromTheThresholdAndNeverWhenOff()
    {
        assertThat(compressor.shouldTry(4095)).isFalse();
        assertThat(compressor.shouldTry(4096)).isTrue();
        assertThat(new FrameCompressor(0, 0.1).shouldTry(1 << 20)).isFalse();
    }

    @Test
    void compressesRepetitiveRowsAndRoundTripsThem()
    {
        final byte[] rows = rows(8192);
        final byte[] out = new byte[compressor.maxCompressedLength(rows.length)];
        final int compressed = compressor.compress(rows, 0, rows.length, out, 0);
        assertThat(compressed).isPositive().isLessThan(rows.length * 9 / 10);

        final byte[] back = new byte[rows.length];
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, back, rows.length)).isTrue();
        assertThat(back).isEqualTo(rows);

        final UnsafeBuffer direct = new UnsafeBuffer(ByteBuffer.allocateDirect(compressed + 16));
        direct.putBytes(16, out, 0, compressed);
        final byte[] viaDirect = new byte[rows.length];
        assertThat(compressor.decompress(direct, 16, compressed, viaDirect, rows.length)).isTrue();
        assertThat(viaDirect).isEqualTo(rows);
    }

    @Test
    void keepsRawBytesWhenLz4SavesTooLittle()
    {
        final byte[] random = new byte[8192];
        new Random(1).nextBytes(random);
        final byte[] out = new byte[compressor.maxCompressedLength(random.length)];
        assertThat(compressor.compress(random, 0, random.length, out, 0)).isEqualTo(-1);
    }

    @Test
    void rejectsGarbageAndLiesAboutTheLengthWithoutThrowing()
    {
        final byte[] rows = rows(8192);
        final byte[] out = new byte[compressor.maxCompressedLength(rows.length)];
        final int compressed = compressor.compress(rows, 0, rows.length, out, 0);
        final byte[] dst = new byte[rows.length];

        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, dst, rows.length - 1))
            .as("declared length too short").isFalse();
        final byte[] bigger = new byte[rows.length + 100];
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, bigger, rows.length + 100))
            .as("declared length too long").isFalse();
        final byte[] garbage = Arrays.copyOf(out, compressed);
        new Random(2).nextBytes(garbage);
        assertThat(compressor.decompress(new UnsafeBuffer(garbage), 0, garbage.length, dst, rows.length)).isFalse();
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed / 2, dst, rows.length))
            .as("truncated").isFalse();
    }

    @Test
    void payloadsLongerThanAChunkRoundTripInChunks()
    {
        for (final int size : new int[]{FrameCompressor.CHUNK, FrameCompressor.CHUNK + 1, 3 * FrameCompressor.CHUNK + 777})
        {
            final byte[] rows = rows(size);
            final byte[] out = new byte[compressor.maxCompressedLength(rows.length)];
            final int compressed = compressor.compress(rows, 0, rows.length, out, 0);
            assertThat(compressed).as("%d bytes", size).isPositive().isLessThan(rows.length * 9 / 10);
            final byte[] back = new byte[rows.length];
            assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, back, rows.length)).isTrue();
            assertThat(back).isEqualTo(rows);
        }
    }

    @Test
    void rejectsChunkLengthsThatLieAndBytesLeftOver()
    {
        final byte[] rows = rows(2 * FrameCompressor.CHUNK + 100);
        final byte[] out = new byte[compressor.maxCompressedLength(rows.length) + 8];
        final int compressed = compressor.compress(rows, 0, rows.length, out, 0);
        final byte[] dst = new byte[rows.length];
        final int firstChunk = ByteBuffer.wrap(out).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0);

        for (final int lie : new int[]{0, -1, firstChunk + 1, compressed, Integer.MAX_VALUE})
        {
            final byte[] bad = out.clone();
            ByteBuffer.wrap(bad).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, lie);
            assertThat(compressor.decompress(new UnsafeBuffer(bad), 0, compressed, dst, rows.length))
                .as("first chunk said to be %d bytes", lie).isFalse();
        }
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed + 8, dst, rows.length))
            .as("bytes after the last chunk").isFalse();
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, dst, rows.length - FrameCompressor.CHUNK))
            .as("declared one chunk short").isFalse();
        assertThat(compressor.decompress(new UnsafeBuffer(out), 0, compressed, new byte[rows.length - 1], rows.length))
            .as("destination too small").isFalse();
    }

    private static byte[] rows(final int size)
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < size; i++)
        {
            sb.append(String.format("%08d|customer-%05d|ACTIVE|%10.2f|", i, i % 977, i * 1.5));
        }
        return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), size);
    }
}
