package dev.fusion.replication;

import java.util.Arrays;

/**
 * A key of a row: the table (or table and unique index) it belongs to and its encoded value. Changes list the
 * keys they touch: their primary key, each unique key, and the parent keys their foreign keys reference.
 *
 * @param table the table, or {@code table.index} for a unique index.
 * @param value the encoded key value.
 */
public record KeyRef(String table, byte[] value)
{
    /** @return a 64-bit hash of table and value; equal keys have equal hashes. */
    public long hash()
    {
        long h = 0xCBF29CE484222325L;
        for (int i = 0; i < table.length(); i++)
        {
            h = (h ^ table.charAt(i)) * 0x100000001B3L;
        }
        h = (h ^ 0xFF) * 0x100000001B3L;
        for (final byte b : value)
        {
            h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        }
        return h ^ (h >>> 29);
    }

    @Override
    public boolean equals(final Object o)
    {
        return o instanceof KeyRef k && table.equals(k.table) && Arrays.equals(value, k.value);
    }

    @Override
    public int hashCode()
    {
        return Long.hashCode(hash());
    }

    @Override
    public String toString()
    {
        return table + "[" + new String(value, java.nio.charset.StandardCharsets.UTF_8) + "]";
    }
}
