package dev.fusion.cluster;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.util.Locale;

/**
 * What a node's thread does when a duty cycle found no work (and what the embedded driver's SHARED thread does).
 */
public enum IdleMode
{
    /**
     * Spin, then yield, then park for 1 us doubling up to {@code idleMaxParkUs}: an idle node costs little CPU. A
     * park lasts at least the kernel's timer slack (50 us by default on Linux; ~75 us measured here for a 1 us
     * park), so a message that reaches a parked node waits that long.
     */
    BACKOFF,
    /**
     * Spin 10 times, then {@code Thread.yield()} and never park: a node answers within a duty cycle, and gives its
     * core to any other runnable thread, but an idle node still keeps its core busy. For nodes with a core each,
     * or latency measurements with threads pinned.
     */
    YIELDING;

    private static final long SPINS = 10;
    private static final long YIELDS_BEFORE_PARKING = 20;
    private static final long MIN_PARK_NS = 1_000;

    /**
     * @param maxParkNs the longest park of {@link #BACKOFF} ({@code idleMaxParkUs}).
     * @return a new idle strategy for one thread.
     */
    public IdleStrategy newStrategy(final long maxParkNs)
    {
        // spinning first catches an answer that comes within a few microseconds without a syscall
        return this == YIELDING ?
            new BackoffIdleStrategy(SPINS, Long.MAX_VALUE, MIN_PARK_NS, MIN_PARK_NS) :
            new BackoffIdleStrategy(SPINS, YIELDS_BEFORE_PARKING, MIN_PARK_NS, Math.max(MIN_PARK_NS, maxParkNs));
    }

    /**
     * @param text {@code backoff} or {@code yielding}, any case.
     * @return the mode.
     * @throws IllegalArgumentException for anything else.
     */
    public static IdleMode parse(final String text)
    {
        return valueOf(text.trim().toUpperCase(Locale.ROOT));
    }
}
