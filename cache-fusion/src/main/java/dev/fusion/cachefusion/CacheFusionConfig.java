package dev.fusion.cachefusion;

import java.time.Duration;

/**
 * Cache fusion's settings.
 *
 * @param acquireTimeout   how long an acquire or a consistent read waits in all (default 10 s).
 * @param imageTimeout     how long a grantee waits for its supplier's image before asking again (default 200 ms).
 * @param crFairnessLimit  consistent-read requests one holder serves for a block in a row (with no local use in
 *                         between) before it answers "build it yourself" instead (default 8; RAC's fairness rule).
 * @param congestedAfter   a holder that took longer than this to ship (not counting waiting for local users)
 *                         marks the transfer congested (default 1 ms).
 * @param recoveryTimeout  how long recovery waits for a survivor's past image before asking again (default 2 s).
 */
public record CacheFusionConfig(
    Duration acquireTimeout,
    Duration imageTimeout,
    int crFairnessLimit,
    Duration congestedAfter,
    Duration recoveryTimeout)
{
    /** Checks the values. */
    public CacheFusionConfig
    {
        positive("acquireTimeout", acquireTimeout);
        positive("imageTimeout", imageTimeout);
        positive("congestedAfter", congestedAfter);
        positive("recoveryTimeout", recoveryTimeout);
        if (crFairnessLimit < 1 || crFairnessLimit > 1_000_000)
        {
            throw new IllegalArgumentException("invalid crFairnessLimit: " + crFairnessLimit +
                " (accepted: 1..1000000)");
        }
    }

    /** @return the defaults. */
    public static CacheFusionConfig defaults()
    {
        return new CacheFusionConfig(Duration.ofSeconds(10), Duration.ofMillis(200), 8, Duration.ofMillis(1),
            Duration.ofSeconds(2));
    }

    /**
     * @param limit consistent reads served in a row before answering "build it yourself".
     * @return a copy with that limit.
     */
    public CacheFusionConfig withCrFairnessLimit(final int limit)
    {
        return new CacheFusionConfig(acquireTimeout, imageTimeout, limit, congestedAfter, recoveryTimeout);
    }

    /**
     * @param timeout how long a grantee waits for an image before asking again.
     * @return a copy with that timeout.
     */
    public CacheFusionConfig withImageTimeout(final Duration timeout)
    {
        return new CacheFusionConfig(acquireTimeout, timeout, crFairnessLimit, congestedAfter, recoveryTimeout);
    }

    private static void positive(final String name, final Duration d)
    {
        if (null == d || d.isNegative() || d.isZero() || d.toHours() > 24)
        {
            throw new IllegalArgumentException("invalid " + name + ": " + d + " (accepted: 1 ms..24 h)");
        }
    }
}
