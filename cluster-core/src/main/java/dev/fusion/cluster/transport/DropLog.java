package dev.fusion.cluster.transport;

import dev.fusion.cluster.DropCause;

import java.util.EnumMap;

/**
 * Counts every drop and logs at most one line per cause per interval, saying how many were suppressed, so a
 * flood of bad frames cannot flood the log. Single-threaded: the transport agent's.
 */
final class DropLog
{
    private static final System.Logger LOG = System.getLogger("dev.fusion.cluster.transport");

    private final TransportCounters counters;
    private final long intervalNs;
    private final String node;
    private final EnumMap<DropCause, long[]> lastLogged = new EnumMap<>(DropCause.class);

    DropLog(final TransportCounters counters, final long intervalNs, final int nodeId)
    {
        this.counters = counters;
        this.intervalNs = intervalNs;
        this.node = "node " + nodeId;
        for (final DropCause cause : DropCause.values())
        {
            lastLogged.put(cause, new long[]{Long.MIN_VALUE / 2, 0});
        }
    }

    /**
     * @param cause  why.
     * @param count  how many frames or messages.
     * @param nowNs  the current time.
     * @param detail a short description; evaluated only when it is logged.
     */
    void drop(final DropCause cause, final long count, final long nowNs, final Detail detail)
    {
        counters.drops(cause).getAndAddRelease(count);
        final long[] state = lastLogged.get(cause);
        state[1] += count;
        if (nowNs - state[0] >= intervalNs)
        {
            LOG.log(System.Logger.Level.WARNING, () -> node + " dropped " + cause + ": " + detail.describe() +
                " (" + state[1] + " " + cause + " drop(s) since last report)");
            state[0] = nowNs;
            state[1] = 0;
        }
    }

    /** Builds a drop's description lazily. */
    @FunctionalInterface
    interface Detail
    {
        String describe();
    }
}
