package dev.fusion.cluster;

/**
 * The replication primary as the membership quorum last committed it: the node that may publish, and the epoch
 * it publishes under. Each change of primary takes the next epoch, so a publisher whose epoch is not the newest
 * knows another node took its place.
 *
 * @param nodeId the primary's node id; 0 when none was named yet (or the cluster has no quorum).
 * @param epoch  its primary epoch; 0 when none was named yet.
 */
public record Primary(int nodeId, long epoch)
{
    /** No primary named yet. */
    public static final Primary NONE = new Primary(0, 0);

    /**
     * @param node  a node id.
     * @param epoch a publisher epoch.
     * @return whether this names that node as the primary of exactly that epoch.
     */
    public boolean is(final int node, final long epoch)
    {
        return nodeId == node && this.epoch == epoch;
    }
}
