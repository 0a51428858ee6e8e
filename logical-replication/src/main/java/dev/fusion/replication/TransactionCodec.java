package dev.fusion.replication;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact binary form of a {@link Transaction}, used on the wire and in the replication log.
 * Little-endian:
 * <pre>
 * u8 version (1), u8 0, u16 0, i32 origin, i64 position, i64 commitTimeMs, i32 change count, then per change:
 *   u8 op, str table, bytes primaryKey, u16 n x key uniqueKeys, u16 n x key parentKeys, bytes before, bytes after
 * str   = u16 length + UTF-8
 * bytes = i32 length (-1 for null) + bytes
 * key   = str table + bytes value
 * </pre>
 * Decoding checks every length against what is left and rejects anything else with a
 * {@link MalformedTransactionException}: records come from the network and from disk.
 */
public final class TransactionCodec
{
    /** The version this code writes and reads. */
    public static final int VERSION = 1;
    private static final int HEADER = 28;
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    private static final ChangeOp[] OPS = ChangeOp.values();

    private TransactionCodec()
    {
    }

    /**
     * @param txn    the transaction.
     * @param buffer where to write; grows as needed.
     * @param offset where to start.
     * @return bytes written.
     */
    public static int encode(final Transaction txn, final ExpandableArrayBuffer buffer, final int offset)
    {
        int at = offset;
        buffer.putByte(at, (byte)VERSION);
        buffer.putByte(at + 1, (byte)0);
        buffer.putShort(at + 2, (short)0, ORDER);
        buffer.putInt(at + 4, txn.origin(), ORDER);
        buffer.putLong(at + 8, txn.position(), ORDER);
        buffer.putLong(at + 16, txn.commitTimeMs(), ORDER);
        buffer.putInt(at + 24, txn.changes().size(), ORDER);
        at += HEADER;
        for (final Change c : txn.changes())
        {
            buffer.putByte(at++, (byte)c.op().ordinal());
            at = putString(buffer, at, c.table());
            at = putBytes(buffer, at, null == c.primaryKey() ? null : c.primaryKey().value());
            at = putKeys(buffer, at, c.uniqueKeys());
            at = putKeys(buffer, at, c.parentKeys());
            at = putBytes(buffer, at, c.before());
            at = putBytes(buffer, at, c.after());
        }
        return at - offset;
    }

    /**
     * @param buffer holding the record.
     * @param offset its start.
     * @param length its length.
     * @return the transaction.
     * @throws MalformedTransactionException when the bytes are not exactly one well-formed transaction.
     */
    public static Transaction decode(final DirectBuffer buffer, final int offset, final int length)
    {
        final Reader r = new Reader(buffer, offset, length);
        final int count = header(r, length);
        r.at = offset + HEADER;
        final List<Change> changes = new ArrayList<>(count);
        for (int i = 0; i < count; i++)
        {
            changes.add(change(r, i));
        }
        if (r.at != offset + length)
        {
            throw new MalformedTransactionException(r.at - offset, (offset + length - r.at) + " trailing bytes");
        }
        return new Transaction(buffer.getInt(offset + 4, ORDER), buffer.getLong(offset + 8, ORDER),
            buffer.getLong(offset + 16, ORDER), changes);
    }

    /** Checks the header; returns the change count. */
    private static int header(final Reader r, final int length)
    {
        final DirectBuffer buffer = r.buffer;
        final int offset = r.start;
        r.need(HEADER, "header");
        final int version = buffer.getByte(offset) & 0xFF;
        if (version != VERSION)
        {
            throw new MalformedTransactionException(0, "unknown version " + version);
        }
        final long position = buffer.getLong(offset + 8, ORDER);
        final int count = buffer.getInt(offset + 24, ORDER);
        if (position <= 0)
        {
            throw new MalformedTransactionException(8, "position " + position + " is not positive");
        }
        if (count < 0 || count > length)
        {
            throw new MalformedTransactionException(24, "change count " + count);
        }
        return count;
    }

    /**
     * Decodes a transaction whose changes stay in the buffer (a memory-mapped spill file, say) and are decoded one
     * at a time as the list is iterated: the whole record is checked first, so iterating cannot fail.
     *
     * @param buffer holding the record; it must not change while the transaction is in use.
     * @param offset its start.
     * @param length its length.
     * @return the transaction, with a lazily decoded change list.
     * @throws MalformedTransactionException when the bytes are not exactly one well-formed transaction.
     */
    static Transaction decodeLazily(final DirectBuffer buffer, final int offset, final int length)
    {
        final Reader r = new Reader(buffer, offset, length);
        final int count = header(r, length);
        r.at = offset + HEADER;
        for (int i = 0; i < count; i++)
        {
            change(r, i); // checked, not kept
        }
        if (r.at != offset + length)
        {
            throw new MalformedTransactionException(r.at - offset, (offset + length - r.at) + " trailing bytes");
        }
        return new Transaction(buffer.getInt(offset + 4, ORDER), buffer.getLong(offset + 8, ORDER),
            buffer.getLong(offset + 16, ORDER), new LazyChanges(buffer, offset, length, count));
    }

    private static Change change(final Reader r, final int i)
    {
        r.need(1, "op");
        final int op = r.buffer.getByte(r.at++) & 0xFF;
        if (op >= OPS.length)
        {
            throw new MalformedTransactionException(r.at - 1 - r.start, "unknown op " + op);
        }
        final String table = r.string("table");
        final byte[] pk = r.bytes("primary key");
        final List<KeyRef> uniques = r.keys("unique keys");
        final List<KeyRef> parents = r.keys("parent keys");
        final byte[] before = r.bytes("before image");
        final byte[] after = r.bytes("after image");
        if (table.isEmpty())
        {
            throw new MalformedTransactionException(r.at - r.start, "change " + i + " has no table");
        }
        return new Change(table, null == pk ? null : new KeyRef(table, pk), uniques, parents, OPS[op], before, after);
    }

    /** Changes decoded one at a time from a checked record, as they are iterated. */
    static final class LazyChanges extends java.util.AbstractList<Change>
    {
        private final DirectBuffer buffer;
        private final int offset;
        private final int length;
        private final int count;
        private Reader cursor;
        private int next;

        LazyChanges(final DirectBuffer buffer, final int offset, final int length, final int count)
        {
            this.buffer = buffer;
            this.offset = offset;
            this.length = length;
            this.count = count;
        }

        @Override
        public int size()
        {
            return count;
        }

        /** @return the record's length in bytes. */
        int bytes()
        {
            return length;
        }

        @Override
        public java.util.Iterator<Change> iterator()
        {
            final Reader r = new Reader(buffer, offset, length);
            r.at = offset + HEADER;
            return new java.util.Iterator<>()
            {
                private int i;

                @Override
                public boolean hasNext()
                {
                    return i < count;
                }

                @Override
                public Change next()
                {
                    if (i >= count)
                    {
                        throw new java.util.NoSuchElementException();
                    }
                    return change(r, i++);
                }
            };
        }

        /** Sequential access is cheap; going back starts again from the first change. */
        @Override
        public synchronized Change get(final int index)
        {
            java.util.Objects.checkIndex(index, count);
            if (null == cursor || index < next)
            {
                cursor = new Reader(buffer, offset, length);
                cursor.at = offset + HEADER;
                next = 0;
            }
            Change c = null;
            while (next <= index)
            {
                c = change(cursor, next++);
            }
            return c;
        }
    }

    private static int putString(final MutableDirectBuffer b, final int at, final String s)
    {
        final byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > 0xFFFF)
        {
            throw new IllegalArgumentException("name longer than 65535 bytes: " + s.substring(0, 40) + "...");
        }
        b.putShort(at, (short)bytes.length, ORDER);
        b.putBytes(at + 2, bytes);
        return at + 2 + bytes.length;
    }

    private static int putBytes(final MutableDirectBuffer b, final int at, final byte[] bytes)
    {
        if (null == bytes)
        {
            b.putInt(at, -1, ORDER);
            return at + 4;
        }
        b.putInt(at, bytes.length, ORDER);
        b.putBytes(at + 4, bytes);
        return at + 4 + bytes.length;
    }

    private static int putKeys(final MutableDirectBuffer b, final int at, final List<KeyRef> keys)
    {
        if (keys.size() > 0xFFFF)
        {
            throw new IllegalArgumentException("more than 65535 keys in one change");
        }
        b.putShort(at, (short)keys.size(), ORDER);
        int p = at + 2;
        for (final KeyRef k : keys)
        {
            p = putString(b, p, k.table());
            p = putBytes(b, p, k.value());
        }
        return p;
    }

    /** Bounds-checked reading. */
    private static final class Reader
    {
        final DirectBuffer buffer;
        final int start;
        private final int end;
        int at;

        Reader(final DirectBuffer buffer, final int offset, final int length)
        {
            this.buffer = buffer;
            this.start = offset;
            this.end = offset + length;
            this.at = offset;
        }

        void need(final int bytes, final String what)
        {
            if (bytes < 0 || end - at < bytes)
            {
                throw new MalformedTransactionException(at - start, what + " needs " + bytes + " bytes, " +
                    (end - at) + " left");
            }
        }

        String string(final String what)
        {
            need(2, what);
            final int length = buffer.getShort(at, ORDER) & 0xFFFF;
            at += 2;
            need(length, what);
            final String s = buffer.getStringWithoutLengthUtf8(at, length);
            at += length;
            return s;
        }

        byte[] bytes(final String what)
        {
            need(4, what);
            final int length = buffer.getInt(at, ORDER);
            at += 4;
            if (length == -1)
            {
                return null;
            }
            need(length, what);
            final byte[] bytes = new byte[length];
            buffer.getBytes(at, bytes);
            at += length;
            return bytes;
        }

        List<KeyRef> keys(final String what)
        {
            need(2, what);
            final int count = buffer.getShort(at, ORDER) & 0xFFFF;
            at += 2;
            final List<KeyRef> keys = new ArrayList<>(count);
            for (int i = 0; i < count; i++)
            {
                final String table = string(what);
                final byte[] value = bytes(what);
                if (null == value)
                {
                    throw new MalformedTransactionException(at - start, what + ": a key without a value");
                }
                keys.add(new KeyRef(table, value));
            }
            return keys;
        }
    }
}
