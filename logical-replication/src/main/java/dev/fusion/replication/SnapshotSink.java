package dev.fusion.replication;

import java.io.IOException;
import java.io.InputStream;

/**
 * The subscribing engine's side of a full sync: replace the replicated tables with a snapshot, and persist
 * {@code position} as the applied watermark in the same transaction. Called on the subscriber's receiver
 * thread once every chunk has arrived and passed its CRC check; the stream reads the chunks from a temporary
 * file, so a snapshot larger than the heap loads as long as the sink does not hold it whole. A failure here is
 * counted as a receiver failure and the full sync is asked for again.
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
