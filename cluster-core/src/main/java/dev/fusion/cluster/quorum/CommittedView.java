package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A view of the cluster that a majority of the voters committed: every node installs the same sequence of them.
 * Immutable.
 */
public final class CommittedView
{
    private final long epoch;
    private final int[] nodeIds;
    private final MemberState[] states;
    private final int[] incarnations;

    /**
     * @param epoch        the view's epoch.
     * @param nodeIds      the configured nodes, ascending.
     * @param states       each node's state: JOINING (never joined), ALIVE or DEAD.
     * @param incarnations each node's incarnation (the dead one's for a DEAD node; 0 for a node that never joined).
     */
    public CommittedView(final long epoch, final int[] nodeIds, final MemberState[] states, final int[] incarnations)
    {
        if (nodeIds.length != states.length || nodeIds.length != incarnations.length)
        {
            throw new IllegalArgumentException("ids, states and incarnations differ in length");
        }
        this.epoch = epoch;
        this.nodeIds = nodeIds.clone();
        this.states = states.clone();
        this.incarnations = incarnations.clone();
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
            Arrays.equals(v.states, states) && Arrays.equals(v.incarnations, incarnations);
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
        for (int i = 0; i < nodeIds.length; i++)
        {
            b.append(", ").append(nodeIds[i]).append('=').append(states[i]).append('/')
                .append(Integer.toHexString(incarnations[i]));
        }
        return b.append('}').toString();
    }
}
