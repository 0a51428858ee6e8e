package dev.fusion.grd;

/**
 * A request waiting in a directory entry's queue.
 *
 * @param requestId  unique per requesting node; with the node, the request's identity (retries reuse it).
 * @param node       the requesting node.
 * @param mode       the mode asked for.
 * @param conversion true when the node already holds the resource and asks for a stronger mode.
 */
public record LockRequest(long requestId, int node, LockMode mode, boolean conversion)
{
}
