package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A view of the cluster that a majority of the voters committed: every node installs the same sequence of them.
 * Besides the members it names the replication primary and its primary epoch. Immutable.
 */
public final class CommittedView
{
    private final long epoch;
    private final int[] nodeIds;
    private final MemberState[] states;
    private final int[] incarnations;
    private final long[] sinceEpochs;
    private final int primary;
    private final long primaryEpoch;

    /**
     * Each configured node's entry in a view, by index.
     *
     * @param nodeIds      the configured nodes, ascending.
     * @param states       each node's state: JOINING (never joined), ALIVE or DEAD.
     * @param incarnations each node's incarnation (the dead one's for a DEAD node; 0 for a node that never joined).
     * @param sinceEpochs  the epoch of the view in which each node's state or incarnation last changed.
     */
    public record Members(int[] nodeIds, MemberState[] states, int[] incarnations, long[] sinceEpochs)
    {
        /** Checks the lengths. */
        public Members
        {
            if (nodeIds.length != states.length || nodeIds.length != incarnations.length ||
                nodeIds.length != sinceEpochs.length)
            {
                throw new IllegalArgumentException("ids, states, incarnations and epochs differ in length");
            }
        }
    }

    /**
     * @param epoch        the view's epoch.
     * @param members      the configured nodes.
     * @param primary      the replication primary's node id, 0 when none was named yet.
     * @param primaryEpoch the epoch the primary publishes under, 0 when none was named yet.
     */
    public CommittedView(final long epoch, final Members members, final int primary, final long primaryEpoch)
    {
        this.epoch = epoch;
        this.nodeIds = members.nodeIds.clone();
        this.states = members.states.clone();
        this.incarnations = members.incarnations.clone();
        this.sinceEpochs = members.sinceEpochs.clone();
        this.primary = primary;
        this.primaryEpoch = primaryEpoch;
    }

    /** @return the replication primary's node id, 0 when none was named yet. */
    public int primary()
    {
        return primary;
    }

    /** @return the epoch the primary publishes under; each change of primary takes the next. */
    public long primaryEpoch()
    {
        return primaryEpoch;
    }

    /**
     * @param index 0..size-1.
     * @return the epoch of the view in which the node at that index last changed state or incarnation.
     */
    public long sinceEpochAt(final int index)
    {
        return sinceEpochs[index];
    }

    /**
     * @param nodeId a node id.
     * @return the epoch of the view in which it last changed state or incarnation; -1 when not configured.
     */
    public long sinceEpoch(final int nodeId)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i < 0 ? -1 : sinceEpochs[i];
    }

    /** @return the epoch. */
    public long epoch()
    {
        return epoch;
    }

    /** @return how many nodes are configured. */
    public int size()
    {
        return nodeIds.length;
    }

    /**
     * @param index 0..size-1.
     * @return the node id at that index.
     */
    public int nodeId(final int index)
    {
        return nodeIds[index];
    }

    /**
     * @param index 0..size-1.
     * @return the state of the node at that index.
     */
    public MemberState stateAt(final int index)
    {
        return states[index];
    }

    /**
     * @param index 0..size-1.
     * @return the incarnation of the node at that index.
     */
    public int incarnationAt(final int index)
    {
        return incarnations[index];
    }

    /**
     * @param nodeId a node id.
     * @return its state, or null when not configured.
     */
    public MemberState state(final int nodeId)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i < 0 ? null : states[i];
    }

    /**
     * @param nodeId a node id.
     * @return its incarnation, 0 when not configured or never joined.
     */
    public int incarnation(final int nodeId)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i < 0 ? 0 : incarnations[i];
    }

    /**
     * @param nodeId      a node id.
     * @param incarnation an incarnation.
     * @return whether that incarnation of the node is alive in this view.
     */
    public boolean isAlive(final int nodeId, final int incarnation)
    {
        final int i = Arrays.binarySearch(nodeIds, nodeId);
        return i >= 0 && states[i] == MemberState.ALIVE && incarnations[i] == incarnation;
    }

    /**
     * @param self the node that holds the view.
     * @return the view as the node's listeners see it.
     */
    public MembershipView toMembershipView(final int self)
    {
        final Map<Integer, MemberState> map = new HashMap<>();
        for (int i = 0; i < nodeIds.length; i++)
        {
            map.put(nodeIds[i], states[i]);
        }
        return new MembershipView(epoch, self, map);
    }

    @Override
    public boolean equals(final Object o)
    {
        return o instanceof CommittedView v && v.epoch == epoch && Arrays.equals(v.nodeIds, nodeIds) &&
            Arrays.equals(v.states, states) && Arrays.equals(v.incarnations, incarnations) &&
            Arrays.equals(v.sinceEpochs, sinceEpochs) && v.primary == primary && v.primaryEpoch == primaryEpoch;
    }

    @Override
    public int hashCode()
    {
        return Long.hashCode(epoch) * 31 + Arrays.hashCode(states);
    }

    @Override
    public String toString()
    {
        final StringBuilder b = new StringBuilder("CommittedView{epoch=").append(epoch);
        if (0 != primary)
        {
            b.append(", primary=").append(primary).append('@').append(primaryEpoch);
        }
        for (int i = 0; i < nodeIds.length; i++)
        {
            b.append(", ").append(nodeIds[i]).append('=').append(states[i]).append('/')
                .append(Integer.toHexString(incarnations[i]));
        }
        return b.append('}').toString();
    }
}
