package dev.fusion.grd;

/**
 * Resources are plain {@code long}s so that directories, maps and messages carry them without boxing. The
 * common layout is an object id in the high 32 bits and a block number in the low 32, which lets remastering
 * move a whole object; engines with other resource kinds may use any long.
 */
public final class ResourceId
{
    private ResourceId()
    {
    }

    /**
     * @param objectId the table or index id.
     * @param block    the block number within it.
     * @return the resource id.
     */
    public static long of(final int objectId, final int block)
    {
        return ((long)objectId << 32) | (block & 0xFFFF_FFFFL);
    }

    /**
     * @param resource a resource id.
     * @return its object id.
     */
    public static int objectId(final long resource)
    {
        return (int)(resource >>> 32);
    }

    /**
     * @param resource a resource id.
     * @return its block number.
     */
    public static int block(final long resource)
    {
        return (int)resource;
    }

    /**
     * @param resource a resource id.
     * @return {@code object:block}.
     */
    public static String toString(final long resource)
    {
        return objectId(resource) + ":" + Integer.toUnsignedString(block(resource));
    }
}
