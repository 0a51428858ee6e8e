package dev.fusion.cachefusion;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/** Counts and latency recorders written by the cache-fusion agent and read by any thread. */
final class WaitEventRecorder
{
    /** Latencies above this are recorded as this (60 s: a get that waited longer failed long before). */
    static final long MAX_LATENCY_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);

    static final String[] NAMES = {"current_grant", "current_2way", "current_3way", "current_local", "cr_local",
        "cr_2way", "cr_3way", "cr_self_served", "busy", "congested", "image_retries", "conversion_retries",
        "fairness_answers", "images_shipped", "bytes_shipped", "past_images_kept", "past_images_discarded",
        "recoveries", "failed", "stale_notices", "grants_with_image"};
    static final int CURRENT_GRANT = 0;
    static final int CURRENT_2WAY = 1;
    static final int CURRENT_3WAY = 2;
    static final int CURRENT_LOCAL = 3;
    static final int CR_LOCAL = 4;
    static final int CR_2WAY = 5;
    static final int CR_3WAY = 6;
    static final int CR_SELF_SERVED = 7;
    static final int BUSY = 8;
    static final int CONGESTED = 9;
    static final int IMAGE_RETRIES = 10;
    static final int CONVERSION_RETRIES = 11;
    static final int FAIRNESS_ANSWERS = 12;
    static final int IMAGES_SHIPPED = 13;
    static final int BYTES_SHIPPED = 14;
    static final int PAST_IMAGES_KEPT = 15;
    static final int PAST_IMAGES_DISCARDED = 16;
    static final int RECOVERIES = 17;
    static final int FAILED = 18;
    static final int STALE_NOTICES = 19;
    /** Gets served on an image that carried its grant, before the master's answer. */
    static final int GRANTS_WITH_IMAGE = 20;

    static final String[] LATENCIES = {"current_grant", "current_2way", "current_3way", "cr", "current_local_queued"};
    static final int LOCAL_LATENCY = 4;

    private final AtomicLongArray counts = new AtomicLongArray(NAMES.length);
    private final Recorder[] recorders = new Recorder[LATENCIES.length];
    private final Histogram[] cumulative = new Histogram[LATENCIES.length];
    private Histogram[] interval = new Histogram[LATENCIES.length];

    WaitEventRecorder()
    {
        for (int i = 0; i < recorders.length; i++)
        {
            recorders[i] = new Recorder(1, MAX_LATENCY_NS, 3); // sized up front: no resize on the agent thread
            cumulative[i] = new Histogram(3);
        }
    }

    void increment(final int event)
    {
        counts.incrementAndGet(event);
    }

    void add(final int event, final long delta)
    {
        counts.addAndGet(event, delta);
    }

    /**
     * @param latency   index into LATENCIES.
     * @param latencyNs how long it took.
     */
    void recordLatency(final int latency, final long latencyNs)
    {
        recorders[latency].recordValue(Math.min(MAX_LATENCY_NS, Math.max(0, latencyNs)));
    }

    static int latencyOf(final GetKind kind)
    {
        return switch (kind)
        {
            case GRANT -> 0;
            case TWO_WAY -> 1;
            case THREE_WAY -> 2;
            case LOCAL -> -1;
        };
    }

    synchronized WaitEvents snapshot()
    {
        final Map<String, Long> c = new LinkedHashMap<>();
        for (int i = 0; i < NAMES.length; i++)
        {
            c.put(NAMES[i], counts.get(i));
        }
        final Map<String, Histogram> h = new LinkedHashMap<>();
        for (int i = 0; i < LATENCIES.length; i++)
        {
            interval[i] = recorders[i].getIntervalHistogram(interval[i]);
            cumulative[i].add(interval[i]);
            h.put(LATENCIES[i], cumulative[i].copy());
        }
        return new WaitEvents(c, h);
    }
}
