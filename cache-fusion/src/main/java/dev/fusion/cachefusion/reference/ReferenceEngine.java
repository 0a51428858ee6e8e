package dev.fusion.cachefusion.reference;

import dev.fusion.cachefusion.BlockGrant;
import dev.fusion.cachefusion.BlockImage;
import dev.fusion.cachefusion.BufferCache;
import dev.fusion.cachefusion.CacheFusion;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.MemberState;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.ResourceId;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small bank on account pages, clustered with cache fusion: the reference engine tests, benchmarks and the
 * demo run. Its buffer cache holds the current image of each page this node holds; a change is made on a copy
 * of the page and installed at commit with the transaction's SCN (a Lamport clock: above every version this
 * node has seen), after the redo is written, so the current image is always committed and can be shipped or
 * rolled back at any time.
 */
public final class ReferenceEngine implements BufferCache, AutoCloseable
{
    /** The object id the account pages have in the directory. */
    public static final int ACCOUNTS = 1;

    private final int nodeId;
    private final SharedDisk disk;
    private final RedoLog redo;
    private final UndoStore undo;
    private final int capacity;
    private final Map<Long, BlockImage> frames = new ConcurrentHashMap<>();
    private final Map<Long, List<BlockImage>> pastImages = new ConcurrentHashMap<>();
    private final AtomicInteger pastImageCount = new AtomicInteger();
    private final AtomicLong clock = new AtomicLong();
    private final AtomicLong redoFlushesForShipping = new AtomicLong();
    private final AtomicLong evictions = new AtomicLong();
    private final AtomicLong staleInstalls = new AtomicLong();
    private static final System.Logger LOG = System.getLogger(ReferenceEngine.class.getName());
    private volatile CacheFusion fusion;
    /** The node whose committed epoch is this engine's fencing token; null: writes are not fenced. */
    private volatile ClusterNode fencingNode;
    /** Per dead node, the epoch of the committed view that declared it dead (the fence recovery raises). */
    private final Map<Integer, Long> deathEpochs = new ConcurrentHashMap<>();
    /** Each dead node's redo by page, read once per death (each recovered block read the whole file before). */
    private final Map<Integer, RedoIndex> redoIndexes = new java.util.HashMap<>();

    private record RedoIndex(int node, long bytes, Map<Integer, List<RedoLog.Record>> byPage)
    {
    }

    /**
     * @param nodeId   this node.
     * @param disk     the shared storage.
     * @param undo     the versions kept for consistent reads.
     * @param capacity pages the buffer cache holds before it evicts.
     * @param fsync    whether commits force the redo to the device.
     */
    public ReferenceEngine(final int nodeId, final SharedDisk disk, final UndoStore undo, final int capacity,
        final boolean fsync)
    {
        if (capacity < 2)
        {
            throw new IllegalArgumentException("invalid capacity: " + capacity + " (accepted: >= 2)");
        }
        this.nodeId = nodeId;
        this.disk = disk;
        this.undo = undo;
        this.capacity = capacity;
        this.redo = new RedoLog(disk.redoFile(nodeId), fsync);
    }

    /**
     * Makes every write carry the node's committed membership epoch as its fencing token, and has recovery fence a
     * dead node on the disk (at the epoch that declared it dead) before it reads the node's redo: a node that the
     * quorum declared dead can no longer write. Only with quorum membership, whose epochs every node shares
     * (with local membership each node counts its own epochs, and fencing is left off).
     *
     * @param node this engine's node.
     * @return whether fencing is on.
     */
    public boolean fenceWith(final ClusterNode node)
    {
        if (!node.config().quorumMembership())
        {
            return false;
        }
        node.addMembershipListener((previous, current) -> current.states().forEach((id, state) ->
        {
            if (state == MemberState.DEAD && previous.state(id) != MemberState.DEAD)
            {
                deathEpochs.put(id, current.epoch());
            }
        }));
        fencingNode = node;
        return true;
    }

    private long token()
    {
        final ClusterNode node = fencingNode;
        return null == node ? SharedDisk.UNFENCED : node.view().epoch();
    }

    /** Before a dead node's redo is read: its later writes are refused from here on. */
    private void fenceDead(final int deadNode)
    {
        final ClusterNode node = fencingNode;
        if (null != node)
        {
            disk.fence(deadNode, deathEpochs.getOrDefault(deadNode, node.view().epoch()));
        }
    }

    /**
     * Drops every cached page and past image: what a node the quorum declared dead does before it rejoins, since
     * nothing it held while fenced may survive (survivors recovered its pages; new holders may have changed them).
     * Call it with cache fusion closed.
     */
    public void discardCache()
    {
        frames.clear();
        pastImages.clear();
        pastImageCount.set(0);
    }

    /**
     * Connects the engine to cache fusion (started with this engine as its buffer cache).
     *
     * @param fusion cache fusion on this node.
     */
    public void attach(final CacheFusion fusion)
    {
        this.fusion = fusion;
    }

    /**
     * @param page a page number.
     * @return its block id in the directory.
     */
    public static long block(final int page)
    {
        return ResourceId.of(ACCOUNTS, page);
    }

    /**
     * @param account an account number.
     * @return the page it lives on.
     */
    public static int pageOf(final long account)
    {
        return (int)(account / AccountPage.ROWS);
    }

    /**
     * Moves money between two accounts in one transaction: both pages are taken EXCLUSIVE (in page order, so
     * two transfers never wait on each other in a cycle), changed, logged and committed.
     *
     * @param from      the account debited.
     * @param to        the account credited.
     * @param amount    how much.
     * @param timeoutMs how long to wait for each page.
     * @return the transaction's SCN: once returned, the transfer is committed (its redo is durable).
     * @throws Exception when a page cannot be had (timeout, node closing).
     */
    public long transfer(final long from, final long to, final long amount, final long timeoutMs) throws Exception
    {
        final int fromPage = pageOf(from);
        final int toPage = pageOf(to);
        final int first = Math.min(fromPage, toPage);
        final int second = Math.max(fromPage, toPage);
        final CacheFusion f = fusion;
        f.acquire(block(first), LockMode.EXCLUSIVE).get(timeoutMs, TimeUnit.MILLISECONDS);
        try
        {
            if (second != first)
            {
                f.acquire(block(second), LockMode.EXCLUSIVE).get(timeoutMs, TimeUnit.MILLISECONDS);
            }
            try
            {
                return commitTransfer(fromPage, (int)(from % AccountPage.ROWS), toPage, (int)(to % AccountPage.ROWS),
                    amount);
            }
            finally
            {
                if (second != first)
                {
                    f.release(block(second));
                }
            }
        }
        finally
        {
            f.release(block(first));
            evictIfFull(first, second);
        }
    }

    private long commitTransfer(final int fromPage, final int fromRow, final int toPage, final int toRow,
        final long amount)
    {
        final BlockImage fromImage = frame(fromPage);
        final byte[] fromCopy = fromImage.bytes().clone();
        final byte[] toCopy = fromPage == toPage ? fromCopy : frame(toPage).bytes().clone();
        final long fromBalance = AccountPage.balance(fromCopy, fromRow) - amount;
        AccountPage.balance(fromCopy, fromRow, fromBalance);
        final long toBalance = AccountPage.balance(toCopy, toRow) + amount;
        AccountPage.balance(toCopy, toRow, toBalance);
        final long seen = Math.max(fromImage.version(), AccountPage.version(toCopy));
        final long scn = clock.updateAndGet(c -> Math.max(c, seen) + 1);
        disk.fenced(nodeId, token(), () ->
        {
            redo.commit(scn, List.of(new RedoLog.Change(fromPage, fromRow, fromBalance),
                new RedoLog.Change(toPage, toRow, toBalance)));
            return null;
        });
        install(fromPage, fromCopy, scn);
        if (toPage != fromPage)
        {
            install(toPage, toCopy, scn);
        }
        return scn;
    }

    private void install(final int page, final byte[] bytes, final long scn)
    {
        AccountPage.version(bytes, scn);
        undo.record(page, scn, bytes);
        frames.put(block(page), new BlockImage(scn, true, bytes));
    }

    private BlockImage frame(final int page)
    {
        final BlockImage image = frames.get(block(page));
        if (null == image)
        {
            throw new IllegalStateException("node " + nodeId + ": page " + page + " is held but not cached");
        }
        return image;
    }

    private void evictIfFull(final int keep1, final int keep2)
    {
        if (frames.size() <= capacity)
        {
            return;
        }
        for (final Long victim : frames.keySet())
        {
            final int page = ResourceId.block(victim);
            if (page != keep1 && page != keep2)
            {
                evictions.incrementAndGet();
                fusion.evict(victim);
                if (frames.size() <= capacity)
                {
                    return;
                }
            }
        }
    }

    /**
     * Reads a page's accounts under a SHARED lock.
     *
     * @param page      the page.
     * @param timeoutMs how long to wait.
     * @return the sum of its balances.
     * @throws Exception when the page cannot be had.
     */
    public long pageTotal(final int page, final long timeoutMs) throws Exception
    {
        final CacheFusion f = fusion;
        f.acquire(block(page), LockMode.SHARED).get(timeoutMs, TimeUnit.MILLISECONDS);
        try
        {
            return AccountPage.total(frame(page).bytes());
        }
        finally
        {
            f.release(block(page));
        }
    }

    /** @return the highest SCN this node has seen or made. */
    public long scn()
    {
        return clock.get();
    }

    /** @return past images kept now (they go when a newer version reaches the disk). */
    public int pastImages()
    {
        return pastImageCount.get();
    }

    /** @return pages in the buffer cache. */
    public int cachedPages()
    {
        return frames.size();
    }

    /** @return redo flushes asked for before shipping a dirty page. */
    public long redoFlushesForShipping()
    {
        return redoFlushesForShipping.get();
    }

    /**
     * @return images installed although a newer version of the page had been committed (seen through a shared
     * undo store): must stay 0; a self-check of the protocol.
     */
    public long staleInstalls()
    {
        return staleInstalls.get();
    }

    /** @return evictions started because the cache was full. */
    public long evictions()
    {
        return evictions.get();
    }

    // ------------------------------------------------------------------ BufferCache (cache-fusion agent thread)

    @Override
    public BlockImage current(final long block)
    {
        return frames.get(block);
    }

    @Override
    public void install(final long block, final BlockImage image, final LockMode mode)
    {
        AccountPage.check(image.bytes(), block);
        final long newest = undo.newest(ResourceId.block(block));
        if (newest > image.version())
        {
            // a newer version was committed (by a node sharing this undo store): this image is stale
            staleInstalls.incrementAndGet();
            dev.fusion.grd.GrdTrace.freeze(block); // keeps the timeline up to this moment for the test to print
            LOG.log(System.Logger.Level.ERROR, "node " + nodeId + ": installing version " + image.version() +
                " of page " + ResourceId.block(block) + " but version " + newest + " was committed" +
                (dev.fusion.grd.GrdTrace.ENABLED ? "; its timeline:\n" + dev.fusion.grd.GrdTrace.dump(block) : ""),
                new Throwable());
        }
        clock.accumulateAndGet(image.version(), Math::max);
        undo.record(ResourceId.block(block), image.version(), image.bytes());
        frames.put(block, image);
    }

    @Override
    public BlockImage readFromDisk(final long block)
    {
        final byte[] bytes = disk.read(ResourceId.block(block));
        AccountPage.check(bytes, block);
        return new BlockImage(AccountPage.version(bytes), false, bytes);
    }

    @Override
    public BlockImage consistentRead(final long block, final long scn)
    {
        final BlockImage current = frames.get(block);
        if (null != current && current.version() <= scn)
        {
            return new BlockImage(current.version(), false, current.bytes());
        }
        final int page = ResourceId.block(block);
        final byte[] old = undo.asOf(page, scn);
        if (null != old)
        {
            return new BlockImage(AccountPage.version(old), false, old);
        }
        final byte[] onDisk = disk.read(page);
        final long version = AccountPage.version(onDisk);
        // the disk copy is the answer only when no version between it and the SCN can be missing from undo
        return version <= scn && undo.droppedUpTo(page) <= version ? new BlockImage(version, false, onDisk) : null;
    }

    @Override
    public void flushRedo(final long block, final long version)
    {
        // every commit writes its redo before it installs the page (and an image from another node was made
        // durable there before it was shipped), so there is nothing left to flush: count the calls
        redoFlushesForShipping.incrementAndGet();
    }

    @Override
    public long write(final long block)
    {
        final BlockImage current = frames.get(block);
        if (null == current || !current.dirty())
        {
            return -1;
        }
        disk.write(ResourceId.block(block), current.bytes(), nodeId, token());
        frames.replace(block, current, new BlockImage(current.version(), false, current.bytes()));
        return current.version();
    }

    @Override
    public void keepPastImage(final long block)
    {
        final BlockImage current = frames.get(block);
        if (null != current)
        {
            pastImages.computeIfAbsent(block, b -> new ArrayList<>()).add(current);
            pastImageCount.incrementAndGet();
        }
    }

    @Override
    public BlockImage pastImage(final long block)
    {
        final List<BlockImage> images = pastImages.get(block);
        if (null == images || images.isEmpty())
        {
            return null;
        }
        BlockImage newest = images.get(0);
        for (final BlockImage image : images)
        {
            if (image.version() > newest.version())
            {
                newest = image;
            }
        }
        return newest;
    }

    @Override
    public int written(final long block, final long version)
    {
        final BlockImage current = frames.get(block);
        if (null != current && current.dirty() && current.version() <= version)
        {
            frames.replace(block, current, new BlockImage(current.version(), false, current.bytes()));
        }
        final List<BlockImage> images = pastImages.get(block);
        if (null == images)
        {
            return 0;
        }
        final int before = images.size();
        images.removeIf(image -> image.version() <= version);
        final int discarded = before - images.size();
        if (images.isEmpty())
        {
            pastImages.remove(block);
        }
        pastImageCount.addAndGet(-discarded);
        return discarded;
    }

    @Override
    public void invalidate(final long block)
    {
        frames.remove(block);
    }

    @Override
    public long recover(final long block, final BlockImage base, final int deadNode)
    {
        final int page = ResourceId.block(block);
        fenceDead(deadNode);
        byte[] image = disk.read(page);
        if (null != base && base.version() > AccountPage.version(image))
        {
            image = base.bytes().clone();
        }
        long version = AccountPage.version(image);
        for (final RedoLog.Record record : redoOf(deadNode).getOrDefault(page, List.of()))
        {
            if (record.scn() <= version)
            {
                continue;
            }
            boolean touched = false;
            for (final RedoLog.Change change : record.changes())
            {
                if (change.page() == page)
                {
                    AccountPage.balance(image, change.row(), change.balance());
                    touched = true;
                }
            }
            if (touched)
            {
                version = record.scn();
                AccountPage.version(image, version);
            }
        }
        disk.write(page, image, nodeId, token());
        clock.accumulateAndGet(version, Math::max);
        undo.record(page, version, image);
        return version;
    }

    @Override
    public Collection<Long> recoveryCandidates(final int deadNode)
    {
        fenceDead(deadNode);
        final Set<Long> blocks = new LinkedHashSet<>();
        for (final int page : redoOf(deadNode).keySet())
        {
            blocks.add(block(page));
        }
        return blocks;
    }

    /** @return the dead node's redo records by the pages they change, in SCN order (re-read when the file grew). */
    private synchronized Map<Integer, List<RedoLog.Record>> redoOf(final int deadNode)
    {
        final java.nio.file.Path file = disk.redoFile(deadNode);
        long bytes;
        try
        {
            bytes = java.nio.file.Files.exists(file) ? java.nio.file.Files.size(file) : 0;
        }
        catch (final java.io.IOException ex)
        {
            bytes = -1;
        }
        RedoIndex redoIndex = redoIndexes.get(deadNode);
        if (null == redoIndex || redoIndex.bytes() != bytes || bytes < 0)
        {
            final Map<Integer, List<RedoLog.Record>> byPage = new java.util.LinkedHashMap<>();
            for (final RedoLog.Record record : RedoLog.read(file))
            {
                for (final RedoLog.Change change : record.changes())
                {
                    final List<RedoLog.Record> ofPage = byPage.computeIfAbsent(change.page(), k -> new ArrayList<>());
                    if (ofPage.isEmpty() || ofPage.get(ofPage.size() - 1) != record)
                    {
                        ofPage.add(record);
                    }
                }
            }
            redoIndex = new RedoIndex(deadNode, bytes, byPage);
            redoIndexes.put(deadNode, redoIndex); // one per configured node at most; re-read when its redo grows
        }
        return redoIndex.byPage();
    }

    @Override
    public void close()
    {
        redo.close();
    }

    /**
     * Grants for the demo and benchmarks: how a block get was served.
     *
     * @param grant a grant.
     * @return a short label.
     */
    public static String describe(final BlockGrant grant)
    {
        return grant.kind() + " " + ResourceId.toString(grant.block()) + " in " + grant.latencyNs() / 1000 + " us";
    }
}
