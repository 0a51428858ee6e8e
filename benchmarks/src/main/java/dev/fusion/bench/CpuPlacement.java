package dev.fusion.bench;

import net.openhft.affinity.Affinity;

import java.util.BitSet;
import java.util.concurrent.ThreadFactory;

/**
 * Pins the threads of a latency section to CPUs (OpenHFT affinity) on a machine with fewer cores than the section
 * keeps busy: left to the scheduler, the rounds there are bimodal, by where the threads happen to land (measured:
 * docs/benchmarks.md). On a machine with a core per busy thread, or a single core, nothing is pinned.
 */
public final class CpuPlacement
{
    private final boolean pinning;

    private CpuPlacement(final boolean pinning)
    {
        this.pinning = pinning;
    }

    /**
     * @param busyThreads the threads the section keeps busy.
     * @return a placement that pins when this machine has at least 2 and fewer than {@code busyThreads} processors.
     */
    public static CpuPlacement forBusyThreads(final int busyThreads)
    {
        final int cores = Runtime.getRuntime().availableProcessors();
        return new CpuPlacement(cores >= 2 && cores < busyThreads);
    }

    /** @return whether threads are pinned. */
    public boolean pinning()
    {
        return pinning;
    }

    /**
     * @param cpu a CPU index.
     * @return a factory whose threads pin themselves to it when they start (plain threads when not pinning).
     */
    public ThreadFactory threadsOn(final int cpu)
    {
        if (!pinning)
        {
            return Thread::new;
        }
        return task -> new Thread(() ->
        {
            Affinity.setAffinity(cpu);
            task.run();
        });
    }

    /**
     * Pins the calling thread until the returned handle is closed; threads it starts meanwhile inherit the pin.
     *
     * @param cpu a CPU index.
     * @return restores the thread's previous CPUs.
     */
    public Pinned pinCurrentThread(final int cpu)
    {
        if (!pinning)
        {
            return () -> { };
        }
        final BitSet before = Affinity.getAffinity();
        Affinity.setAffinity(cpu);
        return () -> Affinity.setAffinity(before);
    }

    /** The calling thread's pin, undone on close. */
    @FunctionalInterface
    public interface Pinned extends AutoCloseable
    {
        @Override
        void close();
    }
}
