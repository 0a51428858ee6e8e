package dev.fusion.grd;

import java.util.concurrent.CompletableFuture;

/**
 * An acquire sent to the directory: its id (which a blocking notice, and the image a supplier ships for it,
 * carry too) and the grant to come.
 *
 * @param requestId the request's id, unique on this node and growing.
 * @param grant     completes with the grant.
 */
public record GrantRequest(long requestId, CompletableFuture<Grant> grant)
{
}
