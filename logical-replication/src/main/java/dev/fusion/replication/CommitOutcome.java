package dev.fusion.replication;

/** How a synchronous commit ended. */
public enum CommitOutcome
{
    /** The level was met (ASYNC: at once; ONE: one ack; ALL: every configured subscriber acked). */
    TARGET_ACHIEVED,
    /** A majority acked: the QUORUM level met, or an ALL commit that timed out with a majority. */
    QUORUM_ACHIEVED,
    /** The timeout passed with fewer acks than the quorum (or than ONE needs). */
    BELOW_QUORUM,
    /** No configured subscriber was subscribed: nothing could acknowledge it. */
    NO_REPLICATION
}
