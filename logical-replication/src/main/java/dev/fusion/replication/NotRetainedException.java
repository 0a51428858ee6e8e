package dev.fusion.replication;

/** A replay was asked from a position the log no longer holds: the subscriber needs a full sync. */
public final class NotRetainedException extends Exception
{
    private final long retainedAfter;

    /**
     * @param from          the position asked for (exclusive).
     * @param retainedAfter every position after this one is retained.
     */
    public NotRetainedException(final long from, final long retainedAfter)
    {
        super("replay from position " + from + " is no longer retained (the log holds positions after " +
            retainedAfter + "): a full sync is needed");
        this.retainedAfter = retainedAfter;
    }

    /** @return every position after this one is still in the log. */
    public long retainedAfter()
    {
        return retainedAfter;
    }
}
