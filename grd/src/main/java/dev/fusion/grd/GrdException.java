package dev.fusion.grd;

/** A directory request failed; {@link #reason()} says why. */
public final class GrdException extends RuntimeException
{
    private final RejectReason reason;

    /**
     * @param reason   why.
     * @param resource the resource.
     * @param mode     the mode asked for, or null.
     */
    public GrdException(final RejectReason reason, final long resource, final LockMode mode)
    {
        super((null == mode ? "" : mode + " ") + "request for " + ResourceId.toString(resource) + " failed: " +
            reason + " (" + reason.description() + ")");
        this.reason = reason;
    }

    /** @return why the request failed. */
    public RejectReason reason()
    {
        return reason;
    }
}
