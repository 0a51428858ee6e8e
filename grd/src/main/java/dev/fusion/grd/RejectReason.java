package dev.fusion.grd;

/** Why the directory refused a request; each has a message a caller can show. */
public enum RejectReason
{
    /** Two holders asked to convert to EXCLUSIVE at once; the later one must release and ask again. */
    CONVERSION_DEADLOCK("another holder is already converting to EXCLUSIVE: release and re-acquire"),
    /** Release or downgrade of a lock the node does not hold. */
    NOT_HELD("the node does not hold this resource"),
    /** A request for NULL, or a downgrade that is not weaker than what is held. */
    INVALID_MODE("invalid lock mode for this operation"),
    /** The request was cancelled before it was granted. */
    CANCELLED("cancelled before it was granted"),
    /** The request did not complete within its timeout. */
    TIMED_OUT("not granted within the timeout"),
    /** The resource is not mastered by the node that received the request. */
    NOT_MASTER("this node does not master the resource"),
    /** The requesting node is not a member of the current view. */
    UNKNOWN_NODE("the requesting node is not a member of the view"),
    /** The directory is closed. */
    CLOSED("the directory is closed"),
    /**
     * This node holds no lease from the membership quorum (cut off from a majority of the voters, paused, or
     * declared dead): it grants and uses nothing until it holds one again or rejoins.
     */
    FENCED("this node holds no lease from the quorum: it is cut off or was declared dead");

    private final String description;

    RejectReason(final String description)
    {
        this.description = description;
    }

    /** @return a sentence describing the reason. */
    public String description()
    {
        return description;
    }

    private static final RejectReason[] VALUES = values();

    /**
     * @param ordinal a wire value.
     * @return the reason, or null.
     */
    public static RejectReason fromOrdinal(final int ordinal)
    {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }
}
