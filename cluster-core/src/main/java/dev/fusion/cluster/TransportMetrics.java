package dev.fusion.cluster;

import org.HdrHistogram.Histogram;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of one node's transport metrics: counters, and cumulative histograms since the node started
 * (queueing delay and one-way latency per priority in nanoseconds, messages per batch frame). Taking a
 * snapshot never blocks the transport agent.
 */
public final class TransportMetrics
{
    private final Map<String, Long> counters;
    private final Map<DropCause, Long> drops;
    private final Map<Priority, Histogram> queueingDelayNs;
    private final Map<Priority, Histogram> oneWayLatencyNs;
    private final Histogram batchSize;

    /**
     * @param counters        counter values by name.
     * @param drops           drop counts by cause.
     * @param queueingDelayNs time from send() to the frame's offer, per priority.
     * @param oneWayLatencyNs time from the frame's send to its delivery on the receiver, per priority.
     * @param batchSize       messages per frame of the batched priorities.
     */
    public TransportMetrics(
        final Map<String, Long> counters,
        final Map<DropCause, Long> drops,
        final Map<Priority, Histogram> queueingDelayNs,
        final Map<Priority, Histogram> oneWayLatencyNs,
        final Histogram batchSize)
    {
        this.counters = Collections.unmodifiableMap(new LinkedHashMap<>(counters));
        this.drops = Collections.unmodifiableMap(new EnumMap<>(drops));
        this.queueingDelayNs = Collections.unmodifiableMap(new EnumMap<>(queueingDelayNs));
        this.oneWayLatencyNs = Collections.unmodifiableMap(new EnumMap<>(oneWayLatencyNs));
        this.batchSize = batchSize;
    }

    /** @return every counter by name (see {@code docs/operations.md} for their meaning). */
    public Map<String, Long> counters()
    {
        return counters;
    }

    /**
     * @param name a counter name.
     * @return its value, 0 when unknown.
     */
    public long counter(final String name)
    {
        return counters.getOrDefault(name, 0L);
    }

    /** @return drops by cause. */
    public Map<DropCause, Long> drops()
    {
        return drops;
    }

    /**
     * @param cause a drop cause.
     * @return how many frames or messages were dropped for it.
     */
    public long drops(final DropCause cause)
    {
        return drops.getOrDefault(cause, 0L);
    }

    /**
     * @param priority a priority.
     * @return the cumulative queueing delay histogram, nanoseconds.
     */
    public Histogram queueingDelayNs(final Priority priority)
    {
        return queueingDelayNs.get(priority);
    }

    /**
     * @param priority a priority.
     * @return the cumulative one-way latency histogram, nanoseconds (sender and receiver clocks must agree).
     */
    public Histogram oneWayLatencyNs(final Priority priority)
    {
        return oneWayLatencyNs.get(priority);
    }

    /** @return the cumulative histogram of messages per batched frame. */
    public Histogram batchSize()
    {
        return batchSize;
    }

    @Override
    public String toString()
    {
        return "TransportMetrics{counters=" + counters + ", drops=" + drops +
            ", batchSizeMean=" + String.format("%.1f", batchSize.getMean()) + '}';
    }
}
