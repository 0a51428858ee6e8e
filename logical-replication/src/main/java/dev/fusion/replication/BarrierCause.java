package dev.fusion.replication;

/** Why a transaction had to wait for everything before it and hold back everything after it. */
public enum BarrierCause
{
    /** It changed a table without a primary key: its rows cannot be told apart. */
    NO_PRIMARY_KEY,
    /** It changed a table's definition. */
    DDL,
    /** The key history was full and had to be forgotten: nothing older can be reasoned about. */
    HISTORY_OVERFLOW,
    /** It was spilled to disk on arrival (above the subscriber's spill threshold): applied alone, on one worker. */
    LARGE_TRANSACTION
}
