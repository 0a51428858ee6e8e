package dev.fusion.grd;

import java.util.Arrays;
import java.util.Collection;

/**
 * A consistent-hash ring: each node owns {@code virtualNodes} points, and a resource's default master is the
 * owner of the first point at or after the resource's hash. When a node joins or leaves only the resources on
 * its arcs move (about 1/N of them). Immutable: safe to read from any thread without locking.
 */
public final class MasterRing
{
    /** The default number of points per node. */
    public static final int DEFAULT_VIRTUAL_NODES = 256;

    private static final long POINT_SALT = 0xD6E8FEB86659FD93L;

    private final long[] points;
    private final int[] owners;
    private final int[] nodes;

    private MasterRing(final long[] points, final int[] owners, final int[] nodes)
    {
        this.points = points;
        this.owners = owners;
        this.nodes = nodes;
    }

    /**
     * @param nodeIds      the nodes that master resources (the current members).
     * @param virtualNodes points per node, 1..65536.
     * @return the ring.
     * @throws IllegalArgumentException when there are no nodes or the point count is out of range.
     */
    public static MasterRing of(final Collection<Integer> nodeIds, final int virtualNodes)
    {
        if (nodeIds.isEmpty())
        {
            throw new IllegalArgumentException("a ring needs at least one node");
        }
        if (virtualNodes < 1 || virtualNodes > 65536)
        {
            throw new IllegalArgumentException("virtualNodes " + virtualNodes + " out of range 1..65536");
        }
        final int[] sortedNodes = nodeIds.stream().mapToInt(Integer::intValue).sorted().distinct().toArray();
        final int n = sortedNodes.length * virtualNodes;
        final long[] keys = new long[n];
        int i = 0;
        for (final int node : sortedNodes)
        {
            for (int v = 0; v < virtualNodes; v++)
            {
                // point hash in the high bits, owner in the low 16 bits: one sort orders both. The salt keeps
                // points independent of resource hashes: (node << 32 | v) is also ResourceId.of(node, v).
                final long point = mix((((long)node << 32) | v) ^ POINT_SALT) & ~0xFFFFL;
                keys[i++] = point | node;
            }
        }
        Arrays.sort(keys);
        final long[] points = new long[n];
        final int[] owners = new int[n];
        for (int k = 0; k < n; k++)
        {
            points[k] = keys[k] & ~0xFFFFL;
            owners[k] = (int)(keys[k] & 0xFFFF);
        }
        return new MasterRing(points, owners, sortedNodes);
    }

    /**
     * @param resource a resource id.
     * @return the node that masters it by default.
     */
    public int masterOf(final long resource)
    {
        final long hash = mix(resource) & ~0xFFFFL;
        int low = 0;
        int high = points.length - 1;
        if (hash > points[high])
        {
            return owners[0];
        }
        while (low < high)
        {
            final int mid = (low + high) >>> 1;
            if (points[mid] < hash)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return owners[low];
    }

    /** @return the nodes on the ring, ascending. */
    public int[] nodes()
    {
        return nodes.clone();
    }

    /**
     * @param nodeId a node id.
     * @return true when it owns points on this ring.
     */
    public boolean contains(final int nodeId)
    {
        return Arrays.binarySearch(nodes, nodeId) >= 0;
    }

    /** SplitMix64's finaliser: a fast, well-distributed 64-bit mix. */
    static long mix(final long value)
    {
        long z = value + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
