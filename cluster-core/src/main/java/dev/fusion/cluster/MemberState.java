package dev.fusion.cluster;

/** What this node believes about a member. */
public enum MemberState
{
    /** Configured but not heard from yet. */
    JOINING,
    /** Heard from within the suspect timeout. */
    ALIVE,
    /** Silent for longer than the suspect timeout; still a member of the view. */
    SUSPECT,
    /** Silent for longer than the dead timeout: removed from the view and its incarnation fenced. */
    DEAD
}
