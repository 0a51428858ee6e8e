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
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = new CopyOnWriteArrayList<>();
                output.add(lines);
                processes.add(start(configs.file(id), id == 3 ? 60 : 8, id, lines));
            }
            for (int i = 0; i < 3; i++)
            {
                final List<String> lines = output.get(i);
                LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("READY")), Duration.ofSeconds(60),
                    "node to be ready: " + lines);
            }
            Thread.sleep(2000);
            final long killedAt = System.nanoTime();
            processes.get(2).destroyForcibly();
            assertThat(processes.get(2).waitFor(10, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 2; i++)
            {
                assertThat(processes.get(i).waitFor(60, TimeUnit.SECONDS)).as("survivor finishes").isTrue();
                final List<String> lines = output.get(i);
                LocalCluster.await(() -> lines.stream().anyMatch(l -> l.startsWith("DONE")), Duration.ofSeconds(5),
                    "DONE from a survivor: " + lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            }

            final List<long[]> events = new ArrayList<>();
            for (int i = 0; i < 3; i++)
            {
                for (final String line : output.get(i))
                {
                    if (line.startsWith("E "))
                    {
                        final String[] f = line.split(" ");
                        events.add(new long[]{Long.parseLong(f[1]), i + 1, "G".equals(f[2]) ? 1 : 0,
                            Long.parseLong(f[3]), LockMode.valueOf(f[4]).ordinal()});
                    }
                }
            }
            // SIGKILL lands a moment after killedAt, and node 3 may grant in between: it died after its last event
            long diedAt = killedAt;
            for (final long[] e : events)
            {
                if (e[1] == 3)
                {
                    diedAt = Math.max(diedAt, e[0] + 1);
                }
            }
            events.add(new long[]{diedAt, 3, -1, 0, 0});
            events.sort(Comparator.comparingLong(e -> e[0]));
            final HolderInvariant invariant = new HolderInvariant();
            long survivorGrantsAfterDeath = 0;
            for (final long[] e : events)
            {
                if (e[2] == -1)
                {
                    invariant.nodeDied(3);
                }
                else if (e[2] == 1)
                {
                    invariant.granted(e[3], (int)e[1], LockMode.values()[(int)e[4]]);
                    if (e[0] > killedAt + TimeUnit.MILLISECONDS.toNanos(DEAD_TIMEOUT_MS) && e[1] != 3)
                    {
                        survivorGrantsAfterDeath++;
                    }
                }
                else
                {
                    invariant.releasing(e[3], (int)e[1], LockMode.NULL);
                }
            }
            System.out.println("multi-process run: " + diagnostics(output));
            assertThat(events.size()).as("events recorded").isGreaterThan(200);
            assertThat(invariant.violations()).as(String.valueOf(invariant.firstViolation())).isZero();
            assertThat(survivorGrantsAfterDeath).as("survivors granted after node 3 was declared dead").isPositive();
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
