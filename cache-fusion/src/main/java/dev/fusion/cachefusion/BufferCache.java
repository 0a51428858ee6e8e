package dev.fusion.cachefusion;

import dev.fusion.grd.LockMode;

/**
 * What the engine's buffer cache does for cache fusion. Every method is called on the node's cache-fusion
 * agent thread, never concurrently with itself, and only for a block no local user has pinned in a
 * conflicting way: implementations need thread-safe maps (the engine's own threads read pinned frames) but no
 * per-block locking against cache fusion. Methods must not block on the network; disk I/O (read, write, redo
 * flush) is expected and stalls only this node's cache-fusion agent.
 */
public interface BufferCache
{
    /**
     * The current image of a block this node holds, to ship it to another node.
     *
     * @param block the block.
     * @return its image, or null when it is not in the cache (then the disk copy is current).
     */
    BlockImage current(long block);

    /**
     * Installs an image received from another node, or read from disk, as the current image.
     *
     * @param block the block.
     * @param image the image (its dirty flag travels with it: a dirty copy stays dirty at the receiver).
     * @param mode  the mode it is now held in.
     */
    void install(long block, BlockImage image, LockMode mode);

    /**
     * Reads a block from disk (a grant with no cache holding it: the disk copy is current).
     *
     * @param block the block.
     * @return its disk image, clean.
     */
    BlockImage readFromDisk(long block);

    /**
     * Builds a consistent-read copy: the block as of an SCN, from the current image and undo.
     *
     * @param block the block.
     * @param scn   the SCN.
     * @return the image whose version is the newest at or below {@code scn}, or null when undo no longer reaches
     * that far.
     */
    BlockImage consistentRead(long block, long scn);

    /**
     * Makes the redo that produced a block's version durable: called before a dirty image is shipped, as RAC
     * flushes the log before a current block leaves the instance.
     *
     * @param block   the block about to be shipped.
     * @param version its version.
     */
    void flushRedo(long block, long version);

    /**
     * Writes the current image to disk (eviction, checkpoint). Only the holder of the newest version is asked.
     * <p>
     * <b>Fencing.</b> With quorum membership, every write this engine makes to shared storage (pages and redo)
     * must carry the node's committed epoch ({@code node.view().epoch()}) as a fencing token, and the storage must
     * refuse a writer's write whose token is older than the epoch in which the quorum declared that writer dead;
     * {@link #recover} raises the dead node's fence before it reads the node's redo, under the same lock as the
     * writes' check. A node paused or cut off past its lease may still be in the middle of a write when it wakes:
     * only the storage can stop it. The reference engine's {@code SharedDisk} shows one way
     * ({@code ReferenceEngine.fenceWith}).
     *
     * @param block the block.
     * @return the version written, or -1 when it was clean or absent (nothing written).
     */
    long write(long block);

    /**
     * Keeps the current (dirty) image as a past image: this node gave the block up and its version may be
     * needed for recovery until a newer version is on disk.
     *
     * @param block the block.
     */
    void keepPastImage(long block);

    /**
     * @param block the block.
     * @return the newest past image kept of it, or null.
     */
    BlockImage pastImage(long block);

    /**
     * A version of the block reached the disk: past images at or below it are no longer needed, and a current
     * image of that version is now clean.
     *
     * @param block   the block.
     * @param version the version on disk.
     * @return how many past images were discarded.
     */
    int written(long block, long version);

    /**
     * Drops the current image (the lock went to another node, or the block is evicted). Past images stay.
     *
     * @param block the block.
     */
    void invalidate(long block);

    /**
     * Recovers a block a dead node held in EXCLUSIVE: from the base image (the survivors' newest past image, or
     * null for the disk copy) apply the dead node's redo for this block, then write the result to disk.
     *
     * @param block    the block.
     * @param base     the newest past image among the survivors, or null.
     * @param deadNode the node whose redo holds the lost changes.
     * @return the version now on disk.
     */
    long recover(long block, BlockImage base, int deadNode);

    /**
     * The blocks a dead node may have held dirty in EXCLUSIVE: those its redo touched since its last checkpoint.
     * Called on the directory agent when the death is seen; may read the dead node's log from shared storage.
     *
     * @param deadNode the node that died.
     * @return the blocks to check; the directory recovers those no survivor holds.
     */
    default java.util.Collection<Long> recoveryCandidates(final int deadNode)
    {
        return java.util.List.of();
    }
}
