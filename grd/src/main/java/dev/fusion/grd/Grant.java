package dev.fusion.grd;

/**
 * A granted lock and where the grantee gets the resource's current image.
 *
 * @param mode     the mode granted.
 * @param supplier the holder told to ship its image to the grantee; -1 when none is: the grantee already has a
 *                 current copy (a conversion) or no cache holds the resource and the disk copy is current.
 * @param master    the node that granted it.
 * @param requestId the request's id, which the supplier's image carries too.
 */
public record Grant(LockMode mode, int supplier, int master, long requestId)
{
    /** No supplier: read from disk or use the copy already held. */
    public static final int NO_SUPPLIER = -1;
}
