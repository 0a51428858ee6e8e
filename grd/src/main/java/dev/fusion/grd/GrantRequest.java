package dev.fusion.grd;

import java.util.concurrent.CompletableFuture;

/**
 * An acquire sent to the directory: its id (which a blocking notice, and the image a supplier ships for it,
 * carry too) and the grant to come.
 *
 * @param requestId   the request's id, unique on this node and growing.
 * @param grant       completes with the grant.
 * @param viewChanges {@link GlobalResourceDirectory#viewChanges()} when the request was made: an image that
 *                    carries this request's grant may be used before the grant arrives only while it is unchanged
 *                    (the master that promised the grant may have died, and its successor must hear of the hold).
 */
public record GrantRequest(long requestId, CompletableFuture<Grant> grant, long viewChanges)
{
}
