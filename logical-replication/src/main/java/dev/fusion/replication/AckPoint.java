package dev.fusion.replication;

/** What a subscriber's acknowledgement must cover for a synchronous commit. */
public enum AckPoint
{
    /** Received, in order, into the subscriber's queue (it survives the publisher's crash, not the subscriber's). */
    RECEIVED,
    /**
     * Durable at the subscriber. The applied watermark is persisted atomically with the apply, so this is the
     * applied watermark: the same as {@link #APPLIED}, named for engines that think in PostgreSQL's terms.
     */
    FLUSHED,
    /** Applied and committed (visible) at the subscriber. */
    APPLIED
}
