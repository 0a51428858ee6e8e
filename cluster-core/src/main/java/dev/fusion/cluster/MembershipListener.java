package dev.fusion.cluster;

/**
 * Told when the membership view changes (a member joins, or is declared dead). Called on the transport agent
 * thread, in epoch order: it must not block.
 */
@FunctionalInterface
public interface MembershipListener
{
    /**
     * @param previous the view before the change.
     * @param current  the new view; its epoch is greater than the previous one's.
     */
    void onViewChange(MembershipView previous, MembershipView current);
}
