package dev.fusion.bench.jmh;

import dev.fusion.cluster.transport.FrameHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Cost of writing and reading frame headers and of packing small messages into a batch frame. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FrameCodecBenchmark
{
    @Param({"1", "100"})
    public int messages;

    private final FrameHeader header = new FrameHeader();
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[128]);
    private UnsafeBuffer frame;
    private long sequence;

    @Setup
    public void setup()
    {
        frame = new UnsafeBuffer(new byte[FrameHeader.LENGTH + messages * (FrameHeader.MESSAGE_HEADER_LENGTH + 128)]);
        encodeBatch();
    }

    @Benchmark
    public int encodeBatch()
    {
        int at = FrameHeader.LENGTH;
        for (int i = 0; i < messages; i++)
        {
            FrameHeader.putMessageHeader(frame, at, 100, 128);
            frame.putBytes(at + FrameHeader.MESSAGE_HEADER_LENGTH, message, 0, 128);
            at += FrameHeader.MESSAGE_HEADER_LENGTH + 128;
        }
        header.wrap(frame, 0).write(0, 2, 1, messages, 7, 42, at, at - FrameHeader.LENGTH, ++sequence, sequence);
        return at;
    }

    @Benchmark
    public long decodeBatch()
    {
        final FrameHeader h = header.wrap((org.agrona.DirectBuffer)frame, 0);
        long sum = h.sourceNode() + h.incarnation() + h.frameLength() + h.sequence();
        int at = FrameHeader.LENGTH;
        final int count = h.messageCount();
        for (int i = 0; i < count; i++)
        {
            final int length = FrameHeader.messageLength(frame, at);
            sum += FrameHeader.messageType(frame, at) + frame.getByte(at + FrameHeader.MESSAGE_HEADER_LENGTH);
            at += FrameHeader.MESSAGE_HEADER_LENGTH + length;
        }
        return sum;
    }
}
