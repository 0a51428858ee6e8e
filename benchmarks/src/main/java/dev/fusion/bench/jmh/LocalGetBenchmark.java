package dev.fusion.bench.jmh;

import dev.fusion.cachefusion.CacheFusion;
import dev.fusion.cachefusion.CacheFusionConfig;
import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cachefusion.reference.UndoStore;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.LockMode;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import org.agrona.CloseHelper;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Cache fusion's floor costs: a get of a block this node already holds (the common case: a queue hop to the
 * node's cache-fusion agent and back, no message), and compressing one reference-engine page as an image is
 * compressed on the wire.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LocalGetBenchmark
{
    private Path dir;
    private LocalCluster cluster;
    private SharedDisk disk;
    private ReferenceEngine engine;
    private CacheFusion fusion;
    private long block;
    private byte[] page;
    private byte[] compressed;
    private LZ4Compressor lz4;

    @Setup(Level.Trial)
    public void setup() throws Exception
    {
        dir = Files.createTempDirectory("fusion-jmh-cf");
        disk = SharedDisk.format(dir, 4, 1_000);
        cluster = LocalCluster.start(1, b -> LocalCluster.smallMachineDefaults(b).idleMaxParkUs(10));
        engine = new ReferenceEngine(1, disk, new UndoStore(4), 8, false);
        fusion = CacheFusion.start(cluster.node(1), GrdConfig.builder().remastering(false).build(),
            CacheFusionConfig.defaults(), engine);
        engine.attach(fusion);
        cluster.awaitFullView(Duration.ofSeconds(30));
        block = ReferenceEngine.block(1);
        fusion.acquire(block, LockMode.EXCLUSIVE).get(10, TimeUnit.SECONDS);
        fusion.release(block);
        page = AccountPage.format(1, 1_000);
        lz4 = LZ4Factory.fastestJavaInstance().fastCompressor();
        compressed = new byte[lz4.maxCompressedLength(page.length)];
    }

    /** acquire EXCLUSIVE + release of a block held here: the future completes on the node's agent. */
    @Benchmark
    public Object localGet() throws Exception
    {
        final Object grant = fusion.acquire(block, LockMode.EXCLUSIVE).get();
        fusion.release(block);
        return grant;
    }

    /** LZ4 of one 8 KiB account page, as the transport compresses an image. */
    @Benchmark
    public int compressPage()
    {
        return lz4.compress(page, 0, page.length, compressed, 0, compressed.length);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        CloseHelper.quietClose(fusion);
        CloseHelper.quietClose(cluster);
        CloseHelper.quietClose(engine);
        CloseHelper.quietClose(disk);
        try (var files = Files.list(dir))
        {
            for (final Path p : (Iterable<Path>)files::iterator)
            {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }
}
