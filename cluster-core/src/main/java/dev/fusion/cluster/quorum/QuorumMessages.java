package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * The messages between a Fusion node and the membership service, carried in Aeron Cluster's ingress (node to
 * service, appended to the Raft log) and egress (service to node). Little-endian.
 * <pre>
 * REQUEST (32 B): JOIN (1), RENEW (2), LEAVE (3), PROMOTE (4), SUSPECT (5); node to service
 *   0 u8 type   1 u8 0   2 u16 node   4 i32 incarnation   8 i64 request id   16 i64 epoch the node holds
 *  24 u16 suspect (the silent peer a SUSPECT names; 0 in the others)   26 u16 0
 *  28 i32 suspect's incarnation (0 when no suspect)
 * REPLY (24 B): type 11; service to the node that asked (LEAVE and SUSPECT get none)
 *   0 u8 type   1 u8 result (Outcome ordinal)   2 u16 node   4 i32 incarnation   8 i64 request id
 *  16 i64 epoch of the service's newest view
 * VIEW (24 B + 16 B per node): type 12; service to every node
 *   0 u8 type   1 u8 0   2 u16 node count   4 u16 primary node (0 when none)   6 u16 0   8 i64 epoch
 *  16 i64 primary epoch
 *  24 count x (u16 node, u8 state (MemberState ordinal), u8 0, i32 incarnation, i64 epoch of its last change)
 * </pre>
 * The views a node missed are sent to it, in order, before the reply to its request.
 */
final class QuorumMessages
{
    static final int JOIN = 1;
    static final int RENEW = 2;
    static final int LEAVE = 3;
    static final int PROMOTE = 4;
    static final int SUSPECT = 5;
    static final int REPLY = 11;
    static final int VIEW = 12;

    static final int REQUEST_LENGTH = 32;
    static final int REPLY_LENGTH = 24;
    static final int VIEW_HEADER_LENGTH = 24;
    static final int VIEW_ENTRY_LENGTH = 16;
    /** More nodes than any Fusion cluster has: bounds what a VIEW may declare. */
    static final int MAX_NODES = 1024;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final MemberState[] STATES = MemberState.values();

    private QuorumMessages()
    {
    }

    static int type(final DirectBuffer buffer, final int offset)
    {
        return buffer.getByte(offset) & 0xFF;
    }

    static int putRequest(
        final MutableDirectBuffer buffer, final int type, final int node, final int incarnation, final long requestId,
        final long epoch)
    {
        return putSuspect(buffer, type, node, incarnation, requestId, epoch, 0, 0);
    }

    static int putSuspect(
        final MutableDirectBuffer buffer, final int type, final int node, final int incarnation, final long requestId,
        final long epoch, final int suspect, final int suspectIncarnation)
    {
        buffer.putByte(0, (byte)type);
        buffer.putByte(1, (byte)0);
        buffer.putShort(2, (short)node, LE);
        buffer.putInt(4, incarnation, LE);
        buffer.putLong(8, requestId, LE);
        buffer.putLong(16, epoch, LE);
        buffer.putShort(24, (short)suspect, LE);
        buffer.putShort(26, (short)0, LE);
        buffer.putInt(28, suspectIncarnation, LE);
        return REQUEST_LENGTH;
    }

    static int suspect(final DirectBuffer buffer, final int offset)
    {
        return buffer.getShort(offset + 24, LE) & 0xFFFF;
    }

    static int suspectIncarnation(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + 28, LE);
    }

    static int putReply(
        final MutableDirectBuffer buffer, final MembershipStateMachine.Outcome result, final int node,
        final int incarnation, final long requestId, final long epoch)
    {
        buffer.putByte(0, (byte)REPLY);
        buffer.putByte(1, (byte)result.ordinal());
        buffer.putShort(2, (short)node, LE);
        buffer.putInt(4, incarnation, LE);
        buffer.putLong(8, requestId, LE);
        buffer.putLong(16, epoch, LE);
        return REPLY_LENGTH;
    }

    static int node(final DirectBuffer buffer, final int offset)
    {
        return buffer.getShort(offset + 2, LE) & 0xFFFF;
    }

    static int incarnation(final DirectBuffer buffer, final int offset)
    {
        return buffer.getInt(offset + 4, LE);
    }

    static long requestId(final DirectBuffer buffer, final int offset)
    {
        return buffer.getLong(offset + 8, LE);
    }

    static long epoch(final DirectBuffer buffer, final int offset)
    {
        return buffer.getLong(offset + 16, LE);
    }

    /** @return the reply's result, or null when the byte names none. */
    static MembershipStateMachine.Outcome result(final DirectBuffer buffer, final int offset)
    {
        final int ordinal = buffer.getByte(offset + 1) & 0xFF;
        final MembershipStateMachine.Outcome[] values = MembershipStateMachine.Outcome.values();
        return ordinal < values.length ? values[ordinal] : null;
    }

    static int putView(final MutableDirectBuffer buffer, final CommittedView view)
    {
        buffer.putByte(0, (byte)VIEW);
        buffer.putByte(1, (byte)0);
        buffer.putShort(2, (short)view.size(), LE);
        buffer.putShort(4, (short)view.primary(), LE);
        buffer.putShort(6, (short)0, LE);
        buffer.putLong(8, view.epoch(), LE);
        buffer.putLong(16, view.primaryEpoch(), LE);
        int at = VIEW_HEADER_LENGTH;
        for (int i = 0; i < view.size(); i++)
        {
            buffer.putShort(at, (short)view.nodeId(i), LE);
            buffer.putByte(at + 2, (byte)view.stateAt(i).ordinal());
            buffer.putByte(at + 3, (byte)0);
            buffer.putInt(at + 4, view.incarnationAt(i), LE);
            buffer.putLong(at + 8, view.sinceEpochAt(i), LE);
            at += VIEW_ENTRY_LENGTH;
        }
        return at;
    }

    static int viewLength(final int nodes)
    {
        return VIEW_HEADER_LENGTH + nodes * VIEW_ENTRY_LENGTH;
    }

    /**
     * @return the view, or null when the message is malformed (its length, count, ids or states do not hold).
     */
    static CommittedView readView(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < VIEW_HEADER_LENGTH)
        {
            return null;
        }
        final int count = buffer.getShort(offset + 2, LE) & 0xFFFF;
        if (count == 0 || count > MAX_NODES || length != viewLength(count))
        {
            return null;
        }
        final int primary = buffer.getShort(offset + 4, LE) & 0xFFFF;
        final long epoch = buffer.getLong(offset + 8, LE);
        final long primaryEpoch = buffer.getLong(offset + 16, LE);
        final int[] ids = new int[count];
        final MemberState[] states = new MemberState[count];
        final int[] incarnations = new int[count];
        final long[] since = new long[count];
        int at = offset + VIEW_HEADER_LENGTH;
        for (int i = 0; i < count; i++)
        {
            ids[i] = buffer.getShort(at, LE) & 0xFFFF;
            final int state = buffer.getByte(at + 2) & 0xFF;
            if (state >= STATES.length || (i > 0 && ids[i] <= ids[i - 1]))
            {
                return null;
            }
            states[i] = STATES[state];
            incarnations[i] = buffer.getInt(at + 4, LE);
            since[i] = buffer.getLong(at + 8, LE);
            if (since[i] < 0 || since[i] > epoch)
            {
                return null;
            }
            at += VIEW_ENTRY_LENGTH;
        }
        if (primaryEpoch < 0 || (0 == primary) != (0 == primaryEpoch))
        {
            return null;
        }
        return new CommittedView(epoch, new CommittedView.Members(ids, states, incarnations, since), primary,
            primaryEpoch);
    }
}
