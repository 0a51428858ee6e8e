package dev.fusion.grd;

/**
 * A snapshot of the directory's counters on one node.
 *
 * @param localGrants     grants this node obtained from itself as master.
 * @param remoteGrants    grants this node obtained from another master.
 * @param grantsServed    grants this node gave as master (to anyone).
 * @param forwarded       requests this node received for a resource it did not master and passed on.
 * @param rejected        requests this node refused as master.
 * @param timedOut        this node's requests that timed out.
 * @param remastersOut    resources this node handed to a new master.
 * @param remastersIn     resources this node took over.
 * @param recoveries      resources recovered after a holder died.
 * @param hotEntries      entries in the on-heap tier.
 * @param storedEntries   entries in the off-heap store.
 * @param waiting         requests queued in entries this node masters.
 * @param lateGrantsReleased grants that arrived after their request timed out and were handed back.
 * @param retries         requests sent again after going unanswered for the retry interval.
 * @param promotions      entries brought into the on-heap tier from the store (or created).
 * @param demotions       entries moved out of the on-heap tier.
 * @param warmEntries     stored entries classified WARM at the last tier scan.
 * @param coldEntries     stored entries classified COLD at the last tier scan.
 * @param objectRemasters entries handed over by the object rule (a subset of remastersOut).
 * @param blockingNotices holders told, as master, to give way to (or supply) a requester.
 */
public record GrdStats(
    long localGrants,
    long remoteGrants,
    long grantsServed,
    long forwarded,
    long rejected,
    long timedOut,
    long remastersOut,
    long remastersIn,
    long recoveries,
    long hotEntries,
    long storedEntries,
    long waiting,
    long lateGrantsReleased,
    long retries,
    long promotions,
    long demotions,
    long warmEntries,
    long coldEntries,
    long objectRemasters,
    long blockingNotices)
{
    /** @return the share of this node's grants that came from a remote master, 0..1. */
    public double remoteShare()
    {
        final long total = localGrants + remoteGrants;
        return total == 0 ? 0 : (double)remoteGrants / total;
    }
}
