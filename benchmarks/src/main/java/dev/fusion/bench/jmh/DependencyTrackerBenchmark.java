package dev.fusion.bench.jmh;

import dev.fusion.replication.BarrierCause;
import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.DependencyTracker;
import dev.fusion.replication.KeyRef;
import dev.fusion.replication.Transaction;
import org.agrona.collections.LongArrayList;
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

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Dependency tracking per transaction (3 row changes, each with a primary and a unique key): goal <= 2 us. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DependencyTrackerBenchmark
{
    private static final int POOL = 4096;
    private final DependencyTracker tracker = new DependencyTracker(1_000_000);
    private final LongArrayList dependencies = new LongArrayList();
    private final List<List<Change>> changeSets = new ArrayList<>();
    private long position;

    @Setup
    public void setup()
    {
        final Random random = new Random(1);
        for (int i = 0; i < POOL; i++)
        {
            final List<Change> changes = new ArrayList<>();
            for (int c = 0; c < 3; c++)
            {
                final String id = "k" + random.nextInt(100_000);
                changes.add(new Change("t", key("t", id), List.of(key("t.uk", "u" + id)), null, ChangeOp.UPDATE,
                    null, id.getBytes(StandardCharsets.UTF_8)));
            }
            changeSets.add(changes);
        }
    }

    private static KeyRef key(final String table, final String value)
    {
        return new KeyRef(table, value.getBytes(StandardCharsets.UTF_8));
    }

    @Benchmark
    public int track()
    {
        position++;
        final Transaction txn = new Transaction(1, position, 0, changeSets.get((int)(position & (POOL - 1))));
        final BarrierCause cause = tracker.track(txn, dependencies);
        return null == cause ? dependencies.size() : -1;
    }
}
