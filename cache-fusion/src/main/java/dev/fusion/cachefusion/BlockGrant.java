package dev.fusion.cachefusion;

import dev.fusion.grd.LockMode;

/**
 * A block held (and pinned) by this node, ready to use through the engine's buffer cache.
 *
 * @param block     the block.
 * @param mode      the mode held.
 * @param kind      how it was obtained.
 * @param version   the version of the image installed (0 when already held locally).
 * @param latencyNs from the call to the grant.
 */
public record BlockGrant(long block, LockMode mode, GetKind kind, long version, long latencyNs)
{
}
