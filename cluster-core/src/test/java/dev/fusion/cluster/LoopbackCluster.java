package dev.fusion.cluster;

import org.agrona.CloseHelper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/** Test fixture: N nodes on loopback, each with its own embedded media driver, in this JVM. */
public final class LoopbackCluster implements AutoCloseable
{
    private final List<ClusterNode> nodes = new ArrayList<>();
    private final List<ClusterConfig> configs = new ArrayList<>();

    private LoopbackCluster()
    {
    }

    /**
     * @param size      how many nodes.
     * @param customize adjusts each node's builder (ids 1..size are set already).
     * @return the started cluster.
     */
    public static LoopbackCluster start(final int size, final UnaryOperator<ClusterConfig.Builder> customize)
    {
        final LoopbackCluster cluster = new LoopbackCluster();
        try
        {
            final int[] ports = freeUdpPorts(size);
            for (int i = 1; i <= size; i++)
            {
                final ClusterConfig.Builder b = testDefaults(ClusterConfig.builder().nodeId(i));
                for (int j = 1; j <= size; j++)
                {
                    b.member(j, "127.0.0.1", ports[j - 1]);
                }
                cluster.configs.add(customize.apply(b).build());
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

    /**
     * Small terms and short timeouts suit a 2-core test machine.
     *
     * @param b a builder.
     * @return the builder.
     */
    public static ClusterConfig.Builder testDefaults(final ClusterConfig.Builder b)
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
     * @param count how many.
     * @return distinct UDP ports that were free a moment ago.
     */
    public static int[] freeUdpPorts(final int count)
    {
        final DatagramSocket[] sockets = new DatagramSocket[count];
        try
        {
            final int[] ports = new int[count];
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
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

    /** @param id 1-based node id. @return the node. */
    public ClusterNode node(final int id)
    {
        return nodes.get(id - 1);
    }

    /** @return the nodes in id order. */
    public List<ClusterNode> nodes()
    {
        return nodes;
    }

    /** Waits until every node sees every other as alive. */
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

    @Override
    public void close()
    {
        CloseHelper.quietCloseAll(nodes);
    }
}
