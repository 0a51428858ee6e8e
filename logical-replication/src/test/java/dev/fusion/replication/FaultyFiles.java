package dev.fusion.replication;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Opens a log's files through channels that can run out of space, fail to be created or fail to force, and
 * that count what was written and forced.
 */
final class FaultyFiles implements SegmentFiles
{
    /** Bytes segment writes may still write before the disk is full; negative: no limit. */
    final AtomicLong space = new AtomicLong(-1);
    volatile boolean failCreates;
    volatile boolean failForces;
    /** Forces of segment files. */
    final AtomicInteger segmentForces = new AtomicInteger();
    /** Forces of the log's directory. */
    final AtomicInteger directoryForces = new AtomicInteger();
    /** Bytes written to segment files. */
    final AtomicLong written = new AtomicLong();
    /** The most bytes written to segment files before a force that then succeeded began. */
    final AtomicLong forcedWritten = new AtomicLong();

    @Override
    public FileChannel open(final Path file, final OpenOption... options) throws IOException
    {
        final boolean segment = file.getFileName().toString().endsWith(".log");
        final List<OpenOption> opening = Arrays.asList(options);
        if (segment && failCreates &&
            (opening.contains(StandardOpenOption.CREATE) || opening.contains(StandardOpenOption.CREATE_NEW)))
        {
            throw new IOException("Too many open files (injected)");
        }
        return new Channel(FileChannel.open(file, options), segment, Files.isDirectory(file));
    }

    /** Turns every fault off. */
    void heal()
    {
        space.set(-1);
        failCreates = false;
        failForces = false;
    }

    private final class Channel extends FileChannel
    {
        private final FileChannel delegate;
        private final boolean segment;
        private final boolean directory;

        Channel(final FileChannel delegate, final boolean segment, final boolean directory)
        {
            this.delegate = delegate;
            this.segment = segment;
            this.directory = directory;
        }

        @Override
        public int write(final ByteBuffer src, final long position) throws IOException
        {
            if (!segment)
            {
                return delegate.write(src, position);
            }
            final int allowed = allow(src.remaining());
            final ByteBuffer part = src.duplicate();
            part.limit(part.position() + allowed);
            final int n = delegate.write(part, position);
            src.position(src.position() + n);
            written.addAndGet(n);
            return n;
        }

        @Override
        public int write(final ByteBuffer src) throws IOException
        {
            final int n = write(src, delegate.position());
            delegate.position(delegate.position() + n);
            return n;
        }

        /** @return how many of {@code wanted} bytes fit; throws when none do. */
        private int allow(final int wanted) throws IOException
        {
            while (true)
            {
                final long left = space.get();
                if (left < 0)
                {
                    return wanted;
                }
                if (0 == left && wanted > 0)
                {
                    throw new IOException("No space left on device (injected)");
                }
                final int allowed = (int)Math.min(left, wanted);
                if (space.compareAndSet(left, left - allowed))
                {
                    return allowed;
                }
            }
        }

        @Override
        public void force(final boolean metaData) throws IOException
        {
            if (!segment)
            {
                if (directory)
                {
                    directoryForces.incrementAndGet();
                }
                delegate.force(metaData);
                return;
            }
            final long before = written.get();
            segmentForces.incrementAndGet();
            if (failForces)
            {
                throw new IOException("Input/output error (injected fsync failure)");
            }
            delegate.force(metaData);
            forcedWritten.accumulateAndGet(before, Math::max);
        }

        @Override
        public int read(final ByteBuffer dst) throws IOException
        {
            return delegate.read(dst);
        }

        @Override
        public long read(final ByteBuffer[] dsts, final int offset, final int length) throws IOException
        {
            return delegate.read(dsts, offset, length);
        }

        @Override
        public long write(final ByteBuffer[] srcs, final int offset, final int length) throws IOException
        {
            throw new UnsupportedOperationException("gathering writes are not used by the log");
        }

        @Override
        public long position() throws IOException
        {
            return delegate.position();
        }

        @Override
        public FileChannel position(final long newPosition) throws IOException
        {
            delegate.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException
        {
            return delegate.size();
        }

        @Override
        public FileChannel truncate(final long size) throws IOException
        {
            delegate.truncate(size);
            return this;
        }

        @Override
        public long transferTo(final long position, final long count, final WritableByteChannel target)
            throws IOException
        {
            return delegate.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(final ReadableByteChannel src, final long position, final long count)
            throws IOException
        {
            throw new UnsupportedOperationException("not used by the log");
        }

        @Override
        public int read(final ByteBuffer dst, final long position) throws IOException
        {
            return delegate.read(dst, position);
        }

        @Override
        public MappedByteBuffer map(final MapMode mode, final long position, final long size) throws IOException
        {
            return delegate.map(mode, position, size);
        }

        @Override
        public FileLock lock(final long position, final long size, final boolean shared) throws IOException
        {
            return delegate.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(final long position, final long size, final boolean shared) throws IOException
        {
            return delegate.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException
        {
            delegate.close();
        }
    }
}
