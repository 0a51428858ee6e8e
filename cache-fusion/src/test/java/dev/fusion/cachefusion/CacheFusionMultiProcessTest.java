package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NodeConfigFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bank on three JVM processes over one shared disk; node 3 is killed with SIGKILL mid-run. Its committed
 * transfers are recovered from its redo, the survivors carry on, and at the end the disk holds exactly the
 * acknowledged transfers (plus, possibly, the one node 3 had in flight).
 */
class CacheFusionMultiProcessTest
{
    private static final int PAGES = 12;

    @Test
    void aKilledProcessLosesNoCommittedTransfer(@TempDir final Path dir) throws Exception
    {
        final Path shared = dir.resolve("shared");
        SharedDisk.format(shared, PAGES, FusionCluster.OPENING_BALANCE).close();
        final NodeConfigFiles configs = new NodeConfigFiles(dir, 3, 1500, "idleMaxParkUs=200");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = new CopyOnWriteArrayList<>();
                output.add(lines);
                processes.add(JvmProcess.start(BankProcess.class, "256m", List.of(configs.file(id).toString(),
                    shared.toString(), String.valueOf(PAGES), id == 3 ? "60" : "7"), lines));
            }
            for (final List<String> lines : output)
            {
                LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("READY")), Duration.ofSeconds(60),
                    "node to be ready: " + lines);
            }
            final List<String> three = output.get(2);
            LocalCluster.await(() -> three.stream().filter(l -> l.startsWith("A ")).count() > 100,
                Duration.ofSeconds(30), "node 3 transferring");
            processes.get(2).destroyForcibly();
            assertThat(processes.get(2).waitFor(10, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 2; i++)
            {
                final List<String> lines = output.get(i);
                LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("CHECKPOINTED")),
                    Duration.ofSeconds(60), "a survivor's checkpoint: " + BankLedger.tail(lines));
                assertThat(lines).as("survivor %d failed no transfer", i + 1)
                    .anyMatch(l -> l.startsWith("STOPPED") && l.endsWith("failures=0"));
            }

            final BankLedger ledger = new BankLedger(PAGES, output, 2);
            final long[] actual = BankLedger.onDisk(shared, PAGES);
            assertThat(Arrays.stream(actual).sum()).isEqualTo(Arrays.stream(ledger.expected()).sum());
            assertThat(ledger.explains(actual)).as("the disk holds every acknowledged transfer (node 3 had %s in " +
                "flight); %s", ledger.inFlight(), BankLedger.tail(output.get(0))).isTrue();
        }
        finally
        {
            JvmProcess.stopAll(processes);
            configs.deleteAeronDirectories();
        }
    }
}
