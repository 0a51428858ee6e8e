package dev.fusion.cluster.membership;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.quorum.CommittedView;
import dev.fusion.cluster.quorum.PeerSilence;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Owned by the transport agent: membership as the quorum committed it. The lease agent hands over each committed
 * view, in epoch order; this node installs them in that order from the first that has its own incarnation alive
 * (its join), and admits frames only from the incarnations alive in the view it installed last, stamped with an
 * epoch no older than the view in which that incarnation joined, nor than the view in which this node's own
 * incarnation joined: a frame stamped before that was sent to this node's previous incarnation (Aeron delivers
 * what a peer sent before a partition once it heals, and a node that rejoins in-process keeps its subscriptions). Once the quorum has declared this node's own
 * incarnation dead it installs nothing more: everything it held is stale, and it waits to be closed (or to rejoin
 * as a new incarnation).
 * <p>
 * It also notes when each live peer was last heard, so the lease agent can report to the quorum the peers this
 * node cannot hear ({@link #silentPeers}): the quorum, not this node, decides what such a silence means.
 */
public final class QuorumMembership implements Membership, PeerSilence
{
    private static final int QUEUE_CAPACITY = 1024;

    private final int self;
    private volatile int incarnation;
    private final Consumer<MembershipView> onChange;
    private final LongSupplier leaseExpiryNs;
    private final OneToOneConcurrentArrayQueue<CommittedView> committed =
        new OneToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final int[] nodeIds;
    /** By node id: the incarnation alive in the installed view (0 when none), and when it was last heard. */
    private final AtomicIntegerArray liveIncarnations;
    private final AtomicLongArray heardNs;
    private CommittedView current;
    /** The epoch of the view in which this incarnation joined (transport agent only). */
    private long ownJoinEpoch;
    private MembershipView view;
    private volatile boolean installed;
    /** The incarnation the quorum declared dead (0: none): this node is evicted while it is the current one. */
    private volatile int evictedIncarnation;

    /**
     * @param self          this node.
     * @param incarnation   this process's incarnation.
     * @param nodeIds       every configured node.
     * @param leaseExpiryNs until when this node holds its lease (read lock-free).
     * @param onChange      told of each view installed, in epoch order.
     */
    public QuorumMembership(
        final int self,
        final int incarnation,
        final int[] nodeIds,
        final LongSupplier leaseExpiryNs,
        final Consumer<MembershipView> onChange)
    {
        this.self = self;
        this.incarnation = incarnation;
        this.onChange = onChange;
        this.leaseExpiryNs = leaseExpiryNs;
        this.nodeIds = nodeIds.clone();
        final int maxId = Arrays.stream(nodeIds).max().orElse(0);
        this.liveIncarnations = new AtomicIntegerArray(maxId + 1);
        this.heardNs = new AtomicLongArray(maxId + 1);
        final Map<Integer, MemberState> states = new HashMap<>();
        for (final int id : nodeIds)
        {
            states.put(id, MemberState.JOINING);
        }
        this.view = new MembershipView(0, self, states);
    }

    /**
     * Called by the lease agent's thread with each committed view, in epoch order.
     *
     * @param view the view.
     * @return false when this node is so far behind that the queue is full (it then holds no valid view: it
     * fences itself like an evicted node).
     */
    public boolean offer(final CommittedView view)
    {
        if (!committed.offer(view))
        {
            evictedIncarnation = incarnation;
            return false;
        }
        return true;
    }

    /**
     * Called by the lease agent's thread when the quorum declared an incarnation of this node dead; a word about
     * an incarnation the node has left behind (it rejoined meanwhile) changes nothing.
     *
     * @param deadIncarnation the incarnation declared dead.
     */
    public void onEvicted(final int deadIncarnation)
    {
        evictedIncarnation = deadIncarnation;
    }

    /**
     * On the transport agent: the node starts over as a new incarnation. It installs views again from that
     * incarnation's join; views still queued from before it are skipped as history it did not live through.
     *
     * @param newIncarnation the new incarnation.
     */
    public void rejoin(final int newIncarnation)
    {
        incarnation = newIncarnation;
        current = null;
        installed = false;
        for (final int id : nodeIds)
        {
            liveIncarnations.set(id, 0);
        }
    }

    /** @return whether this node has installed the view of its own join (it may send heartbeats from then on). */
    public boolean installed()
    {
        return installed;
    }

    /** @return whether this incarnation was declared dead (or fell too far behind): it is fenced for good. */
    public boolean evicted()
    {
        return evictedIncarnation == incarnation;
    }

    @Override
    public MembershipView view()
    {
        return view;
    }

    @Override
    public int onFrame(final int peerId, final int incarnation, final int epoch, final long nowNs)
    {
        final long sentAt = Integer.toUnsignedLong(epoch);
        if (null == current || sentAt < ownJoinEpoch || !current.isAlive(peerId, incarnation) ||
            sentAt < current.sinceEpoch(peerId))
        {
            return FENCED;
        }
        heardNs.lazySet(peerId, nowNs);
        return ADMITTED;
    }

    /**
     * Called by the lease agent's thread: the peers alive in the installed view that this node has not heard for
     * longer than {@code timeoutNs} (counted from when they joined, at the earliest).
     *
     * @param nowNs        the current time.
     * @param timeoutNs    the silence that counts.
     * @param ids          receives their ids (sized for every node).
     * @param incarnations receives their incarnations, index by index.
     * @return how many there are.
     */
    @Override
    public int silentPeers(final long nowNs, final long timeoutNs, final int[] ids, final int[] incarnations)
    {
        int count = 0;
        if (!holdsLease(nowNs))
        {
            return 0; // a node without a lease is heard by no one either: its view of who is silent proves nothing
        }
        for (final int id : nodeIds)
        {
            final int live = liveIncarnations.get(id);
            if (id != self && 0 != live && nowNs - heardNs.get(id) > timeoutNs)
            {
                ids[count] = id;
                incarnations[count] = live;
                count++;
            }
        }
        return count;
    }

    @Override
    public int poll(final long nowNs)
    {
        int work = 0;
        CommittedView next;
        while (!evicted() && null != (next = committed.poll()))
        {
            if (!next.isAlive(self, incarnation))
            {
                // before this incarnation joined: history it did not live through; after: it died, or another
                // took its place, and nothing it holds is valid any more
                if (null != current)
                {
                    evictedIncarnation = incarnation;
                }
            }
            else if (null == current || next.epoch() > current.epoch())
            {
                for (final int id : nodeIds)
                {
                    final int live = MemberState.ALIVE == next.state(id) ? next.incarnation(id) : 0;
                    if (liveIncarnations.get(id) != live)
                    {
                        heardNs.set(id, nowNs);
                        liveIncarnations.set(id, live);
                    }
                }
                current = next;
                ownJoinEpoch = next.sinceEpoch(self);
                installed = true;
                view = next.toMembershipView(self);
                onChange.accept(view);
                work++;
            }
        }
        return work;
    }

    @Override
    public boolean holdsLease(final long nowNs)
    {
        final long expiry = leaseExpiryNs.getAsLong();
        return installed && !evicted() && expiry != 0 && nowNs - expiry < 0;
    }
}
