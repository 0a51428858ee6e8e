package dev.fusion.bench.jmh;

import dev.fusion.cluster.transport.BatchSizeController;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** What the adaptive batching controller costs per batch decision: it runs on the transport agent's hot path. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BatchSizeControllerBenchmark
{
    private final BatchSizeController controller = new BatchSizeController(10, 1000, 500_000, 1L << 30, 0);
    private long now;
    private int count;

    @Benchmark
    public int decideAndAdapt()
    {
        now += 1_000;
        controller.onArrivals(10, 1280, now);
        count = count >= controller.target() ? 1 : count + 10;
        final BatchSizeController.Reason reason = controller.flushReason(count, now - 20_000, now, (now & 1) == 0);
        if (null != reason)
        {
            controller.onFlush(reason, count, (now & 2) == 0, false);
            count = 0;
        }
        return controller.target();
    }
}
