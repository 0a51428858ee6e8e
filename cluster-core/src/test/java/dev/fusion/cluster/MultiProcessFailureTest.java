package dev.fusion.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** Three nodes as separate JVM processes on loopback; one is killed with SIGKILL. */
class MultiProcessFailureTest
{
    private static final Pattern VIEW = Pattern.compile("VIEW node=(\\d+) epoch=(\\d+) members=\\[([0-9, ]*)]");
    private static final long DEAD_TIMEOUT_MS = 1500;

    @Test
    void survivorsMoveToANewEpochWithoutAKilledNode(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles configs = new NodeConfigFiles(dir, 3, DEAD_TIMEOUT_MS, "idleMaxParkUs=1000");
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = new CopyOnWriteArrayList<>();
                output.add(lines);
                processes.add(startNode(configs.file(id), lines));
            }
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = output.get(id - 1);
                LocalCluster.await(() -> lastMembers(lines).equals("1, 2, 3"), Duration.ofSeconds(60),
                    "a node to see all three, output " + lines);
            }
            final long epochBefore1 = lastEpoch(output.get(0));
            final long epochBefore2 = lastEpoch(output.get(1));

            final long killedAt = System.nanoTime();
            processes.get(2).destroyForcibly();
            assertThat(processes.get(2).waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(processes.get(2).exitValue()).as("SIGKILL").isEqualTo(137);

            final Duration allowance = Duration.ofMillis(DEAD_TIMEOUT_MS).plusSeconds(5);
            LocalCluster.await(() -> lastMembers(output.get(0)).equals("1, 2") &&
                lastMembers(output.get(1)).equals("1, 2"), allowance,
                "survivors to drop node 3; outputs " + output.get(0) + " " + output.get(1));
            final long detectedMs = (System.nanoTime() - killedAt) / 1_000_000;
            assertThat(detectedMs).as("detected after at least the dead timeout").isGreaterThanOrEqualTo(
                DEAD_TIMEOUT_MS - 100);
            assertThat(lastEpoch(output.get(0))).isGreaterThan(epochBefore1);
            assertThat(lastEpoch(output.get(1))).isGreaterThan(epochBefore2);
            assertThat(processes.get(0).isAlive()).isTrue();
            assertThat(processes.get(1).isAlive()).isTrue();
        }
        finally
        {
            for (final Process process : processes)
            {
                process.destroy();
            }
            for (final Process process : processes)
            {
                if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS))
                {
                    process.destroyForcibly();
                }
            }
            configs.deleteAeronDirectories();
        }
    }

    private static Process startNode(final Path config, final List<String> lines) throws IOException
    {
        return JvmProcess.start(StandaloneNode.class, "128m", List.of("--config", config.toString()), lines);
    }

    private static String lastMembers(final List<String> lines)
    {
        final Matcher m = lastView(lines);
        return null == m ? "" : m.group(3);
    }

    private static long lastEpoch(final List<String> lines)
    {
        final Matcher m = lastView(lines);
        return null == m ? -1 : Long.parseLong(m.group(2));
    }

    private static Matcher lastView(final List<String> lines)
    {
        Matcher last = null;
        for (final String line : lines)
        {
            final Matcher m = VIEW.matcher(line);
            if (m.find())
            {
                last = m;
            }
        }
        return last;
    }
}
