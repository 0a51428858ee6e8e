package dev.fusion.cluster;

/**
 * Message priority. It picks the stream a message travels on and whether it is batched.
 * <p>
 * CRITICAL and HIGH share the <em>control</em> stream, NORMAL and LOW the <em>bulk</em> stream, so a large
 * block image never queues ahead of a lock message. CRITICAL bypasses batching and is sent as soon as the
 * transport agent sees it; the others are batched within a per-priority time budget.
 * Messages of one priority to one peer are delivered in the order they were sent.
 */
public enum Priority
{
    /** Heartbeats and membership: never batched, drained first. */
    CRITICAL(Stream.CONTROL),
    /** Lock requests, grants and acks. */
    HIGH(Stream.CONTROL),
    /** Block images and replication data. */
    NORMAL(Stream.BULK),
    /** Statistics and other background traffic. */
    LOW(Stream.BULK);

    /** The two Aeron streams every pair of nodes has. */
    public enum Stream
    {
        CONTROL, BULK
    }

    private static final Priority[] VALUES = values();

    private final Stream stream;

    Priority(final Stream stream)
    {
        this.stream = stream;
    }

    /** @return the stream this priority travels on. */
    public Stream stream()
    {
        return stream;
    }

    /** @return true when messages of this priority are batched. */
    public boolean batched()
    {
        return this != CRITICAL;
    }

    /**
     * @param ordinal the wire value of a priority.
     * @return the priority, or null when the value is not a priority.
     */
    public static Priority fromOrdinal(final int ordinal)
    {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }
}
