package dev.fusion.cluster.membership;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Tracks when each peer was last heard from and turns silence into suspicion, then death. Every change of the
 * member set makes a new {@link MembershipView} with the next epoch. A node declared dead has its incarnation
 * fenced: frames from it are refused until a new incarnation (a restarted process) is heard, which joins as a
 * new member. Single-threaded: owned by the transport agent.
 */
public final class FailureDetector implements Membership
{

    private final int self;
    private final long suspectTimeoutNs;
    private final long deadTimeoutNs;
    private final long absentTimeoutNs;
    private boolean started;
    private long startNs;
    private final Map<Integer, Peer> peers = new HashMap<>();
    /** The same peers as an array: {@link #poll} runs every duty cycle and must not allocate an iterator. */
    private final Peer[] peerArray;
    private final Consumer<MembershipView> onChange;
    private MembershipView view;

    private static final class Peer
    {
        MemberState state = MemberState.JOINING;
        /** Whether any incarnation was ever heard (a member declared absent has none to fence). */
        boolean heard;
        int incarnation;
        int fencedIncarnation;
        long lastHeardNs;
    }

    /**
     * @param self             this node's id.
     * @param peerIds          the other configured members.
     * @param suspectTimeoutNs silence before suspicion.
     * @param deadTimeoutNs    silence before death.
     * @param absentTimeoutNs  how long after the first poll a member never heard from is declared dead: a node
     *                         started while another is down must not keep it on the ring (it joins when heard).
     * @param onChange         told of each new view, in order; the epoch grows only when the member set changes.
     */
    public FailureDetector(
        final int self,
        final int[] peerIds,
        final long suspectTimeoutNs,
        final long deadTimeoutNs,
        final long absentTimeoutNs,
        final Consumer<MembershipView> onChange)
    {
        this.self = self;
        this.suspectTimeoutNs = suspectTimeoutNs;
        this.deadTimeoutNs = deadTimeoutNs;
        this.absentTimeoutNs = absentTimeoutNs;
        this.onChange = onChange;
        peerArray = new Peer[peerIds.length];
        for (int i = 0; i < peerIds.length; i++)
        {
            peerArray[i] = new Peer();
            peers.put(peerIds[i], peerArray[i]);
        }
        view = buildView(1);
    }

    @Override
    public MembershipView view()
    {
        return view;
    }

    /**
     * Records a frame from a peer.
     *
     * @param peerId      a configured peer.
     * @param incarnation the sender's incarnation from the frame header.
     * @param nowNs       the current time.
     * @return {@link #ADMITTED} or {@link #FENCED}.
     */
    @Override
    public int onFrame(final int peerId, final int incarnation, final int epoch, final long nowNs)
    {
        final Peer peer = peers.get(peerId);
        if (null == peer)
        {
            throw new IllegalArgumentException("unknown peer " + peerId);
        }
        switch (peer.state)
        {
            case JOINING:
                admit(peer, incarnation, nowNs);
                return ADMITTED;

            case ALIVE:
            case SUSPECT:
                if (incarnation == peer.incarnation)
                {
                    peer.lastHeardNs = nowNs;
                    if (peer.state == MemberState.SUSPECT)
                    {
                        peer.state = MemberState.ALIVE;
                        republish();
                    }
                    return ADMITTED;
                }
                if (incarnation == peer.fencedIncarnation)
                {
                    return FENCED;
                }
                // Restarted before its silence was noticed: its old incarnation dies, the new one joins.
                declareDead(peer);
                admit(peer, incarnation, nowNs);
                return ADMITTED;

            case DEAD:
            default:
                if (peer.heard && incarnation == peer.fencedIncarnation)
                {
                    return FENCED;
                }
                admit(peer, incarnation, nowNs);
                return ADMITTED;
        }
    }

    /**
     * Turns silence into suspicion and death.
     *
     * @param nowNs the current time.
     * @return how many peers changed state.
     */
    @Override
    public int poll(final long nowNs)
    {
        int changes = 0;
        if (!started)
        {
            started = true;
            startNs = nowNs;
        }
        for (final Peer peer : peerArray)
        {
            if (peer.state == MemberState.JOINING && nowNs - startNs >= absentTimeoutNs)
            {
                declareDead(peer); // never heard: absent until it appears
                changes++;
            }
            else if (peer.state == MemberState.ALIVE || peer.state == MemberState.SUSPECT)
            {
                final long silence = nowNs - peer.lastHeardNs;
                if (silence >= deadTimeoutNs)
                {
                    declareDead(peer);
                    changes++;
                }
                else if (silence >= suspectTimeoutNs && peer.state == MemberState.ALIVE)
                {
                    peer.state = MemberState.SUSPECT;
                    republish();
                    changes++;
                }
            }
        }
        return changes;
    }

    /** Each node decides alone: it always acts as a member. */
    @Override
    public boolean holdsLease(final long nowNs)
    {
        return true;
    }

    /**
     * @param peerId a configured peer.
     * @return its state, or null when not configured.
     */
    public MemberState state(final int peerId)
    {
        final Peer peer = peers.get(peerId);
        return null == peer ? null : peer.state;
    }

    private void admit(final Peer peer, final int incarnation, final long nowNs)
    {
        peer.incarnation = incarnation;
        peer.heard = true;
        peer.lastHeardNs = nowNs;
        peer.state = MemberState.ALIVE;
        publish();
    }

    private void declareDead(final Peer peer)
    {
        peer.state = MemberState.DEAD;
        peer.fencedIncarnation = peer.incarnation;
        publish();
    }

    private void publish()
    {
        view = buildView(view.epoch() + 1);
        onChange.accept(view);
    }

    /** Suspicion and its clearing change a member's state but not the member set, so not the epoch. */
    private void republish()
    {
        view = buildView(view.epoch());
        onChange.accept(view);
    }

    private MembershipView buildView(final long epoch)
    {
        final Map<Integer, MemberState> states = new HashMap<>();
        states.put(self, MemberState.ALIVE);
        peers.forEach((id, peer) -> states.put(id, peer.state));
        return new MembershipView(epoch, self, states);
    }
}
