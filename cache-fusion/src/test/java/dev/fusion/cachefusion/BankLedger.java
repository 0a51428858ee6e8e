package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.SharedDisk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the bank processes ({@link BankProcess}) acknowledged, read from their output, against what the shared
 * disk holds: every acknowledged transfer must be on disk, and nothing else but a transfer a killed or fenced node
 * had in flight.
 */
final class BankLedger
{
    private final long[] expected;
    private final List<long[]> inFlight = new ArrayList<>();

    /**
     * @param pages       pages of the bank.
     * @param outputs     each process's output lines.
     * @param interrupted the 0-based indexes of the processes whose last started transfer may or may not have
     *                    landed (killed or fenced mid-transfer).
     */
    BankLedger(final int pages, final List<List<String>> outputs, final int... interrupted)
    {
        expected = new long[pages * AccountPage.ROWS];
        Arrays.fill(expected, FusionCluster.OPENING_BALANCE);
        for (int i = 0; i < outputs.size(); i++)
        {
            long[] started = null;
            for (final String line : outputs.get(i))
            {
                final String[] f = line.split(" ");
                if (line.startsWith("S "))
                {
                    started = new long[]{Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3])};
                }
                else if (line.startsWith("A "))
                {
                    expected[Integer.parseInt(f[1])] -= Long.parseLong(f[3]);
                    expected[Integer.parseInt(f[2])] += Long.parseLong(f[3]);
                    started = null;
                }
                else if (line.startsWith("X "))
                {
                    started = null;
                }
            }
            final int process = i;
            if (null != started && Arrays.stream(interrupted).anyMatch(k -> k == process))
            {
                inFlight.add(started);
            }
        }
    }

    /** @return every account's balance as the acknowledged transfers leave it. */
    long[] expected()
    {
        return expected.clone();
    }

    /** @return how many transfers were in flight when their process was interrupted. */
    int inFlight()
    {
        return inFlight.size();
    }

    /**
     * @param shared the shared disk's directory.
     * @param pages  pages of the bank.
     * @return every account's balance on disk.
     */
    static long[] onDisk(final Path shared, final int pages)
    {
        final long[] actual = new long[pages * AccountPage.ROWS];
        try (SharedDisk disk = SharedDisk.open(shared, pages))
        {
            for (int page = 0; page < pages; page++)
            {
                final byte[] bytes = disk.read(page);
                for (int row = 0; row < AccountPage.ROWS; row++)
                {
                    actual[page * AccountPage.ROWS + row] = AccountPage.balance(bytes, row);
                }
            }
        }
        return actual;
    }

    /**
     * @param actual the balances on disk.
     * @return whether they are the acknowledged transfers, plus at most the transfers in flight.
     */
    boolean explains(final long[] actual)
    {
        boolean explained = Arrays.equals(actual, expected);
        for (final long[] t : inFlight)
        {
            final long[] with = expected.clone();
            with[(int)t[0]] -= t[2];
            with[(int)t[1]] += t[2];
            explained |= Arrays.equals(actual, with);
        }
        return explained;
    }

    /**
     * @param lines a process's output.
     * @return its last lines that are not transfers.
     */
    static List<String> tail(final List<String> lines)
    {
        final List<String> notTransfers = new ArrayList<>();
        for (final String l : lines)
        {
            if (!l.startsWith("S ") && !l.startsWith("A "))
            {
                notTransfers.add(l);
            }
        }
        return notTransfers.subList(Math.max(0, notTransfers.size() - 15), notTransfers.size());
    }
}
