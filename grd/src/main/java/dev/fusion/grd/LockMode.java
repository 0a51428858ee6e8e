package dev.fusion.grd;

/**
 * The mode a node holds a resource in. SHARED is compatible with SHARED; EXCLUSIVE with nothing but NULL.
 */
public enum LockMode
{
    /** Holds nothing; compatible with every mode. */
    NULL,
    /** Read access; any number of nodes may hold it together. */
    SHARED,
    /** Write access; one holder, nobody else in SHARED or EXCLUSIVE. */
    EXCLUSIVE;

    private static final LockMode[] VALUES = values();

    /**
     * @param other a mode another holder has.
     * @return true when both can be held at once.
     */
    public boolean compatibleWith(final LockMode other)
    {
        return this == NULL || other == NULL || (this == SHARED && other == SHARED);
    }

    /**
     * @param other a mode.
     * @return true when this mode grants at least what {@code other} does.
     */
    public boolean covers(final LockMode other)
    {
        return ordinal() >= other.ordinal();
    }

    /**
     * @param ordinal a wire value.
     * @return the mode, or null when the value is not a mode.
     */
    public static LockMode fromOrdinal(final int ordinal)
    {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }
}
