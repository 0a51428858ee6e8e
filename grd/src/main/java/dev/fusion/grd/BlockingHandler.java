package dev.fusion.grd;

/**
 * Told when a resource this node holds stands in the way of another node's request, or when this node is named
 * to supply a grantee with the resource's image. Cache fusion implements it: it ships the image (when
 * {@code ship}) once local users are done, then downgrades to {@code keep} through the directory. Without a
 * handler the holder keeps the resource until the engine releases it.
 */
@FunctionalInterface
public interface BlockingHandler
{
    /**
     * Called on the directory agent's thread; must not block.
     *
     * @param resource  the resource.
     * @param requester the node waiting (or being granted).
     * @param requested the mode it asked for.
     * @param keep      the strongest mode this node may keep; its current mode when it only ships.
     * @param ship      whether this node supplies the requester with the image.
     * @param requestId the requester's request id (ties the image to the grant).
     * @param holderGrant the id of this node's request the master believes it holds the resource under, or
     *                  {@link Long#MIN_VALUE} when the master does not know (after a reconfiguration): a notice
     *                  naming an older grant is stale (this node gave the resource up and got it again since) and
     *                  must be ignored.
     * @param granting  the master grants the request as soon as this node gives way (this node is the only holder
     *                  in its way, in EXCLUSIVE, and no request can overtake it), or has granted it already: the
     *                  image shipped may carry the grant, and the requester use it before the master's answer
     *                  arrives (one message fewer on a 3-way transfer).
     */
    void onBlocking(long resource, int requester, LockMode requested, LockMode keep, boolean ship, long requestId,
        long holderGrant, boolean granting);
}
