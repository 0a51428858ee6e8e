package dev.fusion.cluster.transport;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class FrameHeaderTest
{
    @Test
    void writesAndReadsEveryField()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128]);
        final FrameHeader header = new FrameHeader();
        header.wrap(buffer, 8).write(FrameHeader.FLAG_COMPRESSED, 2, 65535, 1000, 0x1_0000_0007L, -5, 99, 1234,
            Long.MAX_VALUE, 42L);

        final FrameHeader read = new FrameHeader().wrap((org.agrona.DirectBuffer)buffer, 8);
        assertThat(read.version()).isEqualTo(FrameHeader.VERSION);
        assertThat(read.flags()).isEqualTo(FrameHeader.FLAG_COMPRESSED);
        assertThat(read.priority()).isEqualTo(2);
        assertThat(read.reserved()).isZero();
        assertThat(read.sourceNode()).isEqualTo(65535);
        assertThat(read.messageCount()).isEqualTo(1000);
        assertThat(read.epoch()).as("low 32 bits of the epoch").isEqualTo(7);
        assertThat(read.incarnation()).isEqualTo(-5);
        assertThat(read.frameLength()).isEqualTo(99);
        assertThat(read.rawLength()).isEqualTo(1234);
        assertThat(read.sequence()).isEqualTo(Long.MAX_VALUE);
        assertThat(read.sendTimeNs()).isEqualTo(42L);
        assertThat(buffer.getByte(7)).as("nothing written before the offset").isZero();
    }

    @Test
    void messageHeadersAreTypeThenLength()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16]);
        FrameHeader.putMessageHeader(buffer, 4, 300, 77);
        assertThat(FrameHeader.messageType(buffer, 4)).isEqualTo(300);
        assertThat(FrameHeader.messageLength(buffer, 4)).isEqualTo(77);
    }

    @Test
    void headerIsFortyBytesLittleEndian()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[FrameHeader.LENGTH]);
        new FrameHeader().wrap(buffer, 0).write(0, 1, 0x0102, 3, 4, 5, 6, 7, 8, 9);
        assertThat(FrameHeader.LENGTH).isEqualTo(40);
        assertThat(buffer.getByte(4)).isEqualTo((byte)0x02);
        assertThat(buffer.getByte(5)).isEqualTo((byte)0x01);
    }
}
