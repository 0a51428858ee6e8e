package dev.fusion.cluster;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An immutable view of the cluster as one node sees it. The epoch grows by one with every change of the
 * member set (a node joins, or is declared dead), and every frame carries the sender's epoch. Reading a view
 * never takes a lock: the node publishes a new instance on each change.
 */
public final class MembershipView
{
    private final long epoch;
    private final int self;
    private final Map<Integer, MemberState> states;
    private final Set<Integer> members;

    /**
     * @param epoch  the view's epoch.
     * @param self   the id of the node holding the view.
     * @param states the state of every configured node, this one included.
     */
    public MembershipView(final long epoch, final int self, final Map<Integer, MemberState> states)
    {
        this.epoch = epoch;
        this.self = self;
        this.states = Collections.unmodifiableMap(new TreeMap<>(states));
        final TreeSet<Integer> live = new TreeSet<>();
        states.forEach((id, state) ->
        {
            if (state == MemberState.ALIVE || state == MemberState.SUSPECT)
            {
                live.add(id);
            }
        });
        this.members = Collections.unmodifiableSet(live);
    }

    /** @return the epoch of this view. */
    public long epoch()
    {
        return epoch;
    }

    /** @return the id of the node that holds this view. */
    public int self()
    {
        return self;
    }

    /** @return the ids of the members in the view (alive or suspect), in ascending order. */
    public Set<Integer> members()
    {
        return members;
    }

    /**
     * @param nodeId a node id.
     * @return true when the node is a member of this view.
     */
    public boolean contains(final int nodeId)
    {
        return members.contains(nodeId);
    }

    /**
     * @param nodeId a configured node id.
     * @return its state, or null when the id is not configured.
     */
    public MemberState state(final int nodeId)
    {
        return states.get(nodeId);
    }

    /** @return the state of every configured node. */
    public Map<Integer, MemberState> states()
    {
        return states;
    }

    @Override
    public String toString()
    {
        return "MembershipView{epoch=" + epoch + ", self=" + self + ", members=" + members + ", states=" + states + '}';
    }
}
