package dev.fusion.cachefusion.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The cluster's shared storage, as RAC has it: one data file every node reads and writes (8 KiB pages at
 * page-number offsets) and a redo log per node that any survivor can read for recovery. Positional reads and
 * writes of whole pages are safe from many threads and processes.
 * <p>
 * <b>I/O fencing.</b> Every write names its writer and the writer's membership epoch: its fencing token. Before a
 * survivor recovers a dead node it raises that node's fence to the epoch in which the node was declared dead
 * ({@link #fence}); from then on the disk refuses every write of the dead node whose token is older
 * ({@link FencedWriteException}), so a node that was paused or cut off, and wakes up still believing it holds its
 * blocks, cannot overwrite what recovery wrote. The check and the write happen under one lock (a JVM lock and an
 * exclusive lock on {@code fence.dat}, so across processes too): a write either lands before the fence is raised,
 * and recovery sees it, or is refused. A node that restarts joins in a newer epoch, so its writes pass.
 */
public final class SharedDisk implements AutoCloseable
{
    /** Node ids the fence file has room for: 1..MAX_FENCED_NODE. */
    public static final int MAX_FENCED_NODE = 1023;
    /** The token of a writer that takes no part in fencing (no quorum): never refused. */
    public static final long UNFENCED = Long.MAX_VALUE;
    private static final Map<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private final Path directory;
    private final FileChannel data;
    private final FileChannel fenceChannel;
    private final MappedByteBuffer fences;
    private final ReentrantLock jvmLock;
    private final int pages;

    private SharedDisk(final Path directory, final int pages) throws IOException
    {
        this.directory = directory;
        this.pages = pages;
        this.data = FileChannel.open(directory.resolve("pages.dat"), StandardOpenOption.CREATE,
            StandardOpenOption.READ, StandardOpenOption.WRITE);
        final Path fenceFile = directory.resolve("fence.dat");
        this.fenceChannel = FileChannel.open(fenceFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        this.fences = fenceChannel.map(FileChannel.MapMode.READ_WRITE, 0, (MAX_FENCED_NODE + 1) * 8L);
        this.fences.order(ByteOrder.LITTLE_ENDIAN);
        this.jvmLock = JVM_LOCKS.computeIfAbsent(fenceFile.toAbsolutePath().normalize(), p -> new ReentrantLock());
    }

    /**
     * Creates the data file with every page formatted.
     *
     * @param directory where the files live (created).
     * @param pages     how many pages.
     * @param balance   every account's opening balance.
     * @return the disk.
     */
    public static SharedDisk format(final Path directory, final int pages, final long balance)
    {
        try
        {
            Files.createDirectories(directory);
            Files.deleteIfExists(directory.resolve("pages.dat"));
            Files.deleteIfExists(directory.resolve("fence.dat"));
            try (var list = Files.list(directory))
            {
                for (final Path p : (Iterable<Path>)list::iterator)
                {
                    if (p.getFileName().toString().startsWith("redo-"))
                    {
                        Files.delete(p);
                    }
                }
            }
            final SharedDisk disk = new SharedDisk(directory, pages);
            for (int page = 0; page < pages; page++)
            {
                disk.writePage(page, AccountPage.format(page, balance));
            }
            return disk;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Opens formatted storage (another process of the same cluster).
     *
     * @param directory where the files live.
     * @param pages     how many pages.
     * @return the disk.
     */
    public static SharedDisk open(final Path directory, final int pages)
    {
        try
        {
            return new SharedDisk(directory, pages);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** @return the number of pages. */
    public int pages()
    {
        return pages;
    }

    /** @return the directory of the data file and the redo logs. */
    public Path directory()
    {
        return directory;
    }

    /**
     * @param page a page number.
     * @return its bytes on disk.
     */
    public byte[] read(final int page)
    {
        checkPage(page);
        final byte[] bytes = new byte[AccountPage.SIZE];
        final ByteBuffer b = ByteBuffer.wrap(bytes);
        try
        {
            while (b.hasRemaining())
            {
                if (data.read(b, (long)page * AccountPage.SIZE + b.position()) < 0)
                {
                    throw new IOException("page " + page + " is beyond the end of the data file");
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return bytes;
    }

    /**
     * Writes a page unless the writer is fenced.
     *
     * @param page   a page number.
     * @param bytes  its new contents.
     * @param writer the writing node.
     * @param token  the writer's membership epoch, or {@link #UNFENCED}.
     * @throws FencedWriteException when the writer's fence is above its token: nothing was written.
     */
    public void write(final int page, final byte[] bytes, final int writer, final long token)
    {
        checkPage(page);
        fenced(writer, token, () ->
        {
            writePage(page, bytes);
            return null;
        });
    }

    /**
     * Runs a write of the writer's (a page, a redo record) unless the writer is fenced, under the fence lock.
     *
     * @param writer the writing node.
     * @param token  the writer's membership epoch, or {@link #UNFENCED}.
     * @param write  the write.
     * @param <T>    what it returns.
     * @return what the write returned.
     * @throws FencedWriteException when the writer's fence is above its token: the write did not run.
     */
    public <T> T fenced(final int writer, final long token, final Supplier<T> write)
    {
        checkNode(writer);
        lock();
        try
        {
            final long fence = fences.getLong(writer * 8);
            if (token < fence)
            {
                throw new FencedWriteException(writer, token, fence);
            }
            return write.get();
        }
        finally
        {
            unlock();
        }
    }

    /**
     * Fences a node: from now on its writes with a token below {@code epoch} are refused. Call it before
     * recovering the node's blocks, with the epoch in which it was declared dead. A lower epoch than the fence's
     * changes nothing.
     *
     * @param node  the dead node.
     * @param epoch the epoch of the view that declared it dead.
     */
    public void fence(final int node, final long epoch)
    {
        checkNode(node);
        lock();
        try
        {
            if (fences.getLong(node * 8) < epoch)
            {
                fences.putLong(node * 8, epoch);
                fences.force();
            }
        }
        finally
        {
            unlock();
        }
    }

    /**
     * @param node a node.
     * @return the epoch below which its writes are refused (0: never fenced).
     */
    public long fenceOf(final int node)
    {
        checkNode(node);
        lock();
        try
        {
            return fences.getLong(node * 8);
        }
        finally
        {
            unlock();
        }
    }

    private FileLock osLock;

    private void lock()
    {
        jvmLock.lock();
        try
        {
            osLock = fenceChannel.lock();
        }
        catch (final IOException ex)
        {
            jvmLock.unlock();
            throw new UncheckedIOException("cannot lock " + directory.resolve("fence.dat"), ex);
        }
    }

    private void unlock()
    {
        try
        {
            osLock.release();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        finally
        {
            osLock = null;
            jvmLock.unlock();
        }
    }

    private static void checkNode(final int node)
    {
        if (node < 1 || node > MAX_FENCED_NODE)
        {
            throw new IllegalArgumentException("node " + node + " out of range 1.." + MAX_FENCED_NODE);
        }
    }

    private void writePage(final int page, final byte[] bytes)
    {
        final ByteBuffer b = ByteBuffer.wrap(bytes);
        try
        {
            while (b.hasRemaining())
            {
                data.write(b, (long)page * AccountPage.SIZE + b.position());
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    Path redoFile(final int node)
    {
        return directory.resolve("redo-" + node + ".log");
    }

    private void checkPage(final int page)
    {
        if (page < 0 || page >= pages)
        {
            throw new IllegalArgumentException("page " + page + " out of range 0.." + (pages - 1));
        }
    }

    @Override
    public void close()
    {
        try
        {
            data.close();
            fenceChannel.close();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
