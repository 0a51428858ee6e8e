package dev.fusion.cachefusion.reference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The reference engine's 8 KiB page: a header and 63 account rows of 128 bytes. Rows carry a balance and a
 * text payload made of words (names, cities, notes) so pages compress like real table blocks do.
 * <pre>
 * 0   i64 version (SCN of the last change)
 * 8   i32 magic, 12 i32 page number
 * 16  rows: i64 account id, i64 balance, 112 bytes of text
 * </pre>
 */
public final class AccountPage
{
    /** Page size in bytes. */
    public static final int SIZE = 8192;
    /** Accounts per page. */
    public static final int ROWS = 63;
    static final int HEADER = 16;
    static final int ROW = 128;
    static final int MAGIC = 0x46555331;
    private static final String[] WORDS = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        "street", "avenue", "lisbon", "porto", "oslo", "lyon", "gold", "silver", "account", "savings", "current",
        "premium", "customer", "since", "branch", "north", "south", "review", "pending", "active", "limit"};

    private AccountPage()
    {
    }

    /**
     * @param page       the page number.
     * @param balance    every account's opening balance.
     * @return a formatted page at version 0.
     */
    public static byte[] format(final int page, final long balance)
    {
        final byte[] bytes = new byte[SIZE];
        final ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, 0L);
        b.putInt(8, MAGIC);
        b.putInt(12, page);
        final SplittableRandom random = new SplittableRandom(page);
        for (int row = 0; row < ROWS; row++)
        {
            final int at = HEADER + row * ROW;
            b.putLong(at, (long)page * ROWS + row);
            b.putLong(at + 8, balance);
            final StringBuilder text = new StringBuilder();
            while (text.length() < ROW - 16)
            {
                text.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
            }
            final byte[] t = text.toString().getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(t, 0, bytes, at + 16, ROW - 16);
        }
        return bytes;
    }

    /** @return the page's version. */
    public static long version(final byte[] page)
    {
        return ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    static void version(final byte[] page, final long version)
    {
        ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).putLong(0, version);
    }

    /** @return the balance in a row. */
    public static long balance(final byte[] page, final int row)
    {
        return ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).getLong(HEADER + row * ROW + 8);
    }

    static void balance(final byte[] page, final int row, final long balance)
    {
        ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).putLong(HEADER + row * ROW + 8, balance);
    }

    /** @return the sum of the page's balances. */
    public static long total(final byte[] page)
    {
        long total = 0;
        for (int row = 0; row < ROWS; row++)
        {
            total += balance(page, row);
        }
        return total;
    }

    /** @throws IllegalStateException when the bytes are not a formatted page. */
    static void check(final byte[] page, final long block)
    {
        if (page.length != SIZE || ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN).getInt(8) != MAGIC)
        {
            throw new IllegalStateException("block " + block + " is not a formatted account page");
        }
    }
}
