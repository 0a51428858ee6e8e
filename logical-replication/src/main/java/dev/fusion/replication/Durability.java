package dev.fusion.replication;

/**
 * How far a record appended to a {@link ReplicationLog} has gone once the log reports it committed.
 */
public enum Durability
{
    /**
     * Durable when the commit returns: {@link ReplicationLog#awaitDurable(long)} returns once an fsync covering
     * the record is done. Fsyncs are grouped across threads: one covers every record appended before it started,
     * so many committing threads share it (the default).
     */
    FSYNC,

    /**
     * Written to the operating system's page cache only: the record survives a crash of the process, not of the
     * machine; the tail of the log can be lost on power loss. {@link ReplicationLog#awaitDurable(long)} returns at
     * once.
     */
    OS
}
