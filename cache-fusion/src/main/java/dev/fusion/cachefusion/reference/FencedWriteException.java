package dev.fusion.cachefusion.reference;

/**
 * A write refused by {@link SharedDisk} because its writer was fenced: the quorum declared it dead in a newer
 * epoch than the one the write carries, and a survivor may already have recovered its blocks. Nothing was written.
 */
public final class FencedWriteException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param writer the writer.
     * @param token  the epoch the write carried.
     * @param fence  the writer's fence.
     */
    public FencedWriteException(final int writer, final long token, final long fence)
    {
        super("node " + writer + " is fenced: its write carries epoch " + token + " but it was declared dead in epoch " +
            fence);
    }
}
