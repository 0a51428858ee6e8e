package dev.fusion.grd;

import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
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
    private net.openhft.chronicle.bytes.BytesStore<?, ?> scratchStore;
    private final EntryCodec.Encoder encoder = new EntryCodec.Encoder();

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
        final int length = encoder.encode(entry, scratch, 0);
        if (null == scratchStore || scratchStore.underlyingObject() != scratch.byteArray())
        {
            scratchStore = net.openhft.chronicle.bytes.BytesStore.wrap(scratch.byteArray()); // the buffer grew
        }
        // through a query context rather than put(): put() copies the value into a new array and returns the
        // previous one (deserialised), two allocations per write-through on the directory agent
        try (ExternalMapQueryContext<Long, byte[], ?> c = map.queryContext(entry.resource()))
        {
            c.writeLock().lock();
            final MapEntry<Long, byte[]> existing = c.entry();
            final Data<byte[]> value = c.wrapValueBytesAsData(scratchStore, 0, length);
            if (null != existing)
            {
                c.replaceValue(existing, value);
            }
            else
            {
                c.insert(c.absentEntry(), value);
            }
        }
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
