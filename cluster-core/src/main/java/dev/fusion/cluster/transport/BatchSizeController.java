package dev.fusion.cluster.transport;

/**
 * Chooses, for one (peer, priority), how many messages the next batch frame may hold and when a batch stops
 * waiting for more. Single-threaded: owned by the transport agent.
 * <p>
 * The target size moves between {@code min} and {@code max} on what the controller measures:
 * <ul>
 *   <li>a batch that filled to the target while more messages were queued (a backlog), back pressure from
 *       {@code Publication.offer}, or a send rate near the link capacity grow it: larger frames cost less per
 *       message exactly when the sender is the bottleneck;</li>
 *   <li>a batch that had to be flushed by its time budget shrinks it towards the size that actually arrived,
 *       since waiting for a size the arrival rate cannot fill only adds queueing delay.</li>
 * </ul>
 * A partial batch is held back only while the measured arrival rate predicts it will reach the target within
 * the priority's time budget; at light load it is sent as soon as the send queue is drained, so batching adds
 * no latency there. With {@code min == max} it behaves as a fixed-size batcher (waits for the size or the
 * budget); with {@code max == 1} it does not batch at all.
 */
public final class BatchSizeController
{
    /** Why the agent flushed a batch, as reported back to {@link #onFlush}. */
    public enum Reason
    {
        /** Reached the target size. */
        FULL,
        /** Its oldest message reached the time budget. */
        BUDGET,
        /** The send queue was drained and the arrival rate does not predict a fuller batch in time. */
        DRAINED
    }

    private static final long RATE_WINDOW_NS = 1_000_000;
    private static final double LINK_BUSY = 0.7;

    private final int min;
    private final int max;
    private final long budgetNs;
    private final double linkBytesPerNs;
    private final boolean fixed;

    private int target;
    private long windowStartNs;
    private long windowMessages;
    private long windowBytes;
    private double messagesPerNs;
    private double bytesPerNs;

    /**
     * @param min                   smallest target size, >= 1.
     * @param max                   largest target size, >= min.
     * @param budgetNs              the longest a message may wait in a batch.
     * @param linkBytesPerSecond    the capacity the send rate is measured against.
     * @param nowNs                 the current time.
     */
    public BatchSizeController(
        final int min, final int max, final long budgetNs, final long linkBytesPerSecond, final long nowNs)
    {
        if (min < 1 || max < min)
        {
            throw new IllegalArgumentException("batch size range " + min + ".." + max + " (need 1 <= min <= max)");
        }
        this.min = min;
        this.max = max;
        this.budgetNs = budgetNs;
        this.linkBytesPerNs = linkBytesPerSecond / 1e9;
        this.fixed = min == max;
        this.target = min;
        this.windowStartNs = nowNs;
    }

    /** @return the current target size in messages. */
    public int target()
    {
        return target;
    }

    /**
     * Records messages taken from the send queue, for the arrival and send rate estimates.
     *
     * @param messages how many.
     * @param bytes    their payload bytes.
     * @param nowNs    the current time.
     */
    public void onArrivals(final int messages, final int bytes, final long nowNs)
    {
        windowMessages += messages;
        windowBytes += bytes;
        final long elapsed = nowNs - windowStartNs;
        if (elapsed >= RATE_WINDOW_NS)
        {
            // the old estimate halves per window gone by: after an idle spell a burst's rate is forgotten, not
            // merely halved (it kept a quiet link "busy", compressing and holding back its next messages)
            final double keep = Math.pow(0.5, (double)elapsed / RATE_WINDOW_NS);
            messagesPerNs = keep * messagesPerNs + (1 - keep) * ((double)windowMessages / elapsed);
            bytesPerNs = keep * bytesPerNs + (1 - keep) * ((double)windowBytes / elapsed);
            windowMessages = 0;
            windowBytes = 0;
            windowStartNs = nowNs;
        }
    }

    /**
     * @param count        messages in the open batch, > 0.
     * @param oldestNs     when the oldest of them was queued by the application.
     * @param nowNs        the current time.
     * @param queueDrained true when the send queue holds nothing more right now.
     * @return why the batch should be flushed now, or null to keep it open.
     */
    public Reason flushReason(final int count, final long oldestNs, final long nowNs, final boolean queueDrained)
    {
        if (count >= target)
        {
            return Reason.FULL;
        }
        final long age = nowNs - oldestNs;
        if (age >= budgetNs)
        {
            return Reason.BUDGET;
        }
        if (!queueDrained || fixed)
        {
            return null;
        }
        final double expectedFillNs = messagesPerNs > 0 ? (target - count) / messagesPerNs : Double.MAX_VALUE;
        return age + expectedFillNs <= budgetNs ? null : Reason.DRAINED;
    }

    /**
     * Adapts the target after a flush.
     *
     * @param reason        why the batch was flushed.
     * @param count         messages it held.
     * @param backlog       true when more messages were waiting in the send queue.
     * @param backPressured true when the publication pushed back since the last flush.
     */
    public void onFlush(final Reason reason, final int count, final boolean backlog, final boolean backPressured)
    {
        if (fixed)
        {
            return;
        }
        if (backPressured || bytesPerNs > LINK_BUSY * linkBytesPerNs)
        {
            target = Math.min(max, target * 2);
        }
        else if (reason == Reason.FULL && backlog)
        {
            target = Math.min(max, target + Math.max(1, target >> 2));
        }
        else if (reason == Reason.BUDGET)
        {
            target = Math.max(min, (target + count) >> 1);
        }
    }

    /** @return the measured arrival rate in payload bytes per second. */
    public double byteRatePerSecond()
    {
        return bytesPerNs * 1e9;
    }

    /** @return the measured arrival rate in messages per second. */
    public double arrivalRatePerSecond()
    {
        return messagesPerNs * 1e9;
    }
}
