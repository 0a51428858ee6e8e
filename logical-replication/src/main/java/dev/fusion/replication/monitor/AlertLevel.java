package dev.fusion.replication.monitor;

/** How far behind a subscriber is, against the configured thresholds. */
public enum AlertLevel
{
    NORMAL,
    WARNING,
    ALARM,
    CRITICAL
}
