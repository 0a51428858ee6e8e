package dev.fusion.grd;

/**
 * Where a directory entry lives. HOT entries stay decoded on the heap; WARM and COLD ones only in the off-heap
 * store, COLD being the ones neither used recently nor often (the first candidates for any future eviction).
 */
public enum Tier
{
    /** Used within the hot recency, or more often than the hot rate. */
    HOT,
    /** Used within the warm recency, or more often than the warm rate. */
    WARM,
    /** Neither. */
    COLD;

    private static final double MS_PER_DAY = 86_400_000.0;

    /**
     * @param config        the thresholds.
     * @param accessCount   uses so far.
     * @param firstAccessMs wall-clock time of the first use.
     * @param lastAccessMs  wall-clock time of the last use.
     * @param nowMs         the time now.
     * @return the entry's tier.
     */
    public static Tier classify(
        final GrdConfig config, final long accessCount, final long firstAccessMs, final long lastAccessMs,
        final long nowMs)
    {
        final long idleMs = nowMs - lastAccessMs;
        final double days = Math.max(1.0 / 24, (nowMs - firstAccessMs) / MS_PER_DAY);
        final double perDay = accessCount / days;
        if (idleMs <= config.hotRecency().toMillis() || perDay > config.hotOpsPerDay())
        {
            return HOT;
        }
        if (idleMs <= config.warmRecency().toMillis() || perDay > config.warmOpsPerDay())
        {
            return WARM;
        }
        return COLD;
    }
}
