package dev.fusion.bench.failover;

import dev.fusion.bench.JsonLine;
import dev.fusion.bench.JvmFlags;
import dev.fusion.cachefusion.reference.SharedDisk;
import dev.fusion.cluster.LocalCluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.fusion.bench.Stats.log;

/**
 * {@code ./fusion bench failover}: the time from a node's death to service resuming on the survivors, with the
 * default lease timing. Each round starts three bank processes on loopback ({@link BankNode}, membership by the
 * quorum they run, writes fenced), lets them transfer, and kills node 3 with SIGKILL; each survivor soon waits for
 * a page node 3 held. The round's figure is the time from the kill to the end of the last survivor transfer that
 * was waiting at or after the kill: the quorum declares node 3 dead once its lease and the margin have passed, and
 * the survivors rebuild the directory and recover its pages.
 */
public final class FailoverScenario
{
    /** Kills; each round takes 15-20 s. */
    public static final int DEFAULT_KILLS = 10;
    private static final int PAGES = 12;

    private final int kills;

    /**
     * @param kills how many rounds.
     */
    public FailoverScenario(final int kills)
    {
        this.kills = kills;
    }

    /**
     * @throws Exception when a round fails.
     */
    public void run() throws Exception
    {
        final JsonLine json = new JsonLine("failover");
        log("failover: %d rounds of 3 bank processes (quorum membership, default lease %d ms + margin %d ms), node 3 " +
            "SIGKILLed", kills, 3000, 1000);
        final List<Double> resumeMs = new ArrayList<>();
        for (int round = 1; round <= kills; round++)
        {
            final double ms = round();
            resumeMs.add(ms);
            log("  round %d: service resumed %.0f ms after the kill", round, ms);
        }
        Collections.sort(resumeMs);
        json.put("kills", kills);
        json.put("resume_after_kill_p50_ms", resumeMs.get((resumeMs.size() - 1) / 2));
        json.put("resume_after_kill_max_ms", resumeMs.get(resumeMs.size() - 1));
        json.put("lease_ms", 3000);
        json.put("lease_margin_ms", 1000);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(json);
    }

    private double round() throws Exception
    {
        final Path dir = Files.createTempDirectory("fusion-bench-failover");
        final Path shared = dir.resolve("shared");
        SharedDisk.format(shared, PAGES, 1_000).close();
        final int[] found = LocalCluster.freeUdpPorts(6, 5);
        final List<Process> processes = new ArrayList<>();
        final List<List<String>> output = new ArrayList<>();
        try
        {
            for (int id = 1; id <= 3; id++)
            {
                final List<String> lines = new ArrayList<>(List.of("nodeId=" + id,
                    "members=1@127.0.0.1:" + found[0] + ",2@127.0.0.1:" + found[1] + ",3@127.0.0.1:" + found[2],
                    "voters=1@127.0.0.1:" + found[3] + ",2@127.0.0.1:" + found[4] + ",3@127.0.0.1:" + found[5],
                    "quorumDirectory=" + dir.resolve("quorum"), "controlTermLength=256k", "bulkTermLength=2m",
                    "bulkQueueBytes=1m", "maxMessageLength=64k", "maxBatchBytes=16k", "idleMaxParkUs=200"));
                final Path file = dir.resolve("node" + id + ".properties");
                Files.write(file, lines);
                final List<String> out = new CopyOnWriteArrayList<>();
                output.add(out);
                processes.add(start(List.of(file.toString(), shared.toString(), String.valueOf(PAGES)), out));
            }
            for (final List<String> out : output)
            {
                await(out, "READY", 60);
            }
            Thread.sleep(2000);
            final long killNs = System.nanoTime();
            processes.get(2).destroyForcibly();
            processes.get(2).waitFor(10, TimeUnit.SECONDS);
            Thread.sleep(12_000);
            long lastEnd = killNs;
            for (int i = 0; i < 2; i++)
            {
                for (final String line : output.get(i))
                {
                    if (line.startsWith("SLOW "))
                    {
                        final String[] f = line.split(" ");
                        final long end = Long.parseLong(f[2]);
                        if (end > killNs)
                        {
                            lastEnd = Math.max(lastEnd, end);
                        }
                    }
                }
            }
            return (lastEnd - killNs) / 1e6;
        }
        finally
        {
            for (final Process p : processes)
            {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            try (var files = Files.walk(dir))
            {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void await(final List<String> lines, final String prefix, final int seconds)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (lines.stream().noneMatch(l -> l.startsWith(prefix)))
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException("a bank node did not print " + prefix + " in " + seconds + " s: " +
                    lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            }
            Thread.sleep(10);
        }
    }

    private static Process start(final List<String> args, final List<String> lines) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx256m");
        command.addAll(JvmFlags.get());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(BankNode.class.getName());
        command.addAll(args);
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final Thread reader = new Thread(() ->
        {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = in.readLine()) != null)
                {
                    lines.add(line);
                }
            }
            catch (final IOException ignore)
            {
                // the process ended
            }
        }, "failover-output");
        reader.setDaemon(true);
        reader.start();
        return process;
    }
}
