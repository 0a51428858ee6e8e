package dev.fusion.cachefusion.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The cluster's shared storage, as RAC has it: one data file every node reads and writes (8 KiB pages at
 * page-number offsets) and a redo log per node that any survivor can read for recovery. Positional reads and
 * writes of whole pages are safe from many threads and processes.
 */
public final class SharedDisk implements AutoCloseable
{
    private final Path directory;
    private final FileChannel data;
    private final int pages;

    private SharedDisk(final Path directory, final int pages) throws IOException
    {
        this.directory = directory;
        this.pages = pages;
        this.data = FileChannel.open(directory.resolve("pages.dat"), StandardOpenOption.CREATE,
            StandardOpenOption.READ, StandardOpenOption.WRITE);
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
                disk.write(page, AccountPage.format(page, balance));
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
     * @param page  a page number.
     * @param bytes its new contents.
     */
    public void write(final int page, final byte[] bytes)
    {
        checkPage(page);
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
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
