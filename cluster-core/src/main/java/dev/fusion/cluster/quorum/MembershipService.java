package dev.fusion.cluster.quorum;

import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Runs on the clustered service container's thread of every voter: applies the Raft log's membership requests
 * and timer events to a {@link MembershipStateMachine} and answers the nodes. Only the leader's egress reaches a
 * node; every replica applies the same events in the same order with the same timestamps, so every replica holds
 * the same views.
 */
final class MembershipService implements ClusteredService
{
    private static final System.Logger LOG = System.getLogger(MembershipService.class.getName());
    private static final long EXPIRY_TIMER_ID = 1;
    private static final int SNAPSHOT_MAGIC = 0x46534D32; // "FSM2"

    private final MembershipStateMachine.Settings settings;
    private final long tickMs;
    private final ExpandableArrayBuffer out = new ExpandableArrayBuffer(256);
    private MembershipStateMachine machine;
    private Cluster cluster;
    private long malformed;
    private boolean timerArmed;

    /**
     * @param settings the configured nodes and the timing rules (the same on every voter).
     * @param tickMs   how often leases are checked, in cluster time.
     */
    MembershipService(final MembershipStateMachine.Settings settings, final long tickMs)
    {
        this.settings = settings;
        this.tickMs = tickMs;
    }

    @Override
    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        machine = new MembershipStateMachine(settings);
        if (null != snapshotImage)
        {
            loadSnapshot(snapshotImage);
        }
    }

    @Override
    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
        armTimer(timestamp);
    }

    /** Timers cannot be scheduled from onStart: the first session arms it, and each expiry re-arms it. */
    private void armTimer(final long timestamp)
    {
        if (!timerArmed)
        {
            timerArmed = cluster.scheduleTimer(EXPIRY_TIMER_ID, timestamp + toClusterTime(tickMs));
        }
    }

    @Override
    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
    }

    @Override
    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (length != QuorumMessages.REQUEST_LENGTH)
        {
            onMalformed("a request of " + length + " bytes");
            return;
        }
        final int type = QuorumMessages.type(buffer, offset);
        final int node = QuorumMessages.node(buffer, offset);
        final int incarnation = QuorumMessages.incarnation(buffer, offset);
        final long requestId = QuorumMessages.requestId(buffer, offset);
        final long knownEpoch = QuorumMessages.epoch(buffer, offset);
        armTimer(timestamp);
        final long nowMs = toMs(timestamp);
        final long epochBefore = machine.epoch();
        final MembershipStateMachine.Outcome result;
        switch (type)
        {
            case QuorumMessages.JOIN:
                result = machine.join(node, incarnation, nowMs);
                break;
            case QuorumMessages.RENEW:
                result = machine.renew(node, incarnation, nowMs);
                break;
            case QuorumMessages.PROMOTE:
                result = machine.claimPrimary(node, incarnation, nowMs);
                if (result == MembershipStateMachine.Outcome.REFUSED && cluster.role() == Cluster.Role.LEADER)
                {
                    LOG.log(System.Logger.Level.WARNING, () -> "node " + node + " asked to be the primary; refused, " +
                        "the primary is alive: " + machine.current());
                }
                break;
            case QuorumMessages.LEAVE:
                if (machine.leave(node, incarnation, nowMs))
                {
                    logChange();
                    broadcast(epochBefore, null);
                }
                return; // the node is closing: nothing to answer
            case QuorumMessages.SUSPECT:
                final int suspect = QuorumMessages.suspect(buffer, offset);
                if (machine.suspect(node, incarnation, suspect, QuorumMessages.suspectIncarnation(buffer, offset),
                    nowMs) && cluster.role() == Cluster.Role.LEADER)
                {
                    LOG.log(System.Logger.Level.DEBUG, () -> "node " + node + " suspects node " + suspect);
                }
                return; // repeated while the silence lasts: nothing to answer
            default:
                onMalformed("a request of type " + type);
                return;
        }
        if (machine.epoch() != epochBefore)
        {
            logChange();
            broadcast(epochBefore, session);
        }
        sendViews(session, Math.min(knownEpoch, machine.epoch()));
        final int replyLength = QuorumMessages.putReply(out, result, node, incarnation, requestId, machine.epoch());
        session.offer(out, 0, replyLength);
    }

    @Override
    public void onTimerEvent(final long correlationId, final long timestamp)
    {
        if (correlationId != EXPIRY_TIMER_ID)
        {
            return;
        }
        timerArmed = false;
        final long epochBefore = machine.epoch();
        final String standing = cluster.role() == Cluster.Role.LEADER ? machine.suspicions(toMs(timestamp)) : "";
        final int[] evicted = machine.resolveSuspicions(toMs(timestamp));
        if (evicted.length > 0 && cluster.role() == Cluster.Role.LEADER)
        {
            LOG.log(System.Logger.Level.WARNING, "evicting node(s) " + Arrays.toString(evicted) + ": cut off from " +
                "peers the quorum holds alive (suspicions: " + standing + "); declared dead once their leases have " +
                "run out");
        }
        if (machine.expire(toMs(timestamp)) > 0)
        {
            logChange();
            broadcast(epochBefore, null);
        }
        timerArmed = cluster.scheduleTimer(EXPIRY_TIMER_ID, timestamp + toClusterTime(tickMs));
    }

    @Override
    public void onNewLeadershipTermEvent(
        final long leadershipTermId,
        final long logPosition,
        final long timestamp,
        final long termBaseLogPosition,
        final int leaderMemberId,
        final int logSessionId,
        final TimeUnit timeUnit,
        final int appVersion)
    {
        machine.onNewLeader(timeUnit.toMillis(timestamp));
    }

    @Override
    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream data = new DataOutputStream(bytes))
        {
            data.writeInt(SNAPSHOT_MAGIC);
            machine.writeTo(data);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes.toByteArray());
        while (snapshotPublication.offer(buffer, 0, buffer.capacity()) < 0)
        {
            cluster.idleStrategy().idle();
        }
    }

    @Override
    public void onRoleChange(final Cluster.Role newRole)
    {
    }

    @Override
    public void onTerminate(final Cluster cluster)
    {
    }

    private void loadSnapshot(final Image image)
    {
        final byte[][] loaded = new byte[1][];
        final FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            loaded[0] = bytes;
        });
        while (null == loaded[0])
        {
            final int fragments = image.poll(assembler, 1);
            if (0 == fragments)
            {
                if (image.isClosed())
                {
                    throw new IllegalStateException("membership snapshot ended before its state was read");
                }
                cluster.idleStrategy().idle();
            }
        }
        try (DataInputStream data = new DataInputStream(new ByteArrayInputStream(loaded[0])))
        {
            if (data.readInt() != SNAPSHOT_MAGIC)
            {
                throw new IllegalStateException("not a membership snapshot");
            }
            machine.readFrom(data);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** The views after {@code epochBefore} go to every session but {@code except} (it gets them with its reply). */
    private void broadcast(final long epochBefore, final ClientSession except)
    {
        for (final ClientSession session : cluster.clientSessions())
        {
            if (session != except)
            {
                sendViews(session, epochBefore);
            }
        }
    }

    /** A view a session misses here (back pressure) reaches it with the reply to its next request. */
    private void sendViews(final ClientSession session, final long afterEpoch)
    {
        for (final CommittedView view : machine.viewsAfter(afterEpoch))
        {
            final int length = QuorumMessages.putView(out, view);
            if (session.offer(out, 0, length) < 0)
            {
                return;
            }
        }
    }

    private void logChange()
    {
        if (cluster.role() == Cluster.Role.LEADER)
        {
            LOG.log(System.Logger.Level.INFO, () -> "membership committed " + machine.current());
        }
    }

    private void onMalformed(final String what)
    {
        malformed++;
        if (Long.bitCount(malformed) == 1) // 1st, 2nd, 4th, 8th...: rate-limited without a clock
        {
            LOG.log(System.Logger.Level.WARNING, "membership service dropped " + what + " (" + malformed +
                " malformed so far)");
        }
    }

    private long toMs(final long clusterTime)
    {
        return cluster.timeUnit().toMillis(clusterTime);
    }

    private long toClusterTime(final long ms)
    {
        return cluster.timeUnit().convert(ms, TimeUnit.MILLISECONDS);
    }
}
