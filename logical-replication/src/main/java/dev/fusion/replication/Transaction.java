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
    /** Validates and freezes the change list (a spilled transaction's lazily decoded list is immutable already). */
    public Transaction
    {
        if (position <= 0)
        {
            throw new IllegalArgumentException("commit position must be positive, got " + position);
        }
        changes = changes instanceof TransactionCodec.LazyChanges ? changes : List.copyOf(changes);
    }

    /** @return whether its changes stay spilled on disk and are decoded as they are iterated. */
    public boolean spilled()
    {
        return changes instanceof TransactionCodec.LazyChanges;
    }
}
