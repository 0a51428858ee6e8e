package dev.fusion.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Test support: the .properties files of a cluster whose nodes run as separate processes on loopback, each
 * with an embedded driver in its own Aeron directory (which the test deletes afterwards: a SIGKILLed node
 * cannot).
 */
public final class NodeConfigFiles
{
    private final List<Path> files = new ArrayList<>();
    private final List<String> aeronDirectories = new ArrayList<>();

    /**
     * @param dir           where to write node1.properties, node2.properties, ...
     * @param nodes         how many nodes.
     * @param deadTimeoutMs the failure detector's dead timeout.
     * @param extra         further {@code key=value} lines for every node.
     */
    public NodeConfigFiles(final Path dir, final int nodes, final long deadTimeoutMs, final String... extra)
    {
        this(dir, nodes, null, false, deadTimeoutMs, extra);
    }

    /**
     * A cluster whose membership is decided by a quorum of three voters, run by nodes 1..3.
     *
     * @param dir           where to write the files.
     * @param nodes         how many nodes, at least 3.
     * @param deadTimeoutMs the failure detector's dead timeout (suspicion only, with a quorum).
     * @param extra         further {@code key=value} lines for every node (lease timing, for instance).
     * @return the files.
     */
    public static NodeConfigFiles withQuorum(
        final Path dir, final int nodes, final long deadTimeoutMs, final String... extra)
    {
        return new NodeConfigFiles(dir, nodes, null, true, deadTimeoutMs, extra);
    }

    /**
     * A cluster whose nodes decide membership alone, each on a host of its own.
     *
     * @param dir           where to write the files.
     * @param hosts         each node's address.
     * @param deadTimeoutMs the failure detector's dead timeout.
     * @param extra         further {@code key=value} lines for every node.
     * @return the files.
     */
    public static NodeConfigFiles local(
        final Path dir, final List<String> hosts, final long deadTimeoutMs, final String... extra)
    {
        return new NodeConfigFiles(dir, hosts.size(), hosts, false, deadTimeoutMs, extra);
    }

    /**
     * A cluster whose membership is decided by a quorum of three voters, run by nodes 1..3, each node on a host of
     * its own (node i on {@code hosts.get(i - 1)}: a network namespace, say).
     *
     * @param dir           where to write the files.
     * @param hosts         each node's address; at least 3.
     * @param deadTimeoutMs the failure detector's dead timeout (suspicion only, with a quorum).
     * @param extra         further {@code key=value} lines for every node.
     * @return the files.
     */
    public static NodeConfigFiles withQuorum(
        final Path dir, final List<String> hosts, final long deadTimeoutMs, final String... extra)
    {
        return new NodeConfigFiles(dir, hosts.size(), hosts, true, deadTimeoutMs, extra);
    }

    private NodeConfigFiles(
        final Path dir, final int nodes, final List<String> hosts, final boolean quorum, final long deadTimeoutMs,
        final String... extra)
    {
        final int[] found = quorum ? LocalCluster.freeUdpPorts(nodes + 3, 5) : LocalCluster.freeUdpPorts(nodes);
        final int[] ports = java.util.Arrays.copyOf(found, nodes);
        final StringBuilder members = new StringBuilder();
        for (int id = 1; id <= nodes; id++)
        {
            members.append(id == 1 ? "" : ",").append(id).append('@').append(host(hosts, id)).append(':')
                .append(ports[id - 1]);
        }
        final StringBuilder voters = new StringBuilder();
        for (int v = 1; quorum && v <= 3; v++)
        {
            voters.append(v == 1 ? "" : ",").append(v).append('@').append(host(hosts, v)).append(':')
                .append(found[nodes + v - 1]);
        }
        for (int id = 1; id <= nodes; id++)
        {
            final String aeronDir = "/dev/shm/fusion-test-" + id + "-" + UUID.randomUUID();
            final List<String> lines = new ArrayList<>(List.of(
                "nodeId=" + id,
                "members=" + members,
                "aeronDirectory=" + aeronDir,
                "controlTermLength=256k", "bulkTermLength=2m", "bulkQueueBytes=1m", "maxMessageLength=64k",
                "maxBatchBytes=16k", "heartbeatIntervalMs=50", "suspectTimeoutMs=300",
                "deadTimeoutMs=" + deadTimeoutMs));
            if (!quorum && nodes == 2)
            {
                lines.add("favourAvailability=true"); // two nodes on one machine, each deciding membership alone
            }
            if (quorum)
            {
                lines.add("voters=" + voters);
                lines.add("quorumDirectory=" + dir.resolve("quorum"));
            }
            lines.addAll(List.of(extra));
            final Path file = dir.resolve("node" + id + ".properties");
            try
            {
                Files.writeString(file, String.join("\n", lines));
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
            files.add(file);
            aeronDirectories.add(aeronDir);
        }
    }

    private static String host(final List<String> hosts, final int id)
    {
        return null == hosts ? "127.0.0.1" : hosts.get(id - 1);
    }

    /**
     * @param id 1-based node id.
     * @return its config file.
     */
    public Path file(final int id)
    {
        return files.get(id - 1);
    }

    /** Deletes every node's Aeron directory. */
    public void deleteAeronDirectories()
    {
        aeronDirectories.forEach(d -> org.agrona.IoUtil.delete(new java.io.File(d), true));
    }
}
