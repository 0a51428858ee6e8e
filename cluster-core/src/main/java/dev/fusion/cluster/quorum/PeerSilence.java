package dev.fusion.cluster.quorum;

/**
 * Read by the lease agent's thread: the live peers this node has not heard for a while, which it reports to the
 * quorum as suspicions.
 */
public interface PeerSilence
{
    /**
     * @param nowNs        the current time (monotonic).
     * @param timeoutNs    the silence that counts.
     * @param ids          receives the silent peers' ids; sized for every configured node.
     * @param incarnations receives their incarnations, index by index.
     * @return how many there are.
     */
    int silentPeers(long nowNs, long timeoutNs, int[] ids, int[] incarnations);
}
