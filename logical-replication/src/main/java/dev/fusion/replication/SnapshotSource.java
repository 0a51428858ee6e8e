package dev.fusion.replication;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The publishing engine's side of a full sync: write a consistent snapshot of the replicated tables.
 * Called on the publisher's snapshot thread; may take long.
 */
@FunctionalInterface
public interface SnapshotSource
{
    /**
     * @param out where to write the snapshot, in any format the subscriber's {@link SnapshotSink} reads.
     * @return the commit position the snapshot reflects: every transaction up to it is in, none after.
     * @throws IOException when the snapshot cannot be written.
     */
    long write(OutputStream out) throws IOException;
}
