package dev.fusion.cluster;

import dev.fusion.cluster.quorum.QuorumMember;
import org.agrona.CloseHelper;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * A local cluster: N nodes on loopback in this JVM, each with its own embedded media driver, on UDP ports
 * that were free when it started. What the demo, the scenario benchmarks and the tests run on.
 */
public final class LocalCluster implements AutoCloseable
{
    private final List<ClusterNode> nodes = new ArrayList<>();
    private final List<ClusterConfig> configs = new ArrayList<>();
    private final List<QuorumMember> witnesses = new ArrayList<>();

    private LocalCluster()
    {
    }

    /**
     * @param size      how many nodes.
     * @param customize adjusts each node's builder (ids 1..size are set already).
     * @return the started cluster.
     */
    public static LocalCluster start(final int size, final UnaryOperator<ClusterConfig.Builder> customize)
    {
        return start(size, false, customize);
    }

    /**
     * @param size         how many nodes.
     * @param sharedDriver true to run one embedded media driver (node 1's) for all nodes: fewer busy threads
     *                     on a small machine; false to give each node its own, as on separate machines.
     * @param customize    adjusts each node's builder (ids 1..size are set already).
     * @return the started cluster.
     */
    public static LocalCluster start(
        final int size, final boolean sharedDriver, final UnaryOperator<ClusterConfig.Builder> customize)
    {
        return launch(size, sharedDriver, false, customize);
    }

    /**
     * A cluster whose membership is decided by a quorum of three voters run by nodes 1..3 (with fewer nodes,
     * witnesses in this JVM make up the three); this returns once each node holds its lease.
     *
     * @param size      how many nodes.
     * @param customize adjusts each node's builder (ids, members and voters are set already).
     * @return the started cluster.
     */
    public static LocalCluster startWithQuorum(final int size, final UnaryOperator<ClusterConfig.Builder> customize)
    {
        return start(size, false, true, customize);
    }

    /**
     * @param size         how many nodes; with a quorum and fewer than 3 nodes, witnesses make up the three voters.
     * @param sharedDriver true to run one embedded media driver (node 1's) for all nodes' transports.
     * @param quorum       true: membership decided by a quorum of three voters run by nodes 1..3 (this returns once
     *                     each node holds its lease); false: each node decides alone.
     * @param customize    adjusts each node's builder (ids, members and voters are set already).
     * @return the started cluster.
     */
    public static LocalCluster start(
        final int size,
        final boolean sharedDriver,
        final boolean quorum,
        final UnaryOperator<ClusterConfig.Builder> customize)
    {
        final LocalCluster cluster = launch(size, sharedDriver, quorum, customize);
        for (final ClusterNode node : cluster.nodes)
        {
            if (quorum && !node.awaitLease(30_000))
            {
                cluster.close();
                throw new IllegalStateException("node " + node.nodeId() + " got no lease from the quorum in 30 s");
            }
        }
        return cluster;
    }

    private static LocalCluster launch(
        final int size,
        final boolean sharedDriver,
        final boolean quorum,
        final UnaryOperator<ClusterConfig.Builder> customize)
    {
        final LocalCluster cluster = new LocalCluster();
        try
        {
            // one search, so that no member's ports overlap a voter's
            final int[] found = quorum ? freeUdpPorts(size + 3, 5) : freeUdpPorts(size);
            final int[] ports = java.util.Arrays.copyOf(found, size);
            final int[] voterPorts = java.util.Arrays.copyOfRange(found, size, found.length);
            final String sharedDirectory = ClusterNode.defaultAeronDirectory(0);
            for (int i = 1; i <= size; i++)
            {
                final ClusterConfig.Builder b = smallMachineDefaults(ClusterConfig.builder().nodeId(i));
                for (int j = 1; j <= size; j++)
                {
                    b.member(j, "127.0.0.1", ports[j - 1]);
                }
                for (int v = 1; v <= voterPorts.length; v++)
                {
                    b.voter(v, "127.0.0.1", voterPorts[v - 1]);
                }
                if (sharedDriver)
                {
                    b.aeronDirectory(sharedDirectory).embeddedMediaDriver(i == 1);
                }
                // a harness on one machine: two nodes without a quorum decide membership alone
                b.favourAvailability(!quorum);
                cluster.configs.add(customize.apply(b).build());
            }
            for (int v = size + 1; v <= voterPorts.length; v++)
            {
                // fewer than three nodes: the other voters are witnesses
                final ClusterConfig.Builder b = smallMachineDefaults(ClusterConfig.builder().nodeId(v));
                for (int j = 1; j <= size; j++)
                {
                    b.member(j, "127.0.0.1", ports[j - 1]);
                }
                for (int w = 1; w <= voterPorts.length; w++)
                {
                    b.voter(w, "127.0.0.1", voterPorts[w - 1]);
                }
                cluster.witnesses.add(QuorumMember.launch(customize.apply(b).build(), v));
            }
            for (final ClusterConfig config : cluster.configs)
            {
                cluster.nodes.add(ClusterNode.start(config));
            }
            return cluster;
        }
        catch (final RuntimeException ex)
        {
            cluster.close();
            throw ex;
        }
    }

    private static final int FIXED_PORTS_FROM = 10_000;

    /** @return the lowest ephemeral port (Linux's ip_local_port_range), or 0 when unknown. */
    private static int ephemeralLow()
    {
        // read line by line: Files.readAllBytes trusts the size a /proc file reports and returned "3" here
        try (java.io.BufferedReader reader = java.nio.file.Files.newBufferedReader(
            java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range")))
        {
            final String range = reader.readLine();
            return null == range ? 0 : Integer.parseInt(range.trim().split("\\s+")[0]);
        }
        catch (final IOException | RuntimeException ex)
        {
            return 0;
        }
    }

    /**
     * Small terms, 16 KiB batches and short failure-detector timeouts: what a small machine running several
     * nodes wants.
     *
     * @param b a builder.
     * @return the builder.
     */
    public static ClusterConfig.Builder smallMachineDefaults(final ClusterConfig.Builder b)
    {
        return b.controlTermLength(256 << 10)
            .bulkTermLength(2 << 20)
            .controlQueueBytes(256 << 10)
            .bulkQueueBytes(1 << 20)
            .maxMessageLength(64 << 10)
            .maxBatchBytes(16 << 10)
            .heartbeatIntervalMs(50)
            .suspectTimeoutMs(300)
            .deadTimeoutMs(1500)
            .idleMaxParkUs(200);
    }

    /**
     * Ports are picked below the kernel's ephemeral range when it leaves room: a port the OS handed out as
     * ephemeral and took back may be handed out again, to a publication's sending socket of a node started a
     * moment earlier, before the node it was picked for binds it ("Address already in use").
     *
     * @param count how many.
     * @return distinct UDP ports p that were free a moment ago, with p + 1 free too (a member's bulk port).
     */
    public static int[] freeUdpPorts(final int count)
    {
        return freeUdpPorts(count, 2);
    }

    /**
     * @param count how many.
     * @param width how many consecutive ports each needs (a member: 2; a quorum voter: 5).
     * @return distinct UDP ports p that were free a moment ago, with p + 1 .. p + width - 1 free too.
     */
    public static int[] freeUdpPorts(final int count, final int width)
    {
        final DatagramSocket[] sockets = new DatagramSocket[count * width];
        final int ephemeralLow = ephemeralLow();
        final java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        try
        {
            final int[] ports = new int[count];
            int found = 0;
            for (int attempt = 0; found < count && attempt < 1000; attempt++)
            {
                final DatagramSocket control;
                try
                {
                    control = new DatagramSocket(ephemeralLow > FIXED_PORTS_FROM + 1000 ?
                        random.nextInt(FIXED_PORTS_FROM, ephemeralLow - 1) : 0, InetAddress.getLoopbackAddress());
                }
                catch (final IOException busy)
                {
                    continue;
                }
                final int port = control.getLocalPort();
                if (port > 65535 - width + 1)
                {
                    control.close();
                    continue;
                }
                sockets[width * found] = control;
                boolean free = true;
                for (int k = 1; k < width && free; k++)
                {
                    try
                    {
                        sockets[width * found + k] = new DatagramSocket(port + k, InetAddress.getLoopbackAddress());
                    }
                    catch (final IOException busy)
                    {
                        free = false;
                    }
                }
                if (!free)
                {
                    for (int k = 0; k < width; k++)
                    {
                        CloseHelper.quietClose(sockets[width * found + k]);
                        sockets[width * found + k] = null;
                    }
                    continue;
                }
                ports[found++] = port;
            }
            if (found < count)
            {
                throw new IllegalStateException("could not find " + count + " free UDP port pairs on loopback");
            }
            return ports;
        }
        finally
        {
            for (final DatagramSocket socket : sockets)
            {
                if (null != socket)
                {
                    socket.close();
                }
            }
        }
    }

    /**
     * @param id 1-based node id.
     * @return the node.
     */
    public ClusterNode node(final int id)
    {
        return nodes.get(id - 1);
    }

    /**
     * Closes one node, as a crash would look to the others: it stops sending heartbeats.
     *
     * @param id 1-based node id.
     */
    public void stop(final int id)
    {
        nodes.get(id - 1).close();
    }

    /**
     * Starts a stopped node again with its configuration: a new process would look like this to the others, a new
     * incarnation that joins as a new member.
     *
     * @param id 1-based node id.
     * @return the new node.
     */
    public ClusterNode restart(final int id)
    {
        final ClusterNode node = ClusterNode.start(configs.get(id - 1));
        nodes.set(id - 1, node);
        return node;
    }

    /** @return the nodes in id order. */
    public List<ClusterNode> nodes()
    {
        return nodes;
    }

    /**
     * Waits until every node sees every other as alive.
     *
     * @param timeout how long at most.
     */
    public void awaitFullView(final Duration timeout)
    {
        await(() -> nodes.stream().allMatch(n -> n.view().members().size() == nodes.size()), timeout,
            "every node to see all " + nodes.size() + " members");
    }

    /**
     * Polls a condition, sleeping between tries.
     *
     * @param condition what to wait for.
     * @param timeout   how long at most.
     * @param what      described in the failure.
     */
    public static void await(final BooleanSupplier condition, final Duration timeout, final String what)
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try
            {
                Thread.sleep(5);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
    }

    /** Closes the nodes in reverse order, so a shared driver (node 1's) goes last. */
    @Override
    public void close()
    {
        for (int i = nodes.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(nodes.get(i));
        }
        CloseHelper.quietCloseAll(witnesses);
    }
}
