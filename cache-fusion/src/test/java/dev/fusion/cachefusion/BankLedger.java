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

    /**
     * A node that was cut off or paused: once back ({@code from}: its first output line after that), it
     * acknowledged at most the one transfer whose redo it had written before (its lease had run out), learned it
     * was declared dead, rejoined as a new incarnation, and acknowledged transfers again.
     *
     * @param lines the node's output.
     * @param from  the index of its first line after it was continued or healed.
     */
    static void assertFencedThenRejoined(final List<String> lines, final int from)
    {
        final List<String> after = lines.subList(from, lines.size());
        final int evicted = indexOf(after, "EVICTED");
        final int rejoined = indexOf(after, "REJOINED");
        org.assertj.core.api.Assertions.assertThat(evicted).as("it learned it was declared dead: %s", tail(lines))
            .isGreaterThanOrEqualTo(0);
        org.assertj.core.api.Assertions.assertThat(rejoined).as("it rejoined: %s", tail(lines))
            .isGreaterThan(evicted);
        org.assertj.core.api.Assertions.assertThat(after.subList(0, evicted).stream().filter(l -> l.startsWith("A ")))
            .as("acknowledged once back, before it knew it was dead: at most the transfer in flight")
            .hasSizeLessThanOrEqualTo(1);
        org.assertj.core.api.Assertions.assertThat(after.subList(rejoined, after.size()))
            .as("it transferred again after it rejoined").anyMatch(l -> l.startsWith("A "));
    }

    private static int indexOf(final List<String> lines, final String prefix)
    {
        for (int i = 0; i < lines.size(); i++)
        {
            if (lines.get(i).startsWith(prefix))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * Writes each process's whole output to {@code target/<name>-node<i>.log}, to read after a failure.
     *
     * @param name    the test's name.
     * @param outputs each process's output lines.
     */
    static void keep(final String name, final List<List<String>> outputs)
    {
        for (int i = 0; i < outputs.size(); i++)
        {
            try
            {
                java.nio.file.Files.createDirectories(Path.of("target"));
                java.nio.file.Files.write(Path.of("target", name + "-node" + (i + 1) + ".log"), outputs.get(i));
            }
            catch (final java.io.IOException ex)
            {
                System.out.println("could not keep the output of node " + (i + 1) + ": " + ex);
            }
        }
    }

    /**
     * @param actual the balances on disk.
     * @return the accounts whose balance differs from the acknowledged transfers', by page: what to look for in the
     * processes' output after a failure.
     */
    String differences(final long[] actual)
    {
        final StringBuilder b = new StringBuilder();
        for (int a = 0; a < actual.length; a++)
        {
            if (actual[a] != expected[a])
            {
                b.append(" account ").append(a).append(" (page ").append(a / AccountPage.ROWS).append("): ")
                    .append(actual[a] - expected[a]);
            }
        }
        return b.length() == 0 ? "none" : b.toString();
    }
}
