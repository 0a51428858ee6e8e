package dev.fusion.cluster.membership;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.quorum.CommittedView;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Owned by the transport agent: membership as the quorum committed it. The lease agent hands over each committed
 * view, in epoch order; this node installs them in that order from the first that has its own incarnation alive
 * (its join), and admits frames only from the incarnations alive in the view it installed last. Once the quorum has declared this node's own incarnation dead it installs
 * nothing more: everything it held is stale, and it waits to be closed (or to rejoin as a new incarnation).
 */
public final class QuorumMembership implements Membership
{
    private static final int QUEUE_CAPACITY = 1024;

    private final int self;
    private int incarnation;
    private final Consumer<MembershipView> onChange;
    private final LongSupplier leaseExpiryNs;
    private final OneToOneConcurrentArrayQueue<CommittedView> committed =
        new OneToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private CommittedView current;
    private MembershipView view;
    private volatile boolean evicted;

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
            evicted = true;
            return false;
        }
        return true;
    }

    /** Called by the lease agent's thread when the quorum declared this incarnation dead. */
    public void onEvicted()
    {
        evicted = true;
    }

    /**
     * On the transport agent: the node starts over as a new incarnation. It installs views again from that
     * incarnation's join; what the old one had queued is dropped.
     *
     * @param newIncarnation the new incarnation.
     */
    public void rejoin(final int newIncarnation)
    {
        incarnation = newIncarnation;
        committed.clear();
        current = null;
        evicted = false;
    }

    /** @return whether this incarnation was declared dead (or fell too far behind): it is fenced for good. */
    public boolean evicted()
    {
        return evicted;
    }

    @Override
    public MembershipView view()
    {
        return view;
    }

    @Override
    public int onFrame(final int peerId, final int incarnation, final long nowNs)
    {
        return null != current && current.isAlive(peerId, incarnation) ? ADMITTED : FENCED;
    }

    @Override
    public int poll(final long nowNs)
    {
        int work = 0;
        CommittedView next;
        while (!evicted && null != (next = committed.poll()))
        {
            if (!next.isAlive(self, incarnation))
            {
                // before this incarnation joined: history it did not live through; after: it died, or another
                // took its place, and nothing it holds is valid any more
                evicted = null != current;
            }
            else if (null == current || next.epoch() > current.epoch())
            {
                current = next;
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
        return !evicted && expiry != 0 && nowNs - expiry < 0;
    }
}
