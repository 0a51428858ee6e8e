package dev.fusion.cluster.membership;

import dev.fusion.cluster.MembershipView;

/**
 * Owned by the transport agent: where a node's membership views come from, and which frames it admits. Either
 * each node decides alone from heartbeats ({@link FailureDetector}) or the quorum decides for every node
 * ({@link QuorumMembership}).
 */
public interface Membership
{
    /** Returned by {@link #onFrame} when a frame may be delivered. */
    int ADMITTED = 0;
    /** Returned by {@link #onFrame} when a frame comes from an incarnation that is not a live member. */
    int FENCED = 1;

    /** @return the current view. */
    MembershipView view();

    /**
     * Records a frame from a peer.
     *
     * @param peerId      a configured peer.
     * @param incarnation the sender's incarnation from the frame header.
     * @param epoch       the epoch of the sender's view, low 32 bits, from the frame header.
     * @param nowNs       the current time.
     * @return {@link #ADMITTED} or {@link #FENCED}.
     */
    int onFrame(int peerId, int incarnation, int epoch, long nowNs);

    /**
     * Moves membership on: timeouts, or views the quorum committed.
     *
     * @param nowNs the current time.
     * @return work done.
     */
    int poll(long nowNs);

    /**
     * @param nowNs the current time.
     * @return whether this node may act as a member now: always for local decisions; while its lease lasts for
     * the quorum's.
     */
    boolean holdsLease(long nowNs);
}
