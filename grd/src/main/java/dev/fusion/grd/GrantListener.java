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
     * @param resource  the resource.
     * @param requestId the request refused.
     * @param node      the node that asked.
     * @param reason    why, for the caller's error.
     */
    void onReject(long resource, long requestId, int node, RejectReason reason);
}
