package dev.fusion.grd;

import java.util.concurrent.CompletableFuture;

/**
 * The engine's part in reconfiguration: a resource a dead node held in EXCLUSIVE may have changes only that
 * node's redo knows. The directory grants it to nobody until the future this returns completes.
 */
@FunctionalInterface
public interface RecoveryHandler
{
    /**
     * Called on the directory agent; must not block: start the work and return its future.
     *
     * @param resource the resource.
     * @param deadNode the node that held it in EXCLUSIVE.
     * @return completes when the resource is recovered.
     */
    CompletableFuture<Void> recover(long resource, int deadNode);

    /** Recovers nothing: for engines without per-resource recovery and for tests. */
    RecoveryHandler NONE = (resource, deadNode) -> CompletableFuture.completedFuture(null);
}
