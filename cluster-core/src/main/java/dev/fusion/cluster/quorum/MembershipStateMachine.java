package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

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
 * <p>
 * <b>Suspicions.</b> A node that cannot hear a peer which the quorum still holds alive (a cut between two data
 * nodes that both reach the voters) reports it, again every renewal while the silence lasts. A suspicion that has
 * stood for {@code suspicion} is a broken link. While broken links join live nodes, the node with the most standing
 * suspicions (against it or from it) is evicted, the higher node id on a tie, so one side of every broken link goes:
 * a node cut off from all its peers is the one evicted, and of two nodes that only lost each other the higher id
 * goes. Eviction refuses the node's
 * renewals from then on; it is declared dead like a silent node, {@code lease + margin} after its last committed
 * renewal, so it has fenced itself first.
 * <p>
 * <b>The primary.</b> Replication has one primary at a time. A node becomes it only through {@link #claimPrimary}:
 * granted when no primary was named yet, or the named one is not alive; each change of primary takes the next
 * primary epoch and commits a view. The primary's own node claiming again (a restart) keeps its epoch.
 */
public final class MembershipStateMachine
{
    /** How many views are kept for clients that missed some. */
    public static final int HISTORY = 256;
    private static final int[] NONE = new int[0];

    /** What a request did. */
    public enum Outcome
    {
        /** The lease of a live incarnation was renewed. */
        RENEWED,
        /** A new incarnation joined (views were committed). */
        JOINED,
        /** The incarnation was declared dead, or is being evicted: it must come back with a new one. */
        FENCED,
        /** The node is not configured. */
        UNKNOWN_NODE,
        /** The node is the primary: the newest view names it, with the primary epoch it publishes under. */
        PROMOTED,
        /** Another node is the primary and alive: no promotion. */
        REFUSED
    }

    private final int[] nodeIds;
    private final MemberState[] states;
    private final int[] incarnations;
    private final int[] fencedIncarnations;
    private final long[] lastRenewMs;
    private final long[] sinceEpochs;
    private final boolean[] evicting;
    private final long leaseMs;
    private final long marginMs;
    private final long absentMs;
    private final long suspicionMs;
    private final long reportGapMs;
    /** Standing suspicions: key {@code suspecter index << 32 | suspect index}, value {first, last} report ms. */
    private final Map<Long, long[]> suspicions = new HashMap<>();
    private int primary;
    private long primaryEpoch;
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
        sinceEpochs = new long[nodeIds.length];
        evicting = new boolean[nodeIds.length];
        leaseMs = settings.leaseMs;
        marginMs = settings.marginMs;
        absentMs = settings.absentMs;
        suspicionMs = settings.suspicionMs;
        reportGapMs = 3 * settings.reportIntervalMs;
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
     * @param suspicionMs how long a suspicion must have been reported without a break before it counts as a
     *                 broken link.
     * @param reportIntervalMs how often nodes repeat a suspicion (their renew interval): a suspicion not repeated
     *                 within three of them is broken off, and starts over when reported again.
     */
    public record Settings(
        int[] nodeIds,
        long leaseMs,
        long marginMs,
        long absentMs,
        long suspicionMs,
        long reportIntervalMs)
    {
        /** Checks the values. */
        public Settings
        {
            if (nodeIds.length == 0)
            {
                throw new IllegalArgumentException("no nodes");
            }
            if (leaseMs <= 0 || marginMs < 0 || absentMs <= 0 || suspicionMs <= 0 || reportIntervalMs <= 0)
            {
                throw new IllegalArgumentException("lease " + leaseMs + " ms, margin " + marginMs + " ms, absent " +
                    absentMs + " ms, suspicion " + suspicionMs + " ms, report interval " + reportIntervalMs +
                    " ms: all must be positive but the margin, which must not be negative");
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
     * @return {@link Outcome#RENEWED} when that incarnation is alive; {@link Outcome#FENCED} when it is not (it
     * was declared dead, or another one joined since): it must stop and come back through {@link #join}.
     */
    public Outcome renew(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0)
        {
            return Outcome.UNKNOWN_NODE;
        }
        if (holds(i, incarnation))
        {
            lastRenewMs[i] = Math.max(lastRenewMs[i], nowMs);
            return Outcome.RENEWED;
        }
        return Outcome.FENCED;
    }

    /**
     * A new incarnation of a node joins (a process that started, or one that learned it was fenced and dropped
     * everything it held). A live older incarnation is declared dead first. Asking again for the incarnation that
     * joined renews it.
     *
     * @param nodeId      the node.
     * @param incarnation a fresh incarnation (never 0).
     * @param nowMs       the cluster time of the event.
     * @return {@link Outcome#JOINED}, or {@link Outcome#FENCED} for the incarnation last declared dead.
     */
    public Outcome join(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0 || incarnation == 0)
        {
            return Outcome.UNKNOWN_NODE;
        }
        if (states[i] == MemberState.ALIVE && incarnations[i] == incarnation)
        {
            if (evicting[i])
            {
                return Outcome.FENCED;
            }
            lastRenewMs[i] = Math.max(lastRenewMs[i], nowMs);
            return Outcome.JOINED;
        }
        if (states[i] != MemberState.JOINING && fencedIncarnations[i] == incarnation)
        {
            return Outcome.FENCED;
        }
        if (states[i] == MemberState.ALIVE)
        {
            declareDead(i);
        }
        states[i] = MemberState.ALIVE;
        incarnations[i] = incarnation;
        lastRenewMs[i] = nowMs;
        evicting[i] = false;
        sinceEpochs[i] = epoch + 1;
        commit();
        return Outcome.JOINED;
    }

    /**
     * A node asks to be the replication primary.
     *
     * @param nodeId      the node.
     * @param incarnation the incarnation that asks; it must be alive and not being evicted.
     * @param nowMs       the cluster time of the event.
     * @return {@link Outcome#PROMOTED} when the node is the primary now (a view names it when it changed);
     * {@link Outcome#REFUSED} when another primary is alive; {@link Outcome#FENCED} when the incarnation holds no
     * lease.
     */
    public Outcome claimPrimary(final int nodeId, final int incarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        if (i < 0)
        {
            return Outcome.UNKNOWN_NODE;
        }
        if (!holds(i, incarnation))
        {
            return Outcome.FENCED;
        }
        if (primary == nodeId)
        {
            return Outcome.PROMOTED;
        }
        final int current = 0 == primary ? -1 : Arrays.binarySearch(nodeIds, primary);
        if (current >= 0 && states[current] == MemberState.ALIVE)
        {
            return Outcome.REFUSED;
        }
        primary = nodeId;
        primaryEpoch++;
        commit();
        return Outcome.PROMOTED;
    }

    /**
     * A node reports it has not heard a peer for longer than its suspect timeout.
     *
     * @param nodeId             the node that reports.
     * @param incarnation        its incarnation; a node without a lease is not heard.
     * @param suspect            the silent peer.
     * @param suspectIncarnation the peer's incarnation the reporter last knew alive; a report about an older one
     *                           is ignored.
     * @param nowMs              the cluster time of the event.
     * @return whether the suspicion was recorded.
     */
    public boolean suspect(
        final int nodeId, final int incarnation, final int suspect, final int suspectIncarnation, final long nowMs)
    {
        onEvent(nowMs);
        final int a = Arrays.binarySearch(nodeIds, nodeId);
        final int b = Arrays.binarySearch(nodeIds, suspect);
        if (a < 0 || b < 0 || a == b || !holds(a, incarnation) || !holds(b, suspectIncarnation))
        {
            return false;
        }
        final long[] times = suspicions.computeIfAbsent(((long)a << 32) | b, k -> new long[] {nowMs, nowMs});
        if (nowMs - times[1] > reportGapMs)
        {
            times[0] = nowMs;
        }
        times[1] = Math.max(times[1], nowMs);
        return true;
    }

    /**
     * Evicts, while a broken link joins live nodes, the node with the most suspicions standing against or from it,
     * matured or not (the higher id on a tie): of a node cut off from several peers and one of those peers, the cut
     * off node goes, even when the peers' reports matured one at a time. A suspicion is a broken link once it has
     * been reported for {@code suspicion} without a break longer than three report intervals; one not reported for
     * that long lapses.
     *
     * @param nowMs the cluster time of the event (a timer).
     * @return the nodes evicted now, ascending (an empty array when none).
     */
    public int[] resolveSuspicions(final long nowMs)
    {
        onEvent(nowMs);
        if (suspicions.isEmpty())
        {
            return NONE;
        }
        final Iterator<Map.Entry<Long, long[]>> lapsed = suspicions.entrySet().iterator();
        while (lapsed.hasNext())
        {
            final Map.Entry<Long, long[]> e = lapsed.next();
            final int a = (int)(e.getKey() >>> 32);
            final int b = (int)(long)e.getKey();
            if (nowMs - e.getValue()[1] > reportGapMs || !live(a) || !live(b))
            {
                lapsed.remove();
            }
        }
        int[] evicted = NONE;
        final int[] broken = new int[nodeIds.length];
        final Set<Long> links = new HashSet<>();
        while (true)
        {
            Arrays.fill(broken, 0);
            links.clear();
            boolean matured = false;
            for (final Map.Entry<Long, long[]> e : suspicions.entrySet())
            {
                final int a = (int)(e.getKey() >>> 32);
                final int b = (int)(long)e.getKey();
                if (live(a) && live(b))
                {
                    matured |= nowMs - e.getValue()[0] >= suspicionMs;
                    if (links.add(((long)Math.min(a, b) << 32) | Math.max(a, b)))
                    {
                        broken[a]++;
                        broken[b]++;
                    }
                }
            }
            if (!matured)
            {
                return evicted;
            }
            int worst = 0;
            for (int i = 1; i < nodeIds.length; i++)
            {
                if (broken[i] >= broken[worst])
                {
                    worst = i;
                }
            }
            evicting[worst] = true;
            evicted = Arrays.copyOf(evicted, evicted.length + 1);
            evicted[evicted.length - 1] = nodeIds[worst];
        }
    }

    /**
     * @return the standing suspicions, as {@code suspecter>suspect(reported for ms)}, for logs.
     */
    public String suspicions(final long nowMs)
    {
        final StringBuilder b = new StringBuilder();
        suspicions.forEach((key, times) -> b.append(b.length() == 0 ? "" : ", ")
            .append(nodeIds[(int)(key >>> 32)]).append('>').append(nodeIds[(int)(long)key])
            .append('(').append(nowMs - times[0]).append(" ms)"));
        return b.toString();
    }

    /**
     * @param nodeId a node.
     * @return whether it is alive but being evicted (its renewals are refused until it is declared dead).
     */
    public boolean evicting(final int nodeId)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i >= 0 && states[i] == MemberState.ALIVE && evicting[i];
    }

    private boolean holds(final int i, final int incarnation)
    {
        return states[i] == MemberState.ALIVE && incarnations[i] == incarnation && !evicting[i];
    }

    private boolean live(final int i)
    {
        return states[i] == MemberState.ALIVE && !evicting[i];
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
        evicting[i] = false;
        sinceEpochs[i] = epoch + 1;
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
        return new CommittedView(epoch, new CommittedView.Members(nodeIds, states, incarnations, sinceEpochs),
            primary, primaryEpoch);
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
        out.writeInt(primary);
        out.writeLong(primaryEpoch);
        out.writeInt(nodeIds.length);
        for (int i = 0; i < nodeIds.length; i++)
        {
            out.writeInt(nodeIds[i]);
            out.writeByte(states[i].ordinal());
            out.writeInt(incarnations[i]);
            out.writeInt(fencedIncarnations[i]);
            out.writeLong(lastRenewMs[i]);
            out.writeLong(sinceEpochs[i]);
            out.writeBoolean(evicting[i]);
        }
    }

    /**
     * Loads a snapshot written by {@link #writeTo}; nodes it names that are not configured are skipped. Suspicions
     * are not in it: the nodes repeat them while the silence lasts.
     *
     * @param in the snapshot.
     */
    public void readFrom(final java.io.DataInput in) throws java.io.IOException
    {
        epoch = in.readLong();
        startMs = in.readLong();
        primary = in.readInt();
        primaryEpoch = in.readLong();
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
            final long since = in.readLong();
            final boolean evicted = in.readBoolean();
            final int i = Arrays.binarySearch(nodeIds, id);
            if (i >= 0 && ordinal >= 0 && ordinal < MemberState.values().length)
            {
                states[i] = MemberState.values()[ordinal];
                incarnations[i] = incarnation;
                fencedIncarnations[i] = fenced;
                lastRenewMs[i] = renewed;
                sinceEpochs[i] = since;
                evicting[i] = evicted;
            }
        }
        history.clear();
        history.addLast(view());
    }
}
