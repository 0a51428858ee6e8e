package dev.fusion.replication;

/**
 * What the engine calls before a local write: on a replica it throws, so the replica only ever changes through
 * replication (a local write would make it diverge from its publisher without anyone knowing). Lock-free: one
 * volatile read.
 */
public final class WriteGuard
{
    private final int node;
    private volatile int publisher;

    /**
     * @param node      this node.
     * @param publisher the node it replicates, or -1 when it is writable (a publisher or standalone).
     */
    WriteGuard(final int node, final int publisher)
    {
        this.node = node;
        this.publisher = publisher;
    }

    /** @return a guard that always allows writes (a publisher, or an engine that does not replicate). */
    public static WriteGuard writable(final int node)
    {
        return new WriteGuard(node, -1);
    }

    /**
     * @throws ReadOnlyReplicaException when this node is a replica.
     */
    public void checkWritable()
    {
        final int p = publisher;
        if (p >= 0)
        {
            throw new ReadOnlyReplicaException(node, p);
        }
    }

    /** @return whether local writes are allowed. */
    public boolean isWritable()
    {
        return publisher < 0;
    }

    void replicaOf(final int publisher)
    {
        this.publisher = publisher;
    }

    void promoted()
    {
        this.publisher = -1;
    }
}
