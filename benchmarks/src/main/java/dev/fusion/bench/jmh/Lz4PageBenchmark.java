package dev.fusion.bench.jmh;

import dev.fusion.bench.Pages;
import dev.fusion.cluster.transport.FrameCompressor;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** LZ4 on a 64 KiB batch of realistic 8 KiB pages: the compression cost a bulk frame pays on each side. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Lz4PageBenchmark
{
    private final FrameCompressor compressor = new FrameCompressor(4096, 0.1);
    private byte[] batch;
    private byte[] compressed;
    private int compressedLength;
    private byte[] restored;

    @Setup
    public void setup()
    {
        batch = new byte[64 * 1024];
        for (int i = 0; i < 8; i++)
        {
            System.arraycopy(Pages.realistic(8192, i), 0, batch, i * 8192, 8192);
        }
        compressed = new byte[compressor.maxCompressedLength(batch.length)];
        compressedLength = compressor.compress(batch, 0, batch.length, compressed, 0);
        restored = new byte[batch.length];
    }

    @Benchmark
    public int compress64KiB()
    {
        return compressor.compress(batch, 0, batch.length, compressed, 0);
    }

    @Benchmark
    public boolean decompress64KiB()
    {
        return compressor.decompress(new UnsafeBuffer(compressed), 0, compressedLength, restored, batch.length);
    }
}
