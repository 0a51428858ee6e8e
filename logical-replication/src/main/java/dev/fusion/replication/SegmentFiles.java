package dev.fusion.replication;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;

/**
 * Opens the channels a {@link ReplicationLog} reads, writes and forces: its segment files, the file naming the
 * retained position, and its directory (opened to be forced after a file is created, renamed or deleted).
 */
@FunctionalInterface
interface SegmentFiles
{
    /** Opens files with {@link FileChannel#open(Path, OpenOption...)}. */
    SegmentFiles DEFAULT = FileChannel::open;

    /**
     * @param file    a segment, a file of the log, or the log's directory.
     * @param options how to open it.
     * @return the channel.
     * @throws IOException when it cannot be opened.
     */
    FileChannel open(Path file, OpenOption... options) throws IOException;
}
