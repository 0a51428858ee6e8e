package dev.fusion.grd;

import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.NodeConfigFiles;
import dev.fusion.cluster.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three directory nodes as separate JVM processes; node 3 is killed with SIGKILL mid-run. The grant and release
 * events of all processes, merged on the machine's monotonic clock, never show incompatible holders, and the
 * survivors keep granting after the reconfiguration.
 */
class GrdMultiProcessTest
{
    private static final long DEAD_TIMEOUT_MS = 1500;

    @Test
    void killingANodeUnderLoadNeverGrantsIncompatibleModes(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles configs = new NodeConfigFiles(dir, 3, DEAD_TIMEOUT_MS, "idleMaxParkUs=200");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            final long killedAt = startThenKillNode3(configs, 8, processes, output);
            awaitDone(processes, output, 0, 1);

            final long[] survivorGrantsAfterDeath = new long[1];
            final HolderInvariant invariant = replay(output, new int[]{1, 2, 3}, killedAt, -1, survivorGrantsAfterDeath);
            System.out.println("multi-process run: " + diagnostics(output));
            assertThat(invariant.violations()).as(String.valueOf(invariant.firstViolation())).isZero();
            assertThat(survivorGrantsAfterDeath[0]).as("survivors granted after node 3 was declared dead").isPositive();
            for (int i = 0; i < 2; i++)
            {
                assertThat(output.get(i)).as("no failures on survivors; what they said: %s", diagnostics(output))
                    .anyMatch(l -> l.startsWith("DONE") && l.endsWith("failures=0"));
            }
        }
        finally
        {
            JvmProcess.stopAll(processes);
            configs.deleteAeronDirectories();
        }
    }

    /**
     * Merges every process's grant and release events on the machine's monotonic clock and replays them against
     * the holder invariant; node 3's first process dies after its last event (SIGKILL lands a moment after
     * {@code killedAt}), and a restarted node 3 (a later process in {@code output}) starts clean.
     *
     * @param output       each process's lines.
     * @param nodeIds      each process's node id.
     * @param killedAt     when node 3's first process was killed.
     * @param restartIndex the index of the restarted node 3's process, or -1.
     * @param survivorGrantsAfterDeath filled with grants by other nodes after node 3 was declared dead.
     * @return the invariant after the replay.
     */
    private static HolderInvariant replay(final List<List<String>> output, final int[] nodeIds, final long killedAt,
        final int restartIndex, final long[] survivorGrantsAfterDeath)
    {
        final List<long[]> events = new ArrayList<>();
        long diedAt = killedAt;
        for (int i = 0; i < output.size(); i++)
        {
            for (final String line : output.get(i))
            {
                if (line.startsWith("E "))
                {
                    final String[] f = line.split(" ");
                    final long[] e = {Long.parseLong(f[1]), nodeIds[i], "G".equals(f[2]) ? 1 : 0,
                        Long.parseLong(f[3]), LockMode.valueOf(f[4]).ordinal()};
                    events.add(e);
                    if (nodeIds[i] == 3 && i != restartIndex)
                    {
                        diedAt = Math.max(diedAt, e[0] + 1);
                    }
                }
            }
        }
        assertThat(events.size()).as("events recorded").isGreaterThan(200);
        events.add(new long[]{diedAt, 3, -1, 0, 0});
        events.sort(Comparator.comparingLong(e -> e[0]));
        final HolderInvariant invariant = new HolderInvariant();
        for (final long[] e : events)
        {
            if (e[2] == -1)
            {
                invariant.nodeDied(3);
                invariant.revived(3); // node 3's later events are its restarted incarnation's
            }
            else if (e[2] == 1)
            {
                invariant.granted(e[3], (int)e[1], LockMode.values()[(int)e[4]]);
                if (e[0] > killedAt + TimeUnit.MILLISECONDS.toNanos(DEAD_TIMEOUT_MS) && e[1] != 3)
                {
                    survivorGrantsAfterDeath[0]++;
                }
            }
            else
            {
                invariant.releasing(e[3], (int)e[1], LockMode.NULL);
            }
        }
        return invariant;
    }

    @Test
    void aNodeKilledUnderLoadAndRestartedJoinsWithoutIncompatibleGrants(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles configs = new NodeConfigFiles(dir, 3, DEAD_TIMEOUT_MS, "idleMaxParkUs=200");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            final long killedAt = startThenKillNode3(configs, 20, processes, output);
            Thread.sleep(DEAD_TIMEOUT_MS + 1000);
            // node 3 again, a new process: it must get its share of the directory back from the survivors (and
            // the moves made meanwhile) before it grants anything
            final List<String> restarted = new CopyOnWriteArrayList<>();
            output.add(restarted);
            processes.add(start(configs.file(3), 5, 33, restarted));
            awaitDone(processes, output, 3, 0, 1);
            final long[] survivorGrantsAfterDeath = new long[1];
            final HolderInvariant invariant = replay(output, new int[]{1, 2, 3, 3}, killedAt, 3,
                survivorGrantsAfterDeath);
            System.out.println("multi-process restart run: " + diagnostics(output));
            assertThat(invariant.violations()).as(String.valueOf(invariant.firstViolation())).isZero();
            assertThat(survivorGrantsAfterDeath[0]).as("survivors granted after node 3 was declared dead").isPositive();
            for (final int i : new int[]{0, 1, 3})
            {
                assertThat(output.get(i)).as("no failures on node %d; what they said: %s", i == 3 ? 3 : i + 1,
                    diagnostics(output)).anyMatch(l -> l.startsWith("DONE") && l.endsWith("failures=0"));
            }
            assertThat(restarted).as("the restarted node was granted").anyMatch(l -> l.startsWith("E ") &&
                l.contains(" G "));
        }
        finally
        {
            JvmProcess.stopAll(processes);
            configs.deleteAeronDirectories();
        }
    }

    /**
     * Starts nodes 1 and 2 (running {@code survivorSeconds}) and node 3 as processes, waits until all are ready,
     * lets them work for 2 s, then SIGKILLs node 3.
     *
     * @return when node 3 was killed.
     */
    private static long startThenKillNode3(final NodeConfigFiles configs, final int survivorSeconds,
        final List<Process> processes, final List<List<String>> output) throws Exception
    {
        for (int id = 1; id <= 3; id++)
        {
            final List<String> lines = new CopyOnWriteArrayList<>();
            output.add(lines);
            processes.add(start(configs.file(id), id == 3 ? 60 : survivorSeconds, id, lines));
        }
        for (final List<String> lines : output)
        {
            LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("READY")), Duration.ofSeconds(60),
                "node to be ready: " + lines);
        }
        Thread.sleep(2000);
        final long killedAt = System.nanoTime();
        processes.get(2).destroyForcibly();
        assertThat(processes.get(2).waitFor(10, TimeUnit.SECONDS)).isTrue();
        return killedAt;
    }

    /** Waits for these processes to finish and print DONE. */
    private static void awaitDone(final List<Process> processes, final List<List<String>> output,
        final int... indexes) throws InterruptedException
    {
        for (final int i : indexes)
        {
            assertThat(processes.get(i).waitFor(60, TimeUnit.SECONDS)).as("process %d finishes", i).isTrue();
            final List<String> lines = output.get(i);
            LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("DONE")), Duration.ofSeconds(5),
                "DONE: " + lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        }
    }

    private static String diagnostics(final List<List<String>> output)
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < output.size(); i++)
        {
            sb.append("\nnode ").append(i + 1).append(":");
            output.get(i).stream().filter(l -> !l.startsWith("E ") && !l.startsWith("Nov ") && !l.contains("Chronicle"))
                .forEach(l -> sb.append("\n  ").append(l));
        }
        return sb.toString();
    }

    private static Process start(final Path config, final int seconds, final int seed, final List<String> lines)
        throws IOException
    {
        return JvmProcess.start(GrdProcess.class, "256m",
            List.of(config.toString(), String.valueOf(seconds), String.valueOf(seed)), lines);
    }
}
