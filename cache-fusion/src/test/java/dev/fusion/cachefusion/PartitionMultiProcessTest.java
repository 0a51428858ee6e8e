package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NetworkNamespaces;
import dev.fusion.cluster.NodeConfigFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The bank on three JVM processes, each on a host of its own (a network namespace on a shared bridge), over one
 * shared disk, with membership decided by the quorum the three run. Node 3's link is cut for longer than the time
 * after which a silent node is declared dead, under load, then healed. Node 3 loses its lease and fences itself
 * before the majority declares it dead and recovers its pages; whatever it tries to write afterwards is refused;
 * the survivors go on. After the heal node 3 learns it was declared dead, drops its cache, rejoins as a new
 * incarnation without a restart and transfers again; at the end the disk holds exactly the acknowledged transfers.
 * <p>
 * {@code -Dfusion.test.membership=local} runs the same scenario with each node deciding membership alone: how every
 * node behaved before the quorum existed. Needs root and iproute2 (CI runs as root); skipped elsewhere.
 */
class PartitionMultiProcessTest
{
    private static final int PAGES = 12;
    private static final long LEASE_MS = 3000;
    private static final long MARGIN_MS = 500;
    /** Twice the time after which a silent node is declared dead. */
    private static final long CUT_MS = 2 * (LEASE_MS + MARGIN_MS);

    @Test
    void aMinorityCutOffPastTheDeadTimeoutLandsNoWriteAfterItsLeaseRanOut(@TempDir final Path dir) throws Exception
    {
        assumeTrue(NetworkNamespaces.available(), "needs root and iproute2 for network namespaces");
        final boolean quorum = !"local".equals(System.getProperty("fusion.test.membership"));
        final Path shared = dir.resolve("shared");
        SharedDisk.format(shared, PAGES, FusionCluster.OPENING_BALANCE).close();
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try (NetworkNamespaces hosts = NetworkNamespaces.create(3))
        {
            final NodeConfigFiles configs = quorum ?
                NodeConfigFiles.withQuorum(dir, hosts.hosts(), 1500, "idleMaxParkUs=200", "leaseMs=" + LEASE_MS,
                    "leaseMarginMs=" + MARGIN_MS, "leaseRenewIntervalMs=100") :
                NodeConfigFiles.local(dir, hosts.hosts(), LEASE_MS + MARGIN_MS, "idleMaxParkUs=200");
            try
            {
                BankProcess.startAll(hosts::prefix, configs, 3, shared, PAGES, id -> id == 3 ? 25 : 15, processes,
                    output);
                final List<String> three = output.get(2);
                LocalCluster.await(() -> three.stream().filter(l -> l.startsWith("A ")).count() > 100,
                    Duration.ofSeconds(30), "node 3 transferring");

                hosts.cut(3);
                Thread.sleep(CUT_MS);
                final int linesBeforeHeal = three.size();
                hosts.heal(3);

                for (int i = 0; i < 3; i++)
                {
                    final List<String> lines = output.get(i);
                    LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("LEASE")),
                        Duration.ofSeconds(120), "node " + (i + 1) + " to finish: " + BankLedger.tail(lines));
                }
                for (int i = 0; i < 3; i++)
                {
                    final List<String> lines = output.get(i);
                    System.out.println("node " + (i + 1) + ": " +
                        lines.stream().filter(l -> l.startsWith("A ")).count() + " acknowledged, " +
                        lines.stream().filter(l -> l.startsWith("X ")).count() + " failed; " + BankLedger.tail(lines));
                }
                for (int i = 0; i < 2; i++)
                {
                    assertThat(output.get(i)).as("survivor %d checkpointed", i + 1)
                        .anyMatch(l -> l.startsWith("CHECKPOINTED"));
                }
                BankLedger.keep(getClass().getSimpleName(), output);
                final BankLedger ledger = new BankLedger(PAGES, output, 2);
                final long[] actual = BankLedger.onDisk(shared, PAGES);
                assertThat(Arrays.stream(actual).sum()).as("money on disk; differences:%s", ledger.differences(actual))
                    .isEqualTo(Arrays.stream(ledger.expected()).sum());
                assertThat(ledger.explains(actual)).as("the disk holds every acknowledged transfer (differences:" + ledger.differences(actual) + ") and nothing " +
                    "else; node 1: %s; node 3: %s", BankLedger.tail(output.get(0)), BankLedger.tail(three)).isTrue();
                if (quorum)
                {
                    BankLedger.assertFencedThenRejoined(three, linesBeforeHeal);
                }
            }
            finally
            {
                JvmProcess.stopAll(processes);
                configs.deleteAeronDirectories();
            }
        }
    }
}
