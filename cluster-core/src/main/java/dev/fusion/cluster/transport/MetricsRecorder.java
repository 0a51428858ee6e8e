package dev.fusion.cluster.transport;

import dev.fusion.cluster.Priority;
import dev.fusion.cluster.TransportMetrics;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.util.EnumMap;
import java.util.Map;

/**
 * HdrHistogram recorders the transport agent writes without ever blocking; readers take interval histograms
 * and fold them into cumulative ones.
 */
public final class MetricsRecorder
{
    private static final int DIGITS = 3;
    private static final int PRIORITIES = Priority.values().length;

    private final Recorder[] queueingDelay = new Recorder[PRIORITIES];
    private final Recorder[] oneWayLatency = new Recorder[PRIORITIES];
    /**
     * Latencies above this are recorded as this: the recorders are sized for it up front, so recording on the
     * agent thread never resizes (a resize allocates and copies the counts array in the middle of a duty cycle).
     */
    static final long MAX_LATENCY_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    private static final int MAX_BATCH = 1 << 16;
    private final Recorder batchSize = new Recorder(1, MAX_BATCH, DIGITS);

    private final Histogram[] queueingTotal = new Histogram[PRIORITIES];
    private final Histogram[] latencyTotal = new Histogram[PRIORITIES];
    private final Histogram batchTotal = new Histogram(DIGITS);
    private final Histogram[] scratch = new Histogram[2 * PRIORITIES + 1];

    /** Makes empty recorders. */
    public MetricsRecorder()
    {
        for (int i = 0; i < PRIORITIES; i++)
        {
            queueingDelay[i] = new Recorder(1, MAX_LATENCY_NS, DIGITS);
            oneWayLatency[i] = new Recorder(1, MAX_LATENCY_NS, DIGITS);
            queueingTotal[i] = new Histogram(DIGITS);
            latencyTotal[i] = new Histogram(DIGITS);
        }
    }

    void recordQueueingDelay(final Priority priority, final long ns)
    {
        if (ns >= 0)
        {
            queueingDelay[priority.ordinal()].recordValue(Math.min(ns, MAX_LATENCY_NS));
        }
    }

    void recordOneWayLatency(final Priority priority, final long ns)
    {
        if (ns >= 0)
        {
            oneWayLatency[priority.ordinal()].recordValue(Math.min(ns, MAX_LATENCY_NS));
        }
    }

    void recordBatchSize(final int messages)
    {
        batchSize.recordValue(Math.min(messages, MAX_BATCH));
    }

    /**
     * @param counters the counters to include.
     * @return a snapshot; histograms are cumulative since start.
     */
    public synchronized TransportMetrics snapshot(final TransportCounters counters)
    {
        final Map<Priority, Histogram> queueing = new EnumMap<>(Priority.class);
        final Map<Priority, Histogram> latency = new EnumMap<>(Priority.class);
        for (final Priority p : Priority.values())
        {
            final int i = p.ordinal();
            scratch[i] = queueingDelay[i].getIntervalHistogram(scratch[i]);
            queueingTotal[i].add(scratch[i]);
            queueing.put(p, queueingTotal[i].copy());
            scratch[PRIORITIES + i] = oneWayLatency[i].getIntervalHistogram(scratch[PRIORITIES + i]);
            latencyTotal[i].add(scratch[PRIORITIES + i]);
            latency.put(p, latencyTotal[i].copy());
        }
        scratch[2 * PRIORITIES] = batchSize.getIntervalHistogram(scratch[2 * PRIORITIES]);
        batchTotal.add(scratch[2 * PRIORITIES]);
        return new TransportMetrics(counters.values(), counters.dropValues(), queueing, latency, batchTotal.copy());
    }
}
