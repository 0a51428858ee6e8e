package dev.fusion.replication.monitor;

/** How a subscriber stands with its publisher. */
public enum ReplicationState
{
    /** Streaming and within the WARNING thresholds. */
    CONNECTED,
    /** A full sync is needed or running. */
    SYNCING,
    /** Streaming, but behind by more than a WARNING threshold. */
    LAGGING,
    /** The publisher is not alive in this node's membership view. */
    DISCONNECTED
}
