package dev.fusion.replication;

import java.util.List;

/**
 * The engine's side of parallel apply. {@link #apply} runs on worker threads, several at once, for
 * transactions the dependency graph proved independent; {@link #commit} makes a transaction's changes visible.
 * With commit order preserved, {@code apply} must not make anything visible, and {@code commit} is called
 * one at a time in source commit order; otherwise {@code commit} follows {@code apply} on the same worker.
 * The engine persists {@code txn.position()} as its applied watermark atomically with the commit, so that a
 * restarted subscriber resumes after it (exactly once).
 */
public interface ApplyHandler
{
    /**
     * @param txn the transaction to apply.
     * @throws Exception when it cannot be applied; the applier stops and reports it, it never skips it.
     */
    void apply(Transaction txn) throws Exception;

    /**
     * @param txn a transaction whose {@link #apply} returned.
     * @throws Exception when it cannot be committed; the applier stops and reports it.
     */
    default void commit(final Transaction txn) throws Exception
    {
    }

    /**
     * Commits consecutive transactions (in source order, each one's {@link #apply} returned) as one group, with
     * commit order preserved: the applier groups what is ready to commit, up to a limit that grows while commits
     * fall behind and shrinks when they keep up (group commit). An engine that can make a group durable at once
     * (one log write and one sync, say) overrides this and persists the last position as its watermark atomically
     * with all of them; the default commits them one by one. Called on the applier's coordinator thread.
     *
     * @param txns the group, oldest first; not to be kept after the call.
     * @throws Exception when it cannot be committed; the applier stops and reports it.
     */
    default void commitBatch(final List<Transaction> txns) throws Exception
    {
        for (final Transaction t : txns)
        {
            commit(t);
        }
    }
}
