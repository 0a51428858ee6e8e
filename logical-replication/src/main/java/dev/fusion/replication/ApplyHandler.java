package dev.fusion.replication;

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
}
