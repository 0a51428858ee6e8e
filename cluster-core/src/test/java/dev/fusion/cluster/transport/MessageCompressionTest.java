package dev.fusion.cluster.transport;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MessageCompressionTest
{
    @Test
    void aCompressibleMessageComesOutAsItsRawLengthThenChunksThatInflateToIt()
    {
        final byte[] rows = new byte[20_000];
        for (int i = 0; i < rows.length; i++)
        {
            rows[i] = (byte)("customer-00042|ACTIVE|".charAt(i % 22));
        }
        try (MessageCompression compression = new MessageCompression(4096, 0.1, 2);
             FrameCompressor inflater = new FrameCompressor(4096, 0.1))
        {
            final int length = compression.compress(new UnsafeBuffer(rows), 0, rows.length);
            assertThat(length).isPositive().isLessThan(rows.length / 2);
            assertThat(compression.compressed().getInt(0, ByteOrder.LITTLE_ENDIAN)).isEqualTo(rows.length);
            final byte[] back = new byte[rows.length];
            assertThat(inflater.decompress(compression.compressed(), MessageCompression.PREFIX,
                length - MessageCompression.PREFIX, back, rows.length)).isTrue();
            assertThat(back).isEqualTo(rows);
        }
    }

    @Test
    void anIncompressibleMessageIsSentRawEvenWhenNoSavingIsRequired()
    {
        final byte[] random = new byte[8192];
        new Random(5).nextBytes(random);
        try (MessageCompression compression = new MessageCompression(4096, 0.0, 1))
        {
            assertThat(compression.compress(new UnsafeBuffer(random), 0, random.length)).isEqualTo(-1);
        }
    }

    @Test
    void aRangeOutsideThePayloadIsRefused()
    {
        try (MessageCompression compression = new MessageCompression(4096, 0.1, 1))
        {
            assertThatThrownBy(() -> compression.compress(new UnsafeBuffer(new byte[100]), 50, 100))
                .isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
