package dev.fusion.replication;

import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;

/**
 * Finds what a transaction must wait for, in the way of MySQL's WRITESET tracking: its write set is the
 * hashes of every primary key, unique key and referenced parent key its changes touch, and it depends on the
 * latest earlier transaction that touched any of them. A change to a table without a primary key, a DDL
 * statement, or a full key history makes the transaction a barrier: it waits for everything before it and
 * everything after it waits for it. Single-threaded: owned by the apply coordinator.
 */
public final class DependencyTracker
{
    private final int maxHistory;
    private final Long2LongHashMap lastWriter = new Long2LongHashMap(0);
    private final long[] barriers = new long[BarrierCause.values().length];
    private long lastBarrier;

    /**
     * @param maxHistory the most key hashes remembered; beyond it the history is forgotten behind a barrier.
     */
    public DependencyTracker(final int maxHistory)
    {
        if (maxHistory < 1)
        {
            throw new IllegalArgumentException("maxHistory must be positive, got " + maxHistory);
        }
        this.maxHistory = maxHistory;
    }

    /**
     * @param txn          the next transaction, in commit order.
     * @param dependencies filled with the positions it depends on (may hold duplicates).
     * @return the barrier cause when it is a barrier (then {@code dependencies} is empty: it depends on
     * everything in flight), else null.
     */
    public BarrierCause track(final Transaction txn, final LongArrayList dependencies)
    {
        dependencies.clear();
        BarrierCause cause = barrierCause(txn);
        if (null == cause && lastWriter.size() + keyCount(txn) > maxHistory)
        {
            cause = BarrierCause.HISTORY_OVERFLOW;
        }
        if (null != cause)
        {
            barriers[cause.ordinal()]++;
            if (cause == BarrierCause.HISTORY_OVERFLOW)
            {
                // only here: clear() fills the map's whole capacity, which never shrinks (millions of slots after
                // one big batch); after any other barrier, writers before it are ignored instead (see touch)
                lastWriter.clear();
            }
            lastBarrier = txn.position();
            return cause;
        }
        if (lastBarrier > 0)
        {
            dependencies.addLong(lastBarrier);
        }
        for (final Change change : txn.changes())
        {
            touch(change.primaryKey(), txn.position(), dependencies);
            for (final KeyRef key : change.uniqueKeys())
            {
                touch(key, txn.position(), dependencies);
            }
            for (final KeyRef key : change.parentKeys())
            {
                touch(key, txn.position(), dependencies);
            }
        }
        return null;
    }

    private void touch(final KeyRef key, final long position, final LongArrayList dependencies)
    {
        final long hash = key.hash();
        final long previous = lastWriter.put(hash, position);
        if (previous > lastBarrier && previous != position) // a writer before the barrier: the barrier covers it
        {
            dependencies.addLong(previous);
        }
    }

    private static BarrierCause barrierCause(final Transaction txn)
    {
        if (txn.spilled())
        {
            return BarrierCause.LARGE_TRANSACTION; // its write set is not read into memory
        }
        for (final Change change : txn.changes())
        {
            if (change.op() == ChangeOp.DDL)
            {
                return BarrierCause.DDL;
            }
            if (null == change.primaryKey())
            {
                return BarrierCause.NO_PRIMARY_KEY;
            }
        }
        return null;
    }

    private static int keyCount(final Transaction txn)
    {
        int n = 0;
        for (final Change change : txn.changes())
        {
            n += 1 + change.uniqueKeys().size() + change.parentKeys().size();
        }
        return n;
    }

    /**
     * @param cause a barrier cause.
     * @return how many barriers it caused so far.
     */
    public long barriers(final BarrierCause cause)
    {
        return barriers[cause.ordinal()];
    }
}
