package dev.fusion.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Test support: hosts on one machine, each a Linux network namespace with one address on a shared bridge
 * (10.&lt;x&gt;.&lt;y&gt;.1, .2, ...), so that a test can cut one host off the others and heal it again, as a
 * partition would. Needs root and iproute2; {@link #available()} tells whether this machine can.
 */
public final class NetworkNamespaces implements AutoCloseable
{
    private final String tag;
    private final String subnet;
    private final int count;
    private boolean closed;

    private NetworkNamespaces(final String tag, final String subnet, final int count)
    {
        this.tag = tag;
        this.subnet = subnet;
        this.count = count;
    }

    /** @return whether namespaces can be made here (root, iproute2). */
    public static boolean available()
    {
        try
        {
            return run(false, "ip", "netns", "list") && "0".equals(output("id", "-u").trim());
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /**
     * Makes the hosts.
     *
     * @param count how many.
     * @return the hosts, connected.
     * @throws IOException when a command fails (what is made so far is removed).
     */
    public static NetworkNamespaces create(final int count) throws IOException
    {
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        final String tag = Integer.toHexString(0x1000 + random.nextInt(0xEFFF));
        final NetworkNamespaces hosts = new NetworkNamespaces(tag,
            "10." + random.nextInt(100, 250) + "." + random.nextInt(1, 250), count);
        try
        {
            hosts.make();
            return hosts;
        }
        catch (final IOException | RuntimeException ex)
        {
            hosts.close();
            throw ex;
        }
    }

    private void make() throws IOException
    {
        must("ip", "link", "add", bridge(), "type", "bridge");
        must("ip", "link", "set", bridge(), "up");
        for (int i = 1; i <= count; i++)
        {
            must("ip", "netns", "add", namespace(i));
            must("ip", "link", "add", outside(i), "type", "veth", "peer", "name", inside(i));
            must("ip", "link", "set", inside(i), "netns", namespace(i));
            must("ip", "link", "set", outside(i), "master", bridge());
            must("ip", "link", "set", outside(i), "up");
            must("ip", "netns", "exec", namespace(i), "ip", "addr", "add", host(i) + "/24", "dev", inside(i));
            must("ip", "netns", "exec", namespace(i), "ip", "link", "set", inside(i), "up");
            must("ip", "netns", "exec", namespace(i), "ip", "link", "set", "lo", "up");
        }
    }

    /**
     * @param i 1-based host number.
     * @return its address.
     */
    public String host(final int i)
    {
        return subnet + "." + i;
    }

    /**
     * @param i 1-based host number.
     * @return the command prefix that runs a program on that host.
     */
    public List<String> prefix(final int i)
    {
        return List.of("ip", "netns", "exec", namespace(i));
    }

    /**
     * Cuts a host off the others (its link to the bridge goes down).
     *
     * @param i 1-based host number.
     * @throws IOException when the command fails.
     */
    public void cut(final int i) throws IOException
    {
        must("ip", "link", "set", outside(i), "down");
    }

    /**
     * Connects a cut host again.
     *
     * @param i 1-based host number.
     * @throws IOException when the command fails.
     */
    public void heal(final int i) throws IOException
    {
        must("ip", "link", "set", outside(i), "up");
    }

    private String namespace(final int i)
    {
        return "fusion-" + tag + "-" + i;
    }

    private String bridge()
    {
        return "fb" + tag;
    }

    private String outside(final int i)
    {
        return "fo" + tag + i;
    }

    private String inside(final int i)
    {
        return "fi" + tag + i;
    }

    /** Removes the namespaces (their links go with them) and the bridge. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (int i = 1; i <= count; i++)
        {
            try
            {
                run(false, "ip", "link", "del", outside(i));
                run(false, "ip", "netns", "del", namespace(i));
            }
            catch (final IOException ignore)
            {
                // best effort
            }
        }
        try
        {
            run(false, "ip", "link", "del", bridge());
        }
        catch (final IOException ignore)
        {
            // best effort
        }
    }

    private static void must(final String... command) throws IOException
    {
        if (!run(true, command))
        {
            throw new IOException("failed: " + String.join(" ", command));
        }
    }

    private static boolean run(final boolean log, final String... command) throws IOException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS))
            {
                p.destroyForcibly();
                return false;
            }
            if (p.exitValue() != 0 && log)
            {
                System.err.println(String.join(" ", command) + ": " + out.trim());
            }
            return p.exitValue() == 0;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), ex);
        }
    }

    private static String output(final String... command) throws IOException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** @return the hosts' addresses, 1-based order. */
    public List<String> hosts()
    {
        final List<String> hosts = new ArrayList<>();
        for (int i = 1; i <= count; i++)
        {
            hosts.add(host(i));
        }
        return hosts;
    }
}
