package dev.fusion.cachefusion;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * Cache fusion's messages on cluster-core; fixed little-endian headers, images after them.
 * <pre>
 * IMAGE     (40, NORMAL; HIGH when it carries no image): i64 block, i64 requestId, i64 version, u8 flags, u8 0,
 *           u16 0, i32 image length, image bytes. flags: 1 dirty, 2 busy, 4 congested, 8 none (read from disk),
 *           64 granted (the master grants the request once the sender's release reaches it: use it now)
 * FETCH     (41, HIGH):  i64 block, i64 requestId        (a grantee asks its supplier again)
 * CR        (42, HIGH):  i64 block, i64 scn, i64 crId, u16 requester, u8 hops, u8 0, i32 0
 * CR_IMAGE  (43, NORMAL): i64 block, i64 crId, i64 version, u8 flags, u8 0, u16 0, i32 length, bytes;
 *           flags: 8 none (build it yourself), 16 served by the master, 32 fairness answer
 * WRITTEN   (44, LOW):   i64 block, i64 version          (broadcast: that version is on disk)
 * PI_QUERY  (45, HIGH):  i64 block, i64 recoveryId
 * PI_IMAGE  (46, NORMAL): i64 block, i64 recoveryId, i64 version, u8 flags, u8 0, u16 0, i32 length, bytes
 * </pre>
 */
final class FusionMessages
{
    static final int IMAGE = 40;
    static final int FETCH = 41;
    static final int CR = 42;
    static final int CR_IMAGE = 43;
    static final int WRITTEN = 44;
    static final int PI_QUERY = 45;
    static final int PI_IMAGE = 46;
    static final int[] TYPES = {IMAGE, FETCH, CR, CR_IMAGE, WRITTEN, PI_QUERY, PI_IMAGE};

    /** Header of IMAGE, CR_IMAGE and PI_IMAGE. */
    static final int IMAGE_HEADER = 32;
    static final int SHORT_LENGTH = 16;
    static final int CR_LENGTH = 32;

    static final int DIRTY = 1;
    static final int BUSY = 2;
    static final int CONGESTED = 4;
    static final int NONE = 8;
    static final int BY_MASTER = 16;
    static final int FAIRNESS = 32;
    static final int GRANTED = 64;

    static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private FusionMessages()
    {
    }

    static int image(final MutableDirectBuffer b, final long block, final long id, final long version,
        final int flags, final byte[] image)
    {
        b.putLong(0, block, ORDER);
        b.putLong(8, id, ORDER);
        b.putLong(16, version, ORDER);
        b.putByte(24, (byte)flags);
        b.putByte(25, (byte)0);
        b.putShort(26, (short)0, ORDER);
        final int length = null == image ? 0 : image.length;
        b.putInt(28, length, ORDER);
        if (length > 0)
        {
            b.putBytes(IMAGE_HEADER, image);
        }
        return IMAGE_HEADER + length;
    }

    static int pair(final MutableDirectBuffer b, final long block, final long value)
    {
        b.putLong(0, block, ORDER);
        b.putLong(8, value, ORDER);
        return SHORT_LENGTH;
    }

    static int cr(final MutableDirectBuffer b, final long block, final long scn, final long crId,
        final int requester, final int hops)
    {
        b.putLong(0, block, ORDER);
        b.putLong(8, scn, ORDER);
        b.putLong(16, crId, ORDER);
        b.putShort(24, (short)requester, ORDER);
        b.putByte(26, (byte)hops);
        b.putByte(27, (byte)0);
        b.putInt(28, 0, ORDER);
        return CR_LENGTH;
    }

    static long block(final DirectBuffer b, final int o)
    {
        return b.getLong(o, ORDER);
    }

    static long second(final DirectBuffer b, final int o)
    {
        return b.getLong(o + 8, ORDER);
    }

    static long third(final DirectBuffer b, final int o)
    {
        return b.getLong(o + 16, ORDER);
    }

    static int flags(final DirectBuffer b, final int o)
    {
        return b.getByte(o + 24) & 0xFF;
    }

    static int requester(final DirectBuffer b, final int o)
    {
        return b.getShort(o + 24, ORDER) & 0xFFFF;
    }

    static int hops(final DirectBuffer b, final int o)
    {
        return b.getByte(o + 26) & 0xFF;
    }

    /**
     * @return the image bytes of an IMAGE / CR_IMAGE / PI_IMAGE message, null when it carries none.
     * @throws IllegalArgumentException when the declared length disagrees with the message.
     */
    static byte[] imageBytes(final DirectBuffer b, final int o, final int length)
    {
        if (length < IMAGE_HEADER)
        {
            throw new IllegalArgumentException("image message of " + length + " bytes is shorter than its header");
        }
        final int declared = b.getInt(o + 28, ORDER);
        if (declared != length - IMAGE_HEADER)
        {
            throw new IllegalArgumentException("image message declares " + declared + " bytes but carries " +
                (length - IMAGE_HEADER));
        }
        if (declared == 0)
        {
            return null;
        }
        final byte[] bytes = new byte[declared];
        b.getBytes(o + IMAGE_HEADER, bytes);
        return bytes;
    }

    static void checkLength(final int type, final int length, final int expected)
    {
        if (length != expected)
        {
            throw new IllegalArgumentException("message type " + type + " of " + length + " bytes, expected " +
                expected);
        }
    }
}
