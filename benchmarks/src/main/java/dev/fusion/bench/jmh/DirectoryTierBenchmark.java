package dev.fusion.bench.jmh;

import dev.fusion.grd.DirectoryEntry;
import dev.fusion.grd.DirectoryStore;
import dev.fusion.grd.GrantListener;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.MasterMap;
import dev.fusion.grd.MasterRing;
import dev.fusion.grd.RejectReason;
import dev.fusion.grd.ResourceId;
import org.agrona.collections.Long2ObjectHashMap;
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

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * What the directory's tiers cost per lookup: the on-heap hot tier against the Chronicle Map (off-heap) store,
 * and the lock-free master lookup every request starts with.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DirectoryTierBenchmark
{
    private static final int ENTRIES = 100_000;
    private static final GrantListener IGNORE = new GrantListener()
    {
        @Override
        public void onGrant(final long resource, final long requestId, final int node, final LockMode mode)
        {
        }

        @Override
        public void onReject(final long resource, final long requestId, final int node, final RejectReason reason)
        {
        }
    };

    private final Long2ObjectHashMap<DirectoryEntry> hot = new Long2ObjectHashMap<>();
    private DirectoryStore store;
    private MasterMap masters;

    @Setup(Level.Trial)
    public void setup()
    {
        store = DirectoryStore.open(ENTRIES * 2L, null);
        for (int i = 0; i < ENTRIES; i++)
        {
            final long r = ResourceId.of(1, i);
            final DirectoryEntry e = new DirectoryEntry(r);
            e.acquire(1, 1 + (i % 3), LockMode.SHARED, IGNORE);
            hot.put(r, e);
            store.put(e);
        }
        masters = new MasterMap(MasterRing.of(List.of(1, 2, 3), MasterRing.DEFAULT_VIRTUAL_NODES));
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        store.close();
    }

    private static long resource()
    {
        return ResourceId.of(1, ThreadLocalRandom.current().nextInt(ENTRIES));
    }

    @Benchmark
    public int masterOf()
    {
        return masters.masterOf(resource());
    }

    @Benchmark
    public LockMode onHeapTier()
    {
        return hot.get(resource()).modeOf(1);
    }

    @Benchmark
    public LockMode chronicleMapTier()
    {
        return store.get(resource()).modeOf(1);
    }
}
