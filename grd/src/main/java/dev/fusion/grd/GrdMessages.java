package dev.fusion.grd;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * The directory's messages on cluster-core (all HIGH priority). Fixed layouts, little-endian.
 * <pre>
 * REQUEST  (type 32, 32 bytes): u8 op, u8 mode, u8 hops, u8 flags, u16 requester, u16 0, i64 requestId,
 *                               i64 resource, i64 grant (release/downgrade: the id of the grant given up)
 *          flags: 1 fresh (acquire: the requester holds nothing now; a hold the master still records for it
 *          was given up and its release is late)
 * RESPONSE (type 33, 24 bytes): u8 status, u8 mode or reason, u16 supplier + 1 (0: none), u16 master, u16 0,
 *                               i64 requestId, i64 resource
 * BLOCKING (type 36, 32 bytes): u8 keep mode, u8 requested mode, u8 ship, u8 flags, u16 requester, u16 0,
 *                               i64 requestId, i64 resource, i64 holder's grant request id
 *          flags: 1 granting (the request is granted as soon as this holder gives way, or already is)
 * MASTER   (type 34, 24 bytes): u16 new master, u16 0, i32 0, i64 version, i64 resource
 * HANDOFF  (type 35): i64 version, then an encoded directory entry
 * ops: 1 acquire, 2 release, 3 downgrade, 4 cancel, 5 report a hold (reconfiguration; grant: the request an
 *      unconfirmed hold is held under),
 *      6 reports done (reconfiguration; the resource field carries the dead node's id)
 * </pre>
 */
final class GrdMessages
{
    static final int REQUEST = 32;
    static final int RESPONSE = 33;
    static final int MASTER = 34;
    static final int HANDOFF = 35;
    static final int BLOCKING = 36;
    static final int BLOCKING_LENGTH = 32;
    static final int FIXED_LENGTH = 24;
    static final int REQUEST_LENGTH = 32;
    static final int FLAG_FRESH = 1;
    static final int BLOCKING_GRANTING = 1;
    static final long NO_GRANT = Long.MIN_VALUE;

    static final int OP_ACQUIRE = 1;
    static final int OP_RELEASE = 2;
    static final int OP_DOWNGRADE = 3;
    static final int OP_CANCEL = 4;
    /** Reconfiguration: the requester holds {@code mode} of a resource whose master died. */
    static final int OP_REPORT = 5;
    /** Reconfiguration: the requester has sent every report for the dead node in {@code resource}. */
    static final int OP_REPORTS_DONE = 6;
    /**
     * Reconfiguration: the requester gave {@code resource} to the dead node (named in the grant field), which may
     * have held it in EXCLUSIVE: the master checks it like a resource the dead node mastered.
     */
    static final int OP_REPORT_GIVEN = 7;
    /**
     * Join: the requester's directory is starting and masters nothing until every live member has answered
     * {@link #OP_JOIN_DONE} (sent again every retry interval until then).
     */
    static final int OP_JOIN = 8;
    /**
     * Join: the requester has handed the joiner every entry it mastered that the joiner masters now (HANDOFFs sent
     * before this on the same stream); {@code resource} is 1 when the requester was established (not joining
     * itself), so the joiner's entries reloaded from its store are out of date.
     */
    static final int OP_JOIN_DONE = 9;

    static final int STATUS_GRANTED = 1;
    static final int STATUS_REJECTED = 2;
    static final int STATUS_DONE = 3;

    static final int MAX_HOPS = 3;

    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private GrdMessages()
    {
    }

    static void request(
        final MutableDirectBuffer b, final int op, final LockMode mode, final int hops, final int requester,
        final long requestId, final long resource)
    {
        b.putByte(0, (byte)op);
        b.putByte(1, (byte)mode.ordinal());
        b.putByte(2, (byte)hops);
        b.putByte(3, (byte)0);
        b.putShort(4, (short)requester, ORDER);
        b.putShort(6, (short)0, ORDER);
        b.putLong(8, requestId, ORDER);
        b.putLong(16, resource, ORDER);
        b.putLong(24, NO_GRANT, ORDER);
    }

    static void extras(final MutableDirectBuffer b, final int flags, final long grant)
    {
        b.putByte(3, (byte)flags);
        b.putLong(24, grant, ORDER);
    }

    static int flags(final DirectBuffer b, final int o)
    {
        return b.getByte(o + 3) & 0xFF;
    }

    static long grant(final DirectBuffer b, final int o)
    {
        return b.getLong(o + 24, ORDER);
    }

    static void response(
        final MutableDirectBuffer b, final int status, final int modeOrReason, final int supplier, final int master,
        final long requestId, final long resource)
    {
        b.putByte(0, (byte)status);
        b.putByte(1, (byte)modeOrReason);
        b.putShort(2, (short)(supplier + 1), ORDER);
        b.putShort(4, (short)master, ORDER);
        b.putShort(6, (short)0, ORDER);
        b.putLong(8, requestId, ORDER);
        b.putLong(16, resource, ORDER);
    }

    static void master(final MutableDirectBuffer b, final int newMaster, final long version, final long resource)
    {
        b.putShort(0, (short)newMaster, ORDER);
        b.putShort(2, (short)0, ORDER);
        b.putInt(4, 0, ORDER);
        b.putLong(8, version, ORDER);
        b.putLong(16, resource, ORDER);
    }

    static int supplier(final DirectBuffer b, final int o)
    {
        return (b.getShort(o + 2, ORDER) & 0xFFFF) - 1;
    }

    static int responder(final DirectBuffer b, final int o)
    {
        return b.getShort(o + 4, ORDER) & 0xFFFF;
    }

    static int op(final DirectBuffer b, final int o)
    {
        return b.getByte(o) & 0xFF;
    }

    static int byte1(final DirectBuffer b, final int o)
    {
        return b.getByte(o + 1) & 0xFF;
    }

    static int hops(final DirectBuffer b, final int o)
    {
        return b.getByte(o + 2) & 0xFF;
    }

    static int requester(final DirectBuffer b, final int o)
    {
        return b.getShort(o + 4, ORDER) & 0xFFFF;
    }

    static int newMaster(final DirectBuffer b, final int o)
    {
        return b.getShort(o, ORDER) & 0xFFFF;
    }

    static long id(final DirectBuffer b, final int o)
    {
        return b.getLong(o + 8, ORDER);
    }

    static long resource(final DirectBuffer b, final int o)
    {
        return b.getLong(o + 16, ORDER);
    }
}
