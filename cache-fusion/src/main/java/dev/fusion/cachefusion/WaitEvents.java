package dev.fusion.cachefusion;

import org.HdrHistogram.Histogram;

import java.util.Map;

/**
 * Cache fusion's wait events on one node, as RAC users read them: how block gets were served, how long they
 * took, and what went wrong on the way. A snapshot; histograms are cumulative, in nanoseconds.
 *
 * @param counts     event counts by name (see {@link WaitEventRecorder} names: current_grant, current_2way,
 *                   current_3way, current_local, cr_local, cr_2way, cr_3way, cr_self_served, busy, congested,
 *                   image_retries, conversion_retries, fairness_answers, images_shipped, bytes_shipped,
 *                   past_images_kept, past_images_discarded, recoveries, failed, stale_notices,
 *                   grants_with_image: gets served on an image that carried its grant, before the master's answer).
 * @param latencies  latency histograms by kind: current_grant, current_2way, current_3way, cr.
 */
public record WaitEvents(Map<String, Long> counts, Map<String, Histogram> latencies)
{
    /**
     * @param name an event name.
     * @return its count, 0 when never seen.
     */
    public long count(final String name)
    {
        return counts.getOrDefault(name, 0L);
    }

    /**
     * @param name a latency kind.
     * @return its histogram (empty when never recorded).
     */
    public Histogram latency(final String name)
    {
        return latencies.getOrDefault(name, new Histogram(3));
    }
}
