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

    /**
     * The resources a dead node may have held in EXCLUSIVE, e.g. the blocks its redo touched since its last
     * checkpoint. Those it also mastered are unknown to the survivors (the directory entry died with it): the
     * new master recovers each one no survivor reports holding. Called on the directory agent when the death is
     * seen, before any grant; may read the dead node's log.
     *
     * @param deadNode the node that died.
     * @return the resources to check; empty by default.
     */
    default java.util.Collection<Long> suspects(int deadNode)
    {
        return java.util.List.of();
    }

    /**
     * The resources this node gave the dead node (cache fusion: blocks it shipped there and let go). If the dead
     * node also mastered one, the release that would have told its master died with it, and no survivor may
     * know the dead node held it: each is reported to its new master, which recovers it unless a survivor holds it.
     * Called on the directory agent when the death is seen.
     *
     * @param deadNode the node that died.
     * @return the resources; empty by default.
     */
    default java.util.Collection<Long> givenTo(int deadNode)
    {
        return java.util.List.of();
    }

    /**
     * The resources this node uses before the master's grant has reached it (cache fusion: an image shipped with a
     * granting notice's promise), with their modes and the requests they are used under. They are reported to the
     * masters at a reconfiguration like confirmed holds, with those request ids: a master rebuilt without them
     * would grant the resource to another node. Called on the
     * directory agent when a death is seen, after the view that says so is published: the engine records a hold
     * here before it checks the master is alive and uses the image only if it is.
     *
     * @return the holds by resource, each with the request it is used under; empty by default.
     */
    default java.util.Map<Long, UnconfirmedHold> unconfirmed()
    {
        return java.util.Map.of();
    }

    /** Recovers nothing: for engines without per-resource recovery and for tests. */
    RecoveryHandler NONE = (resource, deadNode) -> CompletableFuture.completedFuture(null);
}
