package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Owned by the membership service's thread (the clustered service container): the committed membership of the
 * cluster. It changes only through the events of the Raft log, in log order, and reads time only from those
 * events (the cluster time of the leader that appended them), so every replica computes the same sequence of
 * views.
 * <p>
 * A node joins with a fresh incarnation and stays alive while that incarnation renews its lease. It is declared dead once
 * {@code lease + margin} has passed, in cluster time, since its last committed renewal: the node's own lease,
 * counted from the moment it <em>sent</em> that renewal on its own monotonic clock, ends no later than
 * {@code lease} after the append, so by the time the majority declares it dead it has fenced itself, as long as
 * the clocks' rates differ by less than the margin allows. A new incarnation of a node (a restart, or a fenced
 * node coming back) ends the old one first: two views, one with the node dead and one with it alive again. Only
 * the current incarnation renews: any other is told it is fenced. A configured node that never joined within {@code absent} of the
 * log's first event is dead too (it has nothing to fence; it joins when it appears).
 * <p>
 * Each change of a node's state makes a view with the next epoch; the last {@link #HISTORY} views are kept so that
 * a client that missed some can be sent them in order.
 */
public final class MembershipStateMachine
{
    /** How many views are kept for clients that missed some. */
    public static final int HISTORY = 256;

    /** What a renewal did. */
    public enum Renewal
    {
        /** The lease of a live incarnation was renewed. */
        RENEWED,
        /** A new incarnation joined (views were committed). */
        JOINED,
        /** The incarnation was declared dead: it must come back with a new one. */
        FENCED,
        /** The node is not configured. */
        UNKNOWN_NODE
    }

    private final int[] nodeIds;
    private final MemberState[] states;
    private final int[] incarnations;
    private final int[] fencedIncarnations;
    private final long[] lastRenewMs;
    private final long leaseMs;
    private final long marginMs;
    private final long absentMs;
    private final ArrayDeque<CommittedView> history = new ArrayDeque<>();
    private long epoch;
    private long startMs = Long.MIN_VALUE;

    /**
     * @param settings the configured nodes and the timing rules.
     */
    public MembershipStateMachine(final Settings settings)
    {
        nodeIds = settings.nodeIds.clone();
        Arrays.sort(nodeIds);
        states = new MemberState[nodeIds.length];
        Arrays.fill(states, MemberState.JOINING);
        incarnations = new int[nodeIds.length];
        fencedIncarnations = new int[nodeIds.length];
        lastRenewMs = new long[nodeIds.length];
        leaseMs = settings.leaseMs;
        marginMs = settings.marginMs;
        absentMs = settings.absentMs;
        history.addLast(view());
    }

    /**
     * The configured nodes and the timing rules.
     *
     * @param nodeIds  every configured Fusion node (voters that are witnesses only are not nodes).
     * @param leaseMs  how long a renewal keeps a node's lease, counted by the node from when it sent it.
     * @param marginMs how much longer the majority waits before declaring a silent node dead: covers clock-rate
     *                 drift over the lease and the difference between two leaders' clocks after an election.
     * @param absentMs how long after the log's first event a node that never joined is declared dead.
     */
    public record Settings(int[] nodeIds, long leaseMs, long marginMs, long absentMs)
    {
        /** Checks the values. */
        public Settings
        {
            if (nodeIds.length == 0)
            {
                throw new IllegalArgumentException("no nodes");
            }
            if (leaseMs <= 0 || marginMs < 0 || absentMs <= 0)
            {
                throw new IllegalArgumentException("lease " + leaseMs + " ms, margin " + marginMs + " ms, absent " +
                    absentMs + " ms: the lease and absent times must be positive, the margin not negative");
            }
        }
    }

    /** @return the epoch of the newest view. */
    public long epoch()
    {
        return epoch;
    }

    /** @return the newest view. */
    public CommittedView current()
    {
        return history.peekLast();
    }

    /**
     * @param afterEpoch an epoch a client holds.
     * @return the views after it, oldest first; when some were dropped from the history already, only the ones
     * kept (the first one's epoch then is more than {@code afterEpoch + 1}).
     */
    public CommittedView[] viewsAfter(final long afterEpoch)
    {
        return history.stream().filter(v -> v.epoch() > afterEpoch).toArray(CommittedView[]::new);
    }

    /**
     * A node renews the lease of its incarnation.
     *
     * @param nodeId      the node.
     * @param incarnation the incarnation that renews.
     * @param nowMs       the cluster time of the event.
     * @return {@link Renewal#RENEWED} when that incarnation is alive; {@link Renewal#FENCED} when it is not (it
     * was declared dead, or another one joined since): it must stop and come back through {@link #join}.
     */
    public Renewal renew(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0)
        {
            return Renewal.UNKNOWN_NODE;
        }
        if (states[i] == MemberState.ALIVE && incarnations[i] == incarnation)
        {
            lastRenewMs[i] = Math.max(lastRenewMs[i], nowMs);
            return Renewal.RENEWED;
        }
        return Renewal.FENCED;
    }

    /**
     * A new incarnation of a node joins (a process that started, or one that learned it was fenced and dropped
     * everything it held). A live older incarnation is declared dead first. Asking again for the incarnation that
     * joined renews it.
     *
     * @param nodeId      the node.
     * @param incarnation a fresh incarnation (never 0).
     * @param nowMs       the cluster time of the event.
     * @return {@link Renewal#JOINED}, or {@link Renewal#FENCED} for the incarnation last declared dead.
     */
    public Renewal join(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0 || incarnation == 0)
        {
            return Renewal.UNKNOWN_NODE;
        }
        if (states[i] == MemberState.ALIVE && incarnations[i] == incarnation)
        {
            lastRenewMs[i] = Math.max(lastRenewMs[i], nowMs);
            return Renewal.JOINED;
        }
        if (states[i] != MemberState.JOINING && fencedIncarnations[i] == incarnation)
        {
            return Renewal.FENCED;
        }
        if (states[i] == MemberState.ALIVE)
        {
            declareDead(i);
        }
        states[i] = MemberState.ALIVE;
        incarnations[i] = incarnation;
        lastRenewMs[i] = nowMs;
        commit();
        return Renewal.JOINED;
    }

    /**
     * A node leaves on purpose (its process is closing): it is dead at once, no lease to wait for.
     *
     * @param nodeId      the node.
     * @param incarnation the incarnation that leaves; a stale one changes nothing.
     * @param nowMs       the cluster time of the event.
     * @return whether a view was committed.
     */
    public boolean leave(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0 || states[i] != MemberState.ALIVE || incarnations[i] != incarnation)
        {
            return false;
        }
        declareDead(i);
        return true;
    }

    /**
     * Declares dead the nodes whose leases ran out (plus the margin), and the absent ones.
     *
     * @param nowMs the cluster time of the event (a timer).
     * @return how many nodes were declared dead.
     */
    public int expire(final long nowMs)
    {
        onEvent(nowMs);
        int changes = 0;
        for (int i = 0; i < nodeIds.length; i++)
        {
            if (states[i] == MemberState.ALIVE && nowMs - lastRenewMs[i] >= leaseMs + marginMs)
            {
                declareDead(i);
                changes++;
            }
            else if (states[i] == MemberState.JOINING && nowMs - startMs >= absentMs)
            {
                declareDead(i);
                changes++;
            }
        }
        return changes;
    }

    /**
     * A new leader was elected: no node could renew while there was none, so every live node's renewal counts as
     * made now. This only delays deaths, which is always safe.
     *
     * @param nowMs the cluster time of the event.
     */
    public void onNewLeader(final long nowMs)
    {
        onEvent(nowMs);
        for (int i = 0; i < nodeIds.length; i++)
        {
            if (states[i] == MemberState.ALIVE)
            {
                lastRenewMs[i] = Math.max(lastRenewMs[i], nowMs);
            }
        }
    }

    /**
     * @param nodeId a node.
     * @return when its lease, as the majority counts it, ends and it may be declared dead; Long.MAX_VALUE when it
     * is not alive.
     */
    public long deadlineMs(final int nodeId)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i < 0 || states[i] != MemberState.ALIVE ? Long.MAX_VALUE : lastRenewMs[i] + leaseMs + marginMs;
    }

    private void onEvent(final long nowMs)
    {
        if (startMs == Long.MIN_VALUE)
        {
            startMs = nowMs;
        }
    }

    private void declareDead(final int i)
    {
        states[i] = MemberState.DEAD;
        fencedIncarnations[i] = incarnations[i];
        commit();
    }

    private void commit()
    {
        epoch++;
        history.addLast(view());
        if (history.size() > HISTORY)
        {
            history.removeFirst();
        }
    }

    private CommittedView view()
    {
        return new CommittedView(epoch, nodeIds, states, incarnations);
    }

    /**
     * Writes the whole state (a snapshot).
     *
     * @param out receives it.
     */
    public void writeTo(final java.io.DataOutput out) throws java.io.IOException
    {
        out.writeLong(epoch);
        out.writeLong(startMs);
        out.writeInt(nodeIds.length);
        for (int i = 0; i < nodeIds.length; i++)
        {
            out.writeInt(nodeIds[i]);
            out.writeByte(states[i].ordinal());
            out.writeInt(incarnations[i]);
            out.writeInt(fencedIncarnations[i]);
            out.writeLong(lastRenewMs[i]);
        }
    }

    /**
     * Loads a snapshot written by {@link #writeTo}; nodes it names that are not configured are skipped.
     *
     * @param in the snapshot.
     */
    public void readFrom(final java.io.DataInput in) throws java.io.IOException
    {
        epoch = in.readLong();
        startMs = in.readLong();
        final int n = in.readInt();
        if (n < 0 || n > 65536)
        {
            throw new java.io.IOException("snapshot names " + n + " nodes");
        }
        for (int k = 0; k < n; k++)
        {
            final int id = in.readInt();
            final int ordinal = in.readByte();
            final int incarnation = in.readInt();
            final int fenced = in.readInt();
            final long renewed = in.readLong();
            final int i = Arrays.binarySearch(nodeIds, id);
            if (i >= 0 && ordinal >= 0 && ordinal < MemberState.values().length)
            {
                states[i] = MemberState.values()[ordinal];
                incarnations[i] = incarnation;
                fencedIncarnations[i] = fenced;
                lastRenewMs[i] = renewed;
            }
        }
        history.clear();
        history.addLast(view());
    }
}
