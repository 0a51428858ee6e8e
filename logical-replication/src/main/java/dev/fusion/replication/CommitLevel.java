package dev.fusion.replication;

/** How many subscribers must acknowledge a transaction before the publisher's commit future completes. */
public enum CommitLevel
{
    /** None: the future completes at once (the engine does not wait for replication). */
    ASYNC,
    /** Any one subscriber. */
    ONE,
    /** A majority of the configured subscribers (or the quorum set). */
    QUORUM,
    /** Every configured subscriber. */
    ALL
}
