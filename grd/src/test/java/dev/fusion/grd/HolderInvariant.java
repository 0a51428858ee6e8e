package dev.fusion.grd;

import java.util.HashMap;
import java.util.Map;

/**
 * The lock protocol's safety property, checked at every instant: no two nodes hold incompatible modes of one
 * resource. Fed pessimistically (a grant when the requester learns of it, a release before it is sent), so
 * what it sees is always a subset of what the masters have granted: a violation here is a real one.
 */
final class HolderInvariant
{
    private final Map<Long, Map<Integer, LockMode>> holders = new HashMap<>();
    private final java.util.Set<Integer> dead = new java.util.HashSet<>();
    private int violations;
    private String firstViolation;

    synchronized void granted(final long resource, final int node, final LockMode mode)
    {
        if (dead.contains(node))
        {
            return; // an answer its closed directory gave just before the crash: it holds nothing now
        }
        final Map<Integer, LockMode> byNode = holders.computeIfAbsent(resource, k -> new HashMap<>());
        for (final Map.Entry<Integer, LockMode> other : byNode.entrySet())
        {
            if (other.getKey() != node && !mode.compatibleWith(other.getValue()))
            {
                violations++;
                if (null == firstViolation)
                {
                    firstViolation = "node " + node + " granted " + mode + " of " + resource + " while node " +
                        other.getKey() + " holds " + other.getValue();
                }
            }
        }
        byNode.put(node, mode);
    }

    synchronized void releasing(final long resource, final int node, final LockMode keep)
    {
        final Map<Integer, LockMode> byNode = holders.get(resource);
        if (null != byNode)
        {
            if (keep == LockMode.NULL)
            {
                byNode.remove(node);
            }
            else
            {
                byNode.put(node, keep);
            }
        }
    }

    synchronized void nodeDied(final int node)
    {
        dead.add(node);
        holders.values().forEach(m -> m.remove(node));
    }

    /** @param node a node that died and runs again (a new incarnation): its grants count from now on. */
    synchronized void revived(final int node)
    {
        dead.remove(node);
    }

    synchronized int violations()
    {
        return violations;
    }

    synchronized String firstViolation()
    {
        return firstViolation;
    }
}
