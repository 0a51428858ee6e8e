package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NodeConfigFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bank on three JVM processes over one shared disk, with membership decided by the quorum the three run. Node 3
 * is stopped with SIGSTOP for twice the time after which the quorum declares a silent node dead, while it holds
 * EXCLUSIVE pages, then continued. Its lease ran out during the pause, the survivors recovered its pages, and the
 * disk refuses whatever it still tries to write. It learns it was declared dead, drops its cache, rejoins as a new
 * incarnation without a restart and transfers again; at the end the disk holds exactly the acknowledged transfers.
 * <p>
 * {@code -Dfusion.test.membership=local} runs the same scenario with each node deciding membership alone (no
 * quorum, no fencing): how every node behaved before the quorum existed.
 */
class LeaseFencingMultiProcessTest
{
    private static final int PAGES = 12;
    private static final long LEASE_MS = 3000;
    private static final long MARGIN_MS = 500;
    /** Twice the time after which a silent node is declared dead. */
    private static final long PAUSE_MS = 2 * (LEASE_MS + MARGIN_MS);

    @Test
    void aNodePausedForTwiceTheDeadTimeoutLandsNoWriteAfterItsLeaseRanOut(@TempDir final Path dir) throws Exception
    {
        final boolean quorum = !"local".equals(System.getProperty("fusion.test.membership"));
        final Path shared = dir.resolve("shared");
        SharedDisk.format(shared, PAGES, FusionCluster.OPENING_BALANCE).close();
        final String[] settings = {"idleMaxParkUs=200", "leaseMs=" + LEASE_MS, "leaseMarginMs=" + MARGIN_MS,
            "leaseRenewIntervalMs=100"};
        final NodeConfigFiles configs = quorum ? NodeConfigFiles.withQuorum(dir, 3, 1500, settings) :
            new NodeConfigFiles(dir, 3, LEASE_MS + MARGIN_MS, "idleMaxParkUs=200");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            BankProcess.startAll(id -> List.of(), configs, 3, shared, PAGES, id -> id == 3 ? 25 : 15, processes,
                output);
            final List<String> three = output.get(2);
            LocalCluster.await(() -> three.stream().filter(l -> l.startsWith("A ")).count() > 100,
                Duration.ofSeconds(30), "node 3 transferring");

            signal("STOP", processes.get(2));
            Thread.sleep(PAUSE_MS);
            final int linesBeforeContinue = three.size();
            signal("CONT", processes.get(2));

            for (int i = 0; i < 3; i++)
            {
                final List<String> lines = output.get(i);
                LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("LEASE")),
                    Duration.ofSeconds(90), "node " + (i + 1) + " to finish: " + BankLedger.tail(lines));
            }
            for (int i = 0; i < 2; i++)
            {
                assertThat(output.get(i)).as("survivor %d checkpointed", i + 1)
                    .anyMatch(l -> l.startsWith("CHECKPOINTED"));
            }

            for (int i = 0; i < 3; i++)
            {
                final List<String> lines = output.get(i);
                System.out.println("node " + (i + 1) + ": " + lines.stream().filter(l -> l.startsWith("A ")).count() +
                    " acknowledged, " + lines.stream().filter(l -> l.startsWith("X ")).count() + " failed; " +
                    BankLedger.tail(lines));
            }
            BankLedger.keep(getClass().getSimpleName(), output);
            final BankLedger ledger = new BankLedger(PAGES, output, 2);
            final long[] actual = BankLedger.onDisk(shared, PAGES);
            assertThat(Arrays.stream(actual).sum()).as("money on disk; differences:%s", ledger.differences(actual))
                .isEqualTo(Arrays.stream(ledger.expected()).sum());
            assertThat(ledger.explains(actual)).as("the disk holds every acknowledged transfer and nothing else (differences:" +
                    ledger.differences(actual) + "); " +
                "node 1: %s; node 3: %s", BankLedger.tail(output.get(0)), BankLedger.tail(three)).isTrue();
            if (quorum)
            {
                BankLedger.assertFencedThenRejoined(three, linesBeforeContinue);
            }
        }
        finally
        {
            for (final Process p : processes)
            {
                signal("CONT", p);
            }
            JvmProcess.stopAll(processes);
            configs.deleteAeronDirectories();
        }
    }

    private static void signal(final String signal, final Process process) throws IOException, InterruptedException
    {
        if (process.isAlive())
        {
            new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).inheritIO().start().waitFor();
        }
    }
}
