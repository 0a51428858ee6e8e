package dev.fusion.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Test support: runs a main class in a JVM of its own with the test's classpath and the project's JVM flags,
 * and collects its output lines as they come.
 */
public final class JvmProcess
{
    private JvmProcess()
    {
    }

    /**
     * @param main  the class whose main to run.
     * @param heap  the -Xmx value, e.g. "128m".
     * @param args  its arguments.
     * @param lines receives stdout and stderr, line by line.
     * @return the process.
     * @throws IOException when it cannot start.
     */
    public static Process start(final Class<?> main, final String heap, final List<String> args, final List<String> lines)
        throws IOException
    {
        return start(List.of(), main, heap, args, lines);
    }

    /**
     * @param prefix a command the JVM runs under, e.g. {@code ip netns exec NAME} (it must exec the JVM in its own
     *               process, so that the process is the JVM).
     * @param main   the class whose main to run.
     * @param heap   the -Xmx value, e.g. "128m".
     * @param args   its arguments.
     * @param lines  receives stdout and stderr, line by line.
     * @return the process.
     * @throws IOException when it cannot start.
     */
    public static Process start(
        final List<String> prefix, final Class<?> main, final String heap, final List<String> args,
        final List<String> lines) throws IOException
    {
        final List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        command.add("-XX:+UseSerialGC");
        command.addAll(Arrays.asList(System.getProperty("fusion.jvm.flags", "").trim().split("\\s+")));
        command.add("-cp");
        command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        command.add(main.getName());
        command.addAll(args);
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final Thread reader = new Thread(() ->
        {
            try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
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
        }, "output-of-" + main.getSimpleName());
        reader.setDaemon(true);
        reader.start();
        return process;
    }

    /**
     * Kills every process and waits for each to be gone.
     *
     * @param processes the processes.
     * @throws InterruptedException when interrupted while waiting.
     */
    public static void stopAll(final List<Process> processes) throws InterruptedException
    {
        processes.forEach(Process::destroyForcibly);
        for (final Process p : processes)
        {
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /**
     * @param lines  a process's output.
     * @param prefix what the wanted lines start with, e.g. {@code "APPLIED "}.
     * @return the number after the prefix on the last such line, or -1 when there is none.
     */
    public static long lastNumber(final List<String> lines, final String prefix)
    {
        for (int i = lines.size() - 1; i >= 0; i--)
        {
            if (lines.get(i).startsWith(prefix))
            {
                return Long.parseLong(lines.get(i).substring(prefix.length()).trim());
            }
        }
        return -1;
    }

    /** @return the last 10 lines (for failure messages). */
    public static List<String> tail(final List<String> lines)
    {
        return List.copyOf(lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    }
}
