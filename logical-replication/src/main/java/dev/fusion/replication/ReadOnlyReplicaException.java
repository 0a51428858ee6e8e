package dev.fusion.replication;

/** A local write on a node that is a read-only replica of another. */
public final class ReadOnlyReplicaException extends IllegalStateException
{
    /**
     * @param node      this node.
     * @param publisher the node it replicates.
     */
    public ReadOnlyReplicaException(final int node, final int publisher)
    {
        super("node " + node + " is a read-only replica of node " + publisher + ": write on node " + publisher +
            ", or promote this node first");
    }
}
