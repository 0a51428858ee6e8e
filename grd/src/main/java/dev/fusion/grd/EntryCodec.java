package dev.fusion.grd;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Binary form of a {@link DirectoryEntry}, used for the off-heap store and for remastering hand-offs.
 * <pre>
 * i64 resource, i64 scn, i32 lastWriter, u8 flags (1 = recovering),
 * u16 holders  x (u16 node, u8 mode),
 * u16 waiting  x (i64 requestId, u16 node, u8 mode, u8 conversion),
 * u16 pastImages x (u16 node),
 * i64 accessCount, i64 firstAccessMs, i64 lastAccessMs   (for the tiers)
 * i64 noticed request, u16 noticed node + 1, u16 noticed supplier + 1,
 * u16 lastGrants x (u16 node, i64 requestId, u16 supplier + 1)   (cache fusion; absent in older entries)
 * u16 latestRequests x (u16 node, i64 requestId, u8 refused)      (absent in older entries)
 * </pre>
 * Each node's latest request travels with the entry: without it the new master (or this one, after the entry
 * was demoted to the store) took a late copy of an older, "fresh" request for a new one, dropped the hold the node
 * had been granted since, and granted the next requester from disk.
 */
final class EntryCodec
{
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private EntryCodec()
    {
    }

    static int maxLength(final DirectoryEntry entry)
    {
        return 21 + 6 + 3 * entry.holders().size() + 12 * entry.queue().size() + 2 * entry.pastImageHolders().size() +
            24 + 14 + 12 * entry.lastGrants().size() + 2 + 11 * entry.latestRequests().size();
    }

    static int encode(final DirectoryEntry entry, final MutableDirectBuffer buffer, final int offset)
    {
        return new Encoder().encode(entry, buffer, offset);
    }

    /**
     * Encodes without allocating: its visitors are bound once, so walking the entry's maps and queue creates no
     * iterators or views. One per writing thread (the directory store's write-through keeps one).
     */
    static final class Encoder
    {
        private MutableDirectBuffer buffer;
        private int at;
        private final java.util.function.BiConsumer<Integer, LockMode> holder = (node, mode) ->
        {
            buffer.putShort(at, (short)(int)node, ORDER);
            buffer.putByte(at + 2, (byte)mode.ordinal());
            at += 3;
        };
        private final java.util.function.Consumer<LockRequest> request = r ->
        {
            buffer.putLong(at, r.requestId(), ORDER);
            buffer.putShort(at + 8, (short)r.node(), ORDER);
            buffer.putByte(at + 10, (byte)r.mode().ordinal());
            buffer.putByte(at + 11, (byte)(r.conversion() ? 1 : 0));
            at += 12;
        };
        private final java.util.function.BiConsumer<Integer, long[]> grant = (node, g) ->
        {
            buffer.putShort(at, (short)(int)node, ORDER);
            buffer.putLong(at + 2, g[0], ORDER);
            buffer.putShort(at + 10, (short)(g[1] + 1), ORDER);
            at += 12;
        };
        private final java.util.function.BiConsumer<Integer, long[]> latest = (node, r) ->
        {
            buffer.putShort(at, (short)(int)node, ORDER);
            buffer.putLong(at + 2, r[0], ORDER);
            buffer.putByte(at + 10, (byte)r[1]);
            at += 11;
        };

        int encode(final DirectoryEntry entry, final MutableDirectBuffer buffer, final int offset)
        {
            this.buffer = buffer;
            at = offset;
            buffer.putLong(at, entry.resource(), ORDER);
            buffer.putLong(at + 8, entry.scn(), ORDER);
            buffer.putInt(at + 16, entry.lastWriter(), ORDER);
            buffer.putByte(at + 20, (byte)(entry.recovering() ? 1 : 0));
            at += 21;
            final Map<Integer, LockMode> holders = entry.holdersMap();
            buffer.putShort(at, (short)holders.size(), ORDER);
            at += 2;
            holders.forEach(holder);
            final java.util.ArrayDeque<LockRequest> waiting = entry.queueDeque();
            buffer.putShort(at, (short)waiting.size(), ORDER);
            at += 2;
            waiting.forEach(request);
            final List<Integer> pastImages = entry.pastImageHolderList();
            buffer.putShort(at, (short)pastImages.size(), ORDER);
            at += 2;
            for (int i = 0; i < pastImages.size(); i++)
            {
                buffer.putShort(at, (short)(int)pastImages.get(i), ORDER);
                at += 2;
            }
            buffer.putLong(at, entry.accessCount, ORDER);
            buffer.putLong(at + 8, entry.firstAccessMs, ORDER);
            buffer.putLong(at + 16, entry.lastAccessMs, ORDER);
            at += 24;
            buffer.putLong(at, entry.noticedRequestId(), ORDER);
            buffer.putShort(at + 8, (short)(entry.noticedNode() + 1), ORDER);
            buffer.putShort(at + 10, (short)(entry.noticedSupplier() + 1), ORDER);
            buffer.putShort(at + 12, (short)entry.lastGrants().size(), ORDER);
            at += 14;
            entry.lastGrants().forEach(grant);
            buffer.putShort(at, (short)entry.latestRequests().size(), ORDER);
            at += 2;
            entry.latestRequests().forEach(latest);
            this.buffer = null;
            return at - offset;
        }
    }

    /**
     * @throws IllegalArgumentException when the bytes are not a well-formed entry.
     */
    static DirectoryEntry decode(final DirectBuffer buffer, final int offset, final int length)
    {
        final int end = offset + length;
        int at = offset;
        need(at, 23, end);
        final DirectoryEntry entry = new DirectoryEntry(buffer.getLong(at, ORDER));
        final long scn = buffer.getLong(at + 8, ORDER);
        final int writer = buffer.getInt(at + 16, ORDER);
        final boolean recovering = buffer.getByte(at + 20) == 1;
        at += 21;
        final int holderCount = buffer.getShort(at, ORDER) & 0xFFFF;
        at += 2;
        need(at, holderCount * 3 + 2, end);
        final Map<Integer, LockMode> holders = new TreeMap<>();
        for (int i = 0; i < holderCount; i++)
        {
            holders.put(buffer.getShort(at, ORDER) & 0xFFFF, mode(buffer.getByte(at + 2)));
            at += 3;
        }
        final int waitingCount = buffer.getShort(at, ORDER) & 0xFFFF;
        at += 2;
        need(at, waitingCount * 12 + 2, end);
        final List<LockRequest> waiting = new ArrayList<>(waitingCount);
        for (int i = 0; i < waitingCount; i++)
        {
            waiting.add(new LockRequest(buffer.getLong(at, ORDER), buffer.getShort(at + 8, ORDER) & 0xFFFF,
                mode(buffer.getByte(at + 10)), buffer.getByte(at + 11) == 1));
            at += 12;
        }
        final int piCount = buffer.getShort(at, ORDER) & 0xFFFF;
        at += 2;
        need(at, piCount * 2 + 24, end);
        final List<Integer> pastImages = new ArrayList<>(piCount);
        for (int i = 0; i < piCount; i++)
        {
            pastImages.add(buffer.getShort(at, ORDER) & 0xFFFF);
            at += 2;
        }
        entry.accessCount = buffer.getLong(at, ORDER);
        entry.firstAccessMs = buffer.getLong(at + 8, ORDER);
        entry.lastAccessMs = buffer.getLong(at + 16, ORDER);
        at += 24;
        if (at < end)
        {
            need(at, 14, end);
            final long noticed = buffer.getLong(at, ORDER);
            final int noticedNode = (buffer.getShort(at + 8, ORDER) & 0xFFFF) - 1;
            final int noticedSupplier = (buffer.getShort(at + 10, ORDER) & 0xFFFF) - 1;
            final int grants = buffer.getShort(at + 12, ORDER) & 0xFFFF;
            at += 14;
            need(at, grants * 12, end);
            final Map<Integer, long[]> lastGrants = new TreeMap<>();
            for (int i = 0; i < grants; i++)
            {
                lastGrants.put(buffer.getShort(at, ORDER) & 0xFFFF, new long[]{buffer.getLong(at + 2, ORDER),
                    (buffer.getShort(at + 10, ORDER) & 0xFFFF) - 1});
                at += 12;
            }
            entry.restoreTransfers(noticed, noticedNode, noticedSupplier, lastGrants);
        }
        if (at < end)
        {
            need(at, 2, end);
            final int count = buffer.getShort(at, ORDER) & 0xFFFF;
            at += 2;
            need(at, count * 11, end);
            final Map<Integer, long[]> latest = new TreeMap<>();
            for (int i = 0; i < count; i++)
            {
                latest.put(buffer.getShort(at, ORDER) & 0xFFFF, new long[]{buffer.getLong(at + 2, ORDER),
                    buffer.getByte(at + 10)});
                at += 11;
            }
            entry.restoreLatestRequests(latest);
        }
        if (at != end)
        {
            throw new IllegalArgumentException("directory entry has " + (end - at) + " trailing bytes");
        }
        entry.restore(holders, waiting, pastImages, scn, writer, recovering);
        return entry;
    }

    private static LockMode mode(final byte value)
    {
        final LockMode mode = LockMode.fromOrdinal(value);
        if (null == mode)
        {
            throw new IllegalArgumentException("bad lock mode " + value);
        }
        return mode;
    }

    private static void need(final int at, final int bytes, final int end)
    {
        if (at + bytes > end)
        {
            throw new IllegalArgumentException("directory entry truncated");
        }
    }
}
