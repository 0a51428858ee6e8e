package dev.fusion.grd;

/** Told of the outcome of requests as a directory entry processes them; called on the directory agent. */
public interface GrantListener
{
    /**
     * @param resource  the resource.
     * @param requestId the request granted.
     * @param node      the node it was granted to.
     * @param mode      the mode granted.
     */
    void onGrant(long resource, long requestId, int node, LockMode mode);

    /**
     * A grant that names where the grantee gets the resource's current image (cache fusion).
     *
     * @param resource  the resource.
     * @param requestId the request granted.
     * @param node      the node it was granted to.
     * @param mode      the mode granted.
     * @param supplier  the holder told to ship its image to the grantee, or -1 when no other cache has it.
     */
    default void onGrant(long resource, long requestId, int node, LockMode mode, int supplier)
    {
        onGrant(resource, requestId, node, mode);
    }

    /**
     * A holder stands in the way of a request (or is the one to supply its image): it should give way by
     * keeping no more than {@code keep}, shipping its image first when {@code ship} is set.
     *
     * @param resource  the resource.
     * @param holder    the holder told.
     * @param keep      the strongest mode it may keep (its current mode when it only ships).
     * @param requester the node waiting.
     * @param requested the mode it waits for.
     * @param requestId the waiting request.
     * @param ship      whether this holder supplies the image.
     * @param holderGrant the request id of the holder's grant, or {@link Long#MIN_VALUE} when unknown.
     * @param granting  the request is granted as soon as this holder gives way (it is the only one in the way,
     *                  in EXCLUSIVE, and nothing can overtake the request), or is granted already: the image it
     *                  ships may tell the requester so.
     */
    default void onBlocking(long resource, int holder, LockMode keep, int requester, LockMode requested,
        long requestId, boolean ship, long holderGrant, boolean granting)
    {
    }

    /**
     * @return the holder to prefer as a supplier among equals (the master itself: one message fewer), or -1.
     */
    default int preferredSupplier()
    {
        return -1;
    }

    /**
     * @param resource  the resource.
     * @param requestId the request refused.
     * @param node      the node that asked.
     * @param reason    why, for the caller's error.
     */
    void onReject(long resource, long requestId, int node, RejectReason reason);
}
