package dev.fusion.bench;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/** Realistic page content for benchmarks: rows of a table (ids, names, statuses, amounts, dates). */
public final class Pages
{
    private Pages()
    {
    }

    /**
     * @param size page size in bytes.
     * @param seed for the row values.
     * @return a page of rows; compresses roughly as real heap pages do (about 2-3x), not like zeros.
     */
    public static byte[] realistic(final int size, final long seed)
    {
        final Random random = new Random(seed);
        final StringBuilder sb = new StringBuilder(size + 128);
        int row = (int)(seed * 1000);
        while (sb.length() < size)
        {
            sb.append(String.format(Locale.ROOT, "%08d|cust-%05d|%s|%10.2f|2026-%02d-%02d|%s;", row++,
                random.nextInt(50_000), random.nextBoolean() ? "ACTIVE" : "CLOSED", random.nextDouble() * 10_000,
                1 + random.nextInt(12), 1 + random.nextInt(28), Long.toHexString(random.nextLong())));
        }
        return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), size);
    }
}
