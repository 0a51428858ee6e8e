package dev.fusion.grd;

import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The off-heap home of the directory entries this node masters: a Chronicle Map of resource to encoded entry,
 * in memory or persisted to a file that a restarted node reloads. Written by the directory agent; Chronicle
 * Map's own segment locking makes reads from other threads safe.
 */
public final class DirectoryStore implements AutoCloseable
{
    private final ChronicleMap<Long, byte[]> map;
    private final ExpandableArrayBuffer scratch = new ExpandableArrayBuffer(256);

    private DirectoryStore(final ChronicleMap<Long, byte[]> map)
    {
        this.map = map;
    }

    /**
     * @param maxEntries the most entries expected (Chronicle Map sizes its segments from it).
     * @param file       where to persist, or null for memory only.
     * @return the store.
     */
    public static DirectoryStore open(final long maxEntries, final File file)
    {
        final ChronicleMapBuilder<Long, byte[]> builder = ChronicleMap.of(Long.class, byte[].class)
            .name("fusion-grd-directory")
            .entries(maxEntries)
            .averageValueSize(64);
        try
        {
            return new DirectoryStore(null == file ? builder.create() : builder.createPersistedTo(file));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot open directory store " + file, ex);
        }
    }

    /**
     * @param entry the entry to write (replacing the previous one).
     */
    public void put(final DirectoryEntry entry)
    {
        final int length = EntryCodec.encode(entry, scratch, 0);
        map.put(entry.resource(), Arrays.copyOf(scratch.byteArray(), length));
    }

    /**
     * @param resource a resource.
     * @return its entry, or null when none is stored.
     */
    public DirectoryEntry get(final long resource)
    {
        final byte[] bytes = map.get(resource);
        return null == bytes ? null : EntryCodec.decode(new UnsafeBuffer(bytes), 0, bytes.length);
    }

    /**
     * @param resource a resource whose entry is no longer needed.
     */
    public void remove(final long resource)
    {
        map.remove(resource);
    }

    /** @return the number of stored entries. */
    public long size()
    {
        return map.longSize();
    }

    /**
     * @param consumer given every stored entry (for reload after a restart).
     */
    public void forEach(final Consumer<DirectoryEntry> consumer)
    {
        map.forEach((resource, bytes) -> consumer.accept(EntryCodec.decode(new UnsafeBuffer(bytes), 0, bytes.length)));
    }

    @Override
    public void close()
    {
        map.close();
    }
}
