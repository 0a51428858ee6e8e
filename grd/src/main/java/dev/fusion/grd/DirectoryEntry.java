package dev.fusion.grd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the master knows of one resource: who holds it in which mode, the requests waiting in arrival order,
 * who keeps past images of it, its current version (SCN) and last writer. Mutated only by the master's
 * directory agent.
 * <p>
 * Grant rule: the queue is served strictly in order, and a request is granted when its mode is compatible
 * with every other holder's. Serving in order means a waiting EXCLUSIVE is never starved by a stream of
 * SHARED requests behind it. Conversions (a holder asking for a stronger mode) queue ahead of new requests;
 * two holders converting to EXCLUSIVE at once would wait on each other forever, so the later one is refused
 * with {@link RejectReason#CONVERSION_DEADLOCK}.
 */
public final class DirectoryEntry
{
    private final long resource;
    private final Map<Integer, LockMode> holders = new TreeMap<>();
    private final ArrayDeque<LockRequest> queue = new ArrayDeque<>();
    private final List<Integer> pastImageHolders = new ArrayList<>(2);
    private long scn;
    private int lastWriter = -1;
    private boolean recovering;
    /** A node reported holding EXCLUSIVE on an image that carried its grant (reconfiguration), or -1. */
    private int unconfirmedExclusive = -1;
    /** The queue head whose blocking holders were told (one notice per head; a retry of it notifies again). */
    private long noticedRequestId = Long.MIN_VALUE;
    private int noticedNode = -1;
    private int noticedSupplier = -1;
    /**
     * Each node's latest acquire (request id, 1 when it was refused or cancelled): a node's request ids only grow,
     * so a copy of an older one (a retry still in flight when the original was answered) is stale, and a copy of
     * a refused one is refused again instead of being queued as new.
     */
    private final Map<Integer, long[]> latestRequests = new TreeMap<>();
    /** Each holder's latest grant (request id, supplier named), to answer a retry of it the same way. */
    private final Map<Integer, long[]> lastGrants = new TreeMap<>();

    int lastRemoteRequester = -1;
    int consecutiveRemoteRequests;
    long accessCount;
    long lastAccessNs;
    long firstAccessMs;
    long lastAccessMs;

    /**
     * Records a use, for the tiers.
     *
     * @param nowNs monotonic time.
     * @param nowMs wall-clock time.
     */
    void touch(final long nowNs, final long nowMs)
    {
        accessCount++;
        lastAccessNs = nowNs;
        lastAccessMs = nowMs;
        if (firstAccessMs == 0)
        {
            firstAccessMs = nowMs;
        }
    }

    /** @return how often it was used. */
    public long accessCount()
    {
        return accessCount;
    }

    /** @return wall-clock time of its first use, 0 when never used. */
    public long firstAccessMs()
    {
        return firstAccessMs;
    }

    /** @return wall-clock time of its last use, 0 when never used. */
    public long lastAccessMs()
    {
        return lastAccessMs;
    }

    /**
     * @param resource the resource this entry describes.
     */
    public DirectoryEntry(final long resource)
    {
        this.resource = resource;
    }

    /** @return the resource. */
    public long resource()
    {
        return resource;
    }

    /**
     * @param node a node id.
     * @return the mode it holds, NULL when none.
     */
    public LockMode modeOf(final int node)
    {
        return holders.getOrDefault(node, LockMode.NULL);
    }

    /** @return the holders and their modes, by node id. */
    public Map<Integer, LockMode> holders()
    {
        return Collections.unmodifiableMap(holders);
    }

    /** @return the waiting requests in the order they will be served. */
    public List<LockRequest> queue()
    {
        return List.copyOf(queue);
    }

    /** @return how many requests wait, without copying the queue. */
    public int queueLength()
    {
        return queue.size();
    }

    /** @return the nodes keeping past images of this resource. */
    public List<Integer> pastImageHolders()
    {
        return Collections.unmodifiableList(pastImageHolders);
    }

    /** The codec's views: the live collections, read without copies or wrappers (the agent's thread only). */
    Map<Integer, LockMode> holdersMap()
    {
        return holders;
    }

    java.util.ArrayDeque<LockRequest> queueDeque()
    {
        return queue;
    }

    List<Integer> pastImageHolderList()
    {
        return pastImageHolders;
    }

    /** @return the current version. */
    public long scn()
    {
        return scn;
    }

    /** @return the node that wrote the current version, -1 when unknown. */
    public int lastWriter()
    {
        return lastWriter;
    }

    /** @return true while a dead node's EXCLUSIVE hold is being recovered: nothing is granted meanwhile. */
    public boolean recovering()
    {
        return recovering;
    }

    /** @return true when nobody holds or waits for the resource. */
    public boolean idle()
    {
        return holders.isEmpty() && queue.isEmpty() && !recovering;
    }

    /**
     * A node asks for a mode. Granted at once when compatible and nobody waits ahead; otherwise queued.
     * Asking again for a mode already covered is granted again (idempotent retry); a request id already queued
     * is ignored.
     *
     * @param requestId the request's id.
     * @param node      the requesting node.
     * @param mode      SHARED or EXCLUSIVE.
     * @param listener  told of grants and rejections.
     */
    public void acquire(final long requestId, final int node, final LockMode mode, final GrantListener listener)
    {
        acquire(requestId, node, mode, listener, false);
    }

    /**
     * @param requestId the request's id.
     * @param node      the requesting node.
     * @param mode      SHARED or EXCLUSIVE.
     * @param listener  told of grants and rejections.
     * @param fresh     the node says it holds nothing now: a hold recorded for it under another grant was given
     *                  up and its release is late (or lost), so it is released here first.
     */
    public void acquire(final long requestId, final int node, final LockMode mode, final GrantListener listener,
        final boolean fresh)
    {
        if (mode == LockMode.NULL)
        {
            listener.onReject(resource, requestId, node, RejectReason.INVALID_MODE);
            return;
        }
        final long[] latest = latestRequests.get(node);
        if (null != latest && requestId < latest[0])
        {
            return; // a stale copy: the node has made a newer request since
        }
        if (null != latest && requestId == latest[0] && latest[1] == 1)
        {
            listener.onReject(resource, requestId, node, RejectReason.CANCELLED);
            return;
        }
        if (null == latest || requestId > latest[0])
        {
            latestRequests.put(node, new long[]{requestId, 0});
        }
        if (fresh && holders.containsKey(node) && !isGrant(node, requestId))
        {
            holders.remove(node);
            lastGrants.remove(node);
        }
        final LockMode held = modeOf(node);
        if (held.covers(mode))
        {
            final long[] last = lastGrants.get(node);
            final boolean retry = null != last && last[0] == requestId;
            if (!retry)
            {
                // the node now holds it under this request (its directory records this id): notices and
                // releases name it from here on
                lastGrants.put(node, new long[]{requestId, -1});
            }
            listener.onGrant(resource, requestId, node, held, retry ? (int)last[1] : -1);
            return;
        }
        for (final LockRequest waiting : queue)
        {
            if (waiting.node() == node && waiting.requestId() == requestId)
            {
                if (waiting == queue.peekFirst() && waiting.requestId() == noticedRequestId &&
                    waiting.node() == noticedNode)
                {
                    // the requester retried: a notice to a holder may have been lost, so send them again (the
                    // supplier named stays the same: it may have shipped and gone already)
                    sendNotices(waiting, listener);
                }
                return;
            }
        }
        final boolean conversion = held != LockMode.NULL;
        if (conversion)
        {
            for (final LockRequest waiting : queue)
            {
                if (waiting.conversion())
                {
                    latestRequests.get(node)[1] = 1;
                    listener.onReject(resource, requestId, node, RejectReason.CONVERSION_DEADLOCK);
                    return;
                }
            }
            queue.addFirst(new LockRequest(requestId, node, mode, true));
            // the request it overtakes is told again, with a fresh supplier, when it is at the head once more:
            // the holders it was told about may hold under other grants by then
            noticedRequestId = Long.MIN_VALUE;
        }
        else
        {
            queue.addLast(new LockRequest(requestId, node, mode, false));
        }
        grantWaiting(listener);
    }

    /**
     * A holder gives the resource up.
     *
     * @param node     the holder.
     * @param listener told of the grants this allows.
     * @return false when the node did not hold it (nothing changes).
     */
    public boolean release(final int node, final GrantListener listener)
    {
        return release(node, GrdMessages.NO_GRANT, listener);
    }

    /**
     * @param node     the holder.
     * @param grant    the grant it gives up; a release of an older grant than the node's current one is late
     *                 (the node got the resource again since) and changes nothing.
     * @param listener told of the grants this allows.
     * @return false when the node did not hold it.
     */
    public boolean release(final int node, final long grant, final GrantListener listener)
    {
        if (isStale(node, grant))
        {
            return true;
        }
        if (null == holders.remove(node))
        {
            return false;
        }
        forgetUnconfirmed(node);
        lastGrants.remove(node);
        grantWaiting(listener);
        return true;
    }

    /**
     * A holder keeps a weaker mode (EXCLUSIVE to SHARED, or to NULL which releases).
     *
     * @param node     the holder.
     * @param mode     the weaker mode.
     * @param listener told of the grants this allows.
     * @return false when the node does not hold a stronger mode (nothing changes).
     */
    public boolean downgrade(final int node, final LockMode mode, final GrantListener listener)
    {
        return downgrade(node, mode, GrdMessages.NO_GRANT, listener);
    }

    /**
     * @param node     the holder.
     * @param mode     the weaker mode.
     * @param grant    the grant it downgrades; an older one than the node's current grant changes nothing.
     * @param listener told of the grants this allows.
     * @return false when the node does not hold a stronger mode.
     */
    public boolean downgrade(final int node, final LockMode mode, final long grant, final GrantListener listener)
    {
        if (isStale(node, grant))
        {
            return true;
        }
        final LockMode held = modeOf(node);
        if (held == LockMode.NULL || !held.covers(mode) || held == mode)
        {
            return false;
        }
        if (mode == LockMode.NULL)
        {
            holders.remove(node);
            lastGrants.remove(node);
        }
        else
        {
            holders.put(node, mode);
        }
        forgetUnconfirmed(node);
        grantWaiting(listener);
        return true;
    }

    /**
     * Withdraws a waiting request.
     *
     * @param requestId the request.
     * @param node      its node.
     * @param listener  told of the cancellation (as a rejection) and of grants it allows.
     * @return false when no such request was waiting.
     */
    public boolean cancel(final long requestId, final int node, final GrantListener listener)
    {
        final Iterator<LockRequest> it = queue.iterator();
        while (it.hasNext())
        {
            final LockRequest r = it.next();
            if (r.node() == node && r.requestId() == requestId)
            {
                it.remove();
                final long[] latest = latestRequests.get(node);
                if (null != latest && latest[0] == requestId)
                {
                    latest[1] = 1;
                }
                listener.onReject(resource, requestId, node, RejectReason.CANCELLED);
                grantWaiting(listener);
                return true;
            }
        }
        return false;
    }

    /**
     * Records a new version written by a holder of EXCLUSIVE.
     *
     * @param node the writer.
     * @param newScn the version it wrote.
     */
    public void recordWrite(final int node, final long newScn)
    {
        if (newScn > scn)
        {
            scn = newScn;
            lastWriter = node;
        }
    }

    /**
     * @param node a node that keeps a past image.
     */
    public void addPastImageHolder(final int node)
    {
        if (!pastImageHolders.contains(node))
        {
            pastImageHolders.add(node);
        }
    }

    /** Forgets every past image (after the newest version was written to disk). */
    public void clearPastImages()
    {
        pastImageHolders.clear();
    }

    /**
     * Removes a dead node: its holds and waiting requests go; an EXCLUSIVE hold puts the entry into recovery,
     * and nothing is granted until {@link #recovered} is called.
     *
     * @param node     the dead node.
     * @param listener told of the grants its departure allows.
     * @return true when the node held the resource in EXCLUSIVE.
     */
    public boolean removeNode(final int node, final GrantListener listener)
    {
        final LockMode held = holders.remove(node);
        forgetUnconfirmed(node);
        lastGrants.remove(node);
        latestRequests.remove(node);
        queue.removeIf(r -> r.node() == node);
        pastImageHolders.remove(Integer.valueOf(node));
        if (node == noticedSupplier || node == noticedNode)
        {
            noticedRequestId = Long.MIN_VALUE;
        }
        final boolean exclusive = held == LockMode.EXCLUSIVE;
        if (exclusive)
        {
            recovering = true;
        }
        grantWaiting(listener);
        return exclusive;
    }

    /**
     * Ends recovery and serves the queue.
     *
     * @param listener told of the grants.
     */
    public void recovered(final GrantListener listener)
    {
        recovering = false;
        grantWaiting(listener);
    }

    /**
     * Restores a hold reported by a surviving holder while the entry is rebuilt after a master died.
     *
     * @param node a surviving holder.
     * @param mode its mode.
     */
    public void restoreHolder(final int node, final LockMode mode)
    {
        restoreHolder(node, mode, GrdMessages.NO_GRANT);
    }

    /**
     * @param node  a surviving holder.
     * @param mode  its mode.
     * @param grant the request it holds the resource under (one whose grant had not reached it yet: the image
     *              carried it), or {@link GrdMessages#NO_GRANT}. Recorded as its grant, so the request sent again
     *              is answered as a retry of that grant instead of dropping the hold as a stale one.
     */
    void restoreHolder(final int node, final LockMode mode, final long grant)
    {
        if (mode == LockMode.NULL)
        {
            return;
        }
        if (grant != GrdMessages.NO_GRANT)
        {
            if (mode == LockMode.EXCLUSIVE)
            {
                // The node uses an image its holder shipped with the grant: another EXCLUSIVE report is that
                // holder's, sent before its release (it has given the block up; its release will find nothing).
                // Kept, it could be named supplier and ship its older past image.
                final Iterator<Map.Entry<Integer, LockMode>> it = holders.entrySet().iterator();
                while (it.hasNext())
                {
                    final Map.Entry<Integer, LockMode> holder = it.next();
                    if (holder.getKey() != node && holder.getValue() == LockMode.EXCLUSIVE)
                    {
                        lastGrants.remove(holder.getKey());
                        it.remove();
                    }
                }
                unconfirmedExclusive = node;
            }
            if (!lastGrants.containsKey(node))
            {
                lastGrants.put(node, new long[]{grant, -1});
            }
            // the request is granted (the resent copy is answered as a retry): it waits no more
            queue.removeIf(r -> r.node() == node && r.requestId() == grant);
            if (noticedNode == node && noticedRequestId == grant)
            {
                noticedRequestId = Long.MIN_VALUE;
            }
        }
        else if (mode == LockMode.EXCLUSIVE && unconfirmedExclusive != -1 && unconfirmedExclusive != node &&
            holders.get(unconfirmedExclusive) == LockMode.EXCLUSIVE)
        {
            return; // a late report of the holder that shipped the block to that node
        }
        holders.merge(node, mode, (a, b) -> a.covers(b) ? a : b);
    }

    /**
     * Restores state handed over by the previous master (remastering) or read back from disk.
     *
     * @param holdersByNode holders.
     * @param waiting       the queue in order.
     * @param pastImages    past image holders.
     * @param version       the SCN.
     * @param writer        the last writer.
     * @param inRecovery    whether recovery is pending.
     */
    void restore(
        final Map<Integer, LockMode> holdersByNode,
        final List<LockRequest> waiting,
        final List<Integer> pastImages,
        final long version,
        final int writer,
        final boolean inRecovery)
    {
        holders.clear();
        holders.putAll(holdersByNode);
        queue.clear();
        queue.addAll(waiting);
        pastImageHolders.clear();
        pastImageHolders.addAll(pastImages);
        scn = version;
        lastWriter = writer;
        recovering = inRecovery;
    }

    private void grantWaiting(final GrantListener listener)
    {
        while (!recovering && !queue.isEmpty())
        {
            final LockRequest next = queue.peekFirst();
            if (!compatibleWithOthers(next.node(), next.mode()))
            {
                noticeHolders(next, listener);
                return;
            }
            queue.pollFirst();
            final int supplier = supplierFor(next, listener);
            holders.put(next.node(), next.mode());
            lastGrants.put(next.node(), new long[]{next.requestId(), supplier});
            listener.onGrant(resource, next.requestId(), next.node(), next.mode(), supplier);
        }
    }

    /**
     * Tells each holder in the way of the queue head to give way, once per head. One of them (the EXCLUSIVE
     * holder, else the first) is named to ship its image, unless the requester already holds a current copy.
     */
    private void noticeHolders(final LockRequest head, final GrantListener listener)
    {
        if (head.requestId() == noticedRequestId && head.node() == noticedNode)
        {
            return;
        }
        noticedRequestId = head.requestId();
        noticedNode = head.node();
        noticedSupplier = -1;
        if (modeOf(head.node()) == LockMode.NULL)
        {
            noticedSupplier = pickSupplier(head.node(), listener.preferredSupplier());
        }
        sendNotices(head, listener);
    }

    private void sendNotices(final LockRequest head, final GrantListener listener)
    {
        int inTheWay = 0;
        for (final Map.Entry<Integer, LockMode> holder : holders.entrySet())
        {
            if (holder.getKey() != head.node() && !head.mode().compatibleWith(holder.getValue()))
            {
                inTheWay++;
            }
        }
        for (final Map.Entry<Integer, LockMode> holder : holders.entrySet())
        {
            final int node = holder.getKey();
            if (node != head.node() && !head.mode().compatibleWith(holder.getValue()))
            {
                final LockMode keep = head.mode() == LockMode.EXCLUSIVE ? LockMode.NULL : LockMode.SHARED;
                final boolean supplier = node == noticedSupplier;
                // The head is granted the moment its only blocker gives way: an EXCLUSIVE holder cannot convert
                // ahead of it, and no other holder can (there is none); so the image may carry the grant.
                final boolean granting = supplier && inTheWay == 1 && holder.getValue() == LockMode.EXCLUSIVE;
                listener.onBlocking(resource, node, keep, head.node(), head.mode(), head.requestId(),
                    supplier, holderGrant(node), granting);
            }
        }
    }

    /**
     * Where a grantee gets the current image: the holder named when the request waited; else, for a grant next
     * to other (SHARED) holders, one of them, told now; none when the grantee converts (it has the image) or no
     * cache holds the resource (the disk copy is current).
     */
    private int supplierFor(final LockRequest granted, final GrantListener listener)
    {
        if (granted.requestId() == noticedRequestId && granted.node() == noticedNode)
        {
            noticedRequestId = Long.MIN_VALUE;
            return noticedSupplier;
        }
        if (modeOf(granted.node()) != LockMode.NULL)
        {
            return -1;
        }
        final int supplier = pickSupplier(granted.node(), listener.preferredSupplier());
        if (supplier != -1)
        {
            listener.onBlocking(resource, supplier, holders.get(supplier), granted.node(), granted.mode(),
                granted.requestId(), true, holderGrant(supplier), true);
        }
        return supplier;
    }

    long noticedRequestId()
    {
        return noticedRequestId;
    }

    int noticedNode()
    {
        return noticedNode;
    }

    int noticedSupplier()
    {
        return noticedSupplier;
    }

    Map<Integer, long[]> lastGrants()
    {
        return lastGrants;
    }

    Map<Integer, long[]> latestRequests()
    {
        return latestRequests;
    }

    /** Restores each node's latest request (id, refused), handed over or stored with the entry. */
    void restoreLatestRequests(final Map<Integer, long[]> latest)
    {
        latestRequests.clear();
        latestRequests.putAll(latest);
    }

    /** Restores the transfer state (who was told to supply whom, each holder's grant) handed over with the entry. */
    void restoreTransfers(final long noticed, final int node, final int supplier, final Map<Integer, long[]> grants)
    {
        noticedRequestId = noticed;
        noticedNode = node;
        noticedSupplier = supplier;
        lastGrants.clear();
        lastGrants.putAll(grants);
    }

    private void forgetUnconfirmed(final int node)
    {
        if (unconfirmedExclusive == node)
        {
            unconfirmedExclusive = -1;
        }
    }

    private boolean isGrant(final int node, final long requestId)
    {
        final long[] last = lastGrants.get(node);
        return null != last && last[0] == requestId;
    }

    private boolean isStale(final int node, final long grant)
    {
        final long[] last = lastGrants.get(node);
        return grant != GrdMessages.NO_GRANT && null != last && last[0] != grant;
    }

    private long holderGrant(final int node)
    {
        final long[] last = lastGrants.get(node);
        return null == last ? Long.MIN_VALUE : last[0];
    }

    /** The EXCLUSIVE holder; else the preferred node when it holds; else the first holder; never the grantee. */
    private int pickSupplier(final int grantee, final int preferred)
    {
        int supplier = -1;
        for (final Map.Entry<Integer, LockMode> holder : holders.entrySet())
        {
            final int node = holder.getKey();
            if (node == grantee)
            {
                continue;
            }
            if (holder.getValue() == LockMode.EXCLUSIVE)
            {
                return node;
            }
            if (supplier == -1 || node == preferred)
            {
                supplier = node;
            }
        }
        return supplier;
    }

    private boolean compatibleWithOthers(final int node, final LockMode mode)
    {
        for (final Map.Entry<Integer, LockMode> holder : holders.entrySet())
        {
            if (holder.getKey() != node && !mode.compatibleWith(holder.getValue()))
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString()
    {
        return "DirectoryEntry{" + ResourceId.toString(resource) + ", holders=" + holders + ", queue=" + queue +
            ", pastImages=" + pastImageHolders + ", scn=" + scn + ", lastWriter=" + lastWriter +
            (recovering ? ", RECOVERING" : "") + '}';
    }
}
