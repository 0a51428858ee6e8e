package dev.fusion.replication.monitor;

/**
 * When a subscriber's lag raises an alert level, and when it clears. A level is raised as soon as the time lag
 * or the transaction lag reaches its threshold; it clears only once both are below {@code clearRatio} of the
 * level's thresholds and have stayed there for {@code clearAfterMs} (hysteresis: no flapping at a threshold).
 *
 * @param warningMs        time lag for WARNING.
 * @param alarmMs          time lag for ALARM.
 * @param criticalMs       time lag for CRITICAL.
 * @param warningTxns      transaction lag for WARNING.
 * @param alarmTxns        transaction lag for ALARM.
 * @param criticalTxns     transaction lag for CRITICAL.
 * @param clearRatio       share of a threshold the lag must fall below to clear it, 0..1.
 * @param clearAfterMs     how long it must stay below before the level drops.
 */
public record LagThresholds(
    long warningMs,
    long alarmMs,
    long criticalMs,
    long warningTxns,
    long alarmTxns,
    long criticalTxns,
    double clearRatio,
    long clearAfterMs)
{
    /** Checks the values. */
    public LagThresholds
    {
        if (warningMs < 1 || alarmMs < warningMs || criticalMs < alarmMs)
        {
            throw new IllegalArgumentException("invalid time thresholds: " + warningMs + "/" + alarmMs + "/" +
                criticalMs + " ms (accepted: 1 <= warning <= alarm <= critical)");
        }
        if (warningTxns < 1 || alarmTxns < warningTxns || criticalTxns < alarmTxns)
        {
            throw new IllegalArgumentException("invalid transaction thresholds: " + warningTxns + "/" + alarmTxns +
                "/" + criticalTxns + " (accepted: 1 <= warning <= alarm <= critical)");
        }
        if (!(clearRatio > 0 && clearRatio <= 1))
        {
            throw new IllegalArgumentException("invalid clearRatio: " + clearRatio + " (accepted: (0, 1])");
        }
        if (clearAfterMs < 0)
        {
            throw new IllegalArgumentException("invalid clearAfterMs: " + clearAfterMs + " (accepted: >= 0)");
        }
    }

    /** @return 1 s / 5 s / 30 s, 1,000 / 10,000 / 100,000 transactions, clear below 80% for 2 s. */
    public static LagThresholds defaults()
    {
        return new LagThresholds(1_000, 5_000, 30_000, 1_000, 10_000, 100_000, 0.8, 2_000);
    }

    /**
     * @param timeLagMs the time lag.
     * @param txnLag    the transaction lag.
     * @param ratio     1 to raise, clearRatio to test for clearing.
     * @return the highest level whose threshold (times {@code ratio}) is reached.
     */
    AlertLevel levelOf(final long timeLagMs, final long txnLag, final double ratio)
    {
        if (timeLagMs >= criticalMs * ratio || txnLag >= criticalTxns * ratio)
        {
            return AlertLevel.CRITICAL;
        }
        if (timeLagMs >= alarmMs * ratio || txnLag >= alarmTxns * ratio)
        {
            return AlertLevel.ALARM;
        }
        if (timeLagMs >= warningMs * ratio || txnLag >= warningTxns * ratio)
        {
            return AlertLevel.WARNING;
        }
        return AlertLevel.NORMAL;
    }
}
