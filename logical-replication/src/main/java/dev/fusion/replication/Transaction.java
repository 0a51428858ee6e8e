package dev.fusion.replication;

import java.util.List;

/**
 * A committed transaction as the publisher captured it.
 *
 * @param origin       the node that committed it.
 * @param position     its commit position (LSN) in the replication stream: strictly increasing.
 * @param commitTimeMs the source's commit time, epoch milliseconds.
 * @param changes      its changes in order.
 */
public record Transaction(int origin, long position, long commitTimeMs, List<Change> changes)
{
    /** Validates and freezes the change list. */
    public Transaction
    {
        if (position <= 0)
        {
            throw new IllegalArgumentException("commit position must be positive, got " + position);
        }
        changes = List.copyOf(changes);
    }
}
