package dev.fusion.replication;

import java.io.IOException;
import java.io.InputStream;

/**
 * The subscribing engine's side of a full sync: replace the replicated tables with a snapshot, and persist
 * {@code position} as the applied watermark in the same transaction. Called on the subscriber's receiver
 * thread, after every chunk passed its CRC check.
 */
@FunctionalInterface
public interface SnapshotSink
{
    /**
     * @param in       the snapshot as the publisher's {@link SnapshotSource} wrote it.
     * @param position the commit position it reflects.
     * @throws IOException when it cannot be loaded.
     */
    void load(InputStream in, long position) throws IOException;
}
