package dev.fusion.grd;

import java.io.File;
import java.time.Duration;

/**
 * Settings of the global resource directory. Built with {@link #builder()}; every value is checked and a bad
 * one names the field and the accepted range.
 *
 * @param virtualNodes             points per node on the master ring (default 256).
 * @param requestTimeout           how long acquire/release wait by default (default 5 s).
 * @param storeFile                where mastered entries persist (null: off-heap memory only).
 * @param maxEntries               entries the off-heap store is sized for (default 1,000,000).
 * @param remastering              whether affinity remastering is on (default true).
 * @param remoteRequestsToRemaster consecutive requests from one remote node that move mastership (default 3).
 * @param minResidence             how long a resource stays with a new master before it may move again.
 * @param hotRecency               an entry accessed within this stays in the on-heap tier (default 1 h).
 * @param hotMaxEntries            the most entries the on-heap tier keeps (default 100,000).
 * @param ownThread                run the directory agent on a thread of its own (default false: on the
 *                                 cluster node's thread, which saves a thread hand-off per message).
 * @param retryInterval            an unanswered request is sent again after this (default 500 ms).
 * @param warmRecency              an entry used within this is at least WARM (default 24 h).
 * @param hotOpsPerDay             an entry used more often than this (per day, averaged since its first use) is
 *                                 HOT whatever its recency (default 100).
 * @param warmOpsPerDay            likewise for WARM (default 10).
 * @param tierScanInterval         how often the store is scanned to count WARM and COLD entries (default 60 s).
 * @param objectShare              a remote node making more than this share of an object's requests at this
 *                                 master within {@code objectWindow} gets all of the object's entries here
 *                                 (default 0.8; 0 turns the object rule off).
 * @param objectWindow             the window of the object rule (default 1 s).
 * @param objectMinRequests        requests an object needs in a window before the rule applies (default 20).
 * @param joinTimeout              a starting directory masters nothing until every live member says it has handed
 *                                 over what the newcomer masters; it names the silent ones every this often
 *                                 (default 10 s) and keeps waiting.
 */
public record GrdConfig(
    int virtualNodes,
    Duration requestTimeout,
    File storeFile,
    long maxEntries,
    boolean remastering,
    int remoteRequestsToRemaster,
    Duration minResidence,
    Duration hotRecency,
    int hotMaxEntries,
    boolean ownThread,
    Duration retryInterval,
    Duration warmRecency,
    double hotOpsPerDay,
    double warmOpsPerDay,
    Duration tierScanInterval,
    double objectShare,
    Duration objectWindow,
    int objectMinRequests,
    Duration joinTimeout)
{
    /** Validates. */
    public GrdConfig
    {
        check("virtualNodes", virtualNodes, 1, 65536);
        check("requestTimeout (ms)", requestTimeout.toMillis(), 1, 3_600_000);
        check("maxEntries", maxEntries, 1_000, 1L << 34);
        check("remoteRequestsToRemaster", remoteRequestsToRemaster, 1, 1_000_000);
        check("minResidence (ms)", minResidence.toMillis(), 0, 86_400_000);
        check("hotRecency (ms)", hotRecency.toMillis(), 0, 30L * 86_400_000);
        check("hotMaxEntries", hotMaxEntries, 0, 100_000_000);
        check("retryInterval (ms)", retryInterval.toMillis(), 1, 3_600_000);
        check("warmRecency (ms)", warmRecency.toMillis(), hotRecency.toMillis(), 365L * 86_400_000);
        check("tierScanInterval (ms)", tierScanInterval.toMillis(), 10, 86_400_000);
        check("objectWindow (ms)", objectWindow.toMillis(), 1, 86_400_000);
        check("objectMinRequests", objectMinRequests, 1, 1_000_000_000);
        check("joinTimeout (ms)", joinTimeout.toMillis(), 1, 3_600_000);
        if (!(objectShare >= 0 && objectShare <= 1))
        {
            throw new IllegalArgumentException("invalid objectShare: " + objectShare + " (accepted: 0..1)");
        }
        if (!(hotOpsPerDay >= warmOpsPerDay && warmOpsPerDay >= 0))
        {
            throw new IllegalArgumentException("invalid hotOpsPerDay/warmOpsPerDay: " + hotOpsPerDay + "/" +
                warmOpsPerDay + " (accepted: hotOpsPerDay >= warmOpsPerDay >= 0)");
        }
    }

    private static void check(final String field, final long value, final long min, final long max)
    {
        if (value < min || value > max)
        {
            throw new IllegalArgumentException("invalid " + field + ": " + value + " (accepted: " + min + ".." + max + ")");
        }
    }

    /** @return the defaults. */
    public static GrdConfig defaults()
    {
        return builder().build();
    }

    /** @return a builder with the defaults. */
    public static Builder builder()
    {
        return new Builder();
    }

    /** Builds a {@link GrdConfig}. */
    public static final class Builder
    {
        private int virtualNodes = MasterRing.DEFAULT_VIRTUAL_NODES;
        private Duration requestTimeout = Duration.ofSeconds(5);
        private File storeFile;
        private long maxEntries = 1_000_000;
        private boolean remastering = true;
        private int remoteRequestsToRemaster = 3;
        private Duration minResidence = Duration.ofSeconds(1);
        private Duration hotRecency = Duration.ofHours(1);
        private int hotMaxEntries = 100_000;
        private boolean ownThread;
        private Duration retryInterval = Duration.ofMillis(500);
        private Duration warmRecency = Duration.ofHours(24);
        private double hotOpsPerDay = 100;
        private double warmOpsPerDay = 10;
        private Duration tierScanInterval = Duration.ofSeconds(60);
        private double objectShare = 0.8;
        private Duration objectWindow = Duration.ofSeconds(1);
        private int objectMinRequests = 20;
        private Duration joinTimeout = Duration.ofSeconds(10);

        /** @param n points per node. @return this */
        public Builder virtualNodes(final int n)
        {
            virtualNodes = n;
            return this;
        }

        /** @param timeout default request timeout. @return this */
        public Builder requestTimeout(final Duration timeout)
        {
            requestTimeout = timeout;
            return this;
        }

        /** @param file persistence file, or null. @return this */
        public Builder storeFile(final File file)
        {
            storeFile = file;
            return this;
        }

        /** @param n entries to size the store for. @return this */
        public Builder maxEntries(final long n)
        {
            maxEntries = n;
            return this;
        }

        /** @param on affinity remastering on or off. @return this */
        public Builder remastering(final boolean on)
        {
            remastering = on;
            return this;
        }

        /** @param n consecutive remote requests that trigger a move. @return this */
        public Builder remoteRequestsToRemaster(final int n)
        {
            remoteRequestsToRemaster = n;
            return this;
        }

        /** @param d minimum residence after a move. @return this */
        public Builder minResidence(final Duration d)
        {
            minResidence = d;
            return this;
        }

        /** @param d recency that keeps an entry hot. @return this */
        public Builder hotRecency(final Duration d)
        {
            hotRecency = d;
            return this;
        }

        /** @param n on-heap tier bound. @return this */
        public Builder hotMaxEntries(final int n)
        {
            hotMaxEntries = n;
            return this;
        }

        /** @param own true for a directory thread of its own. @return this */
        public Builder ownThread(final boolean own)
        {
            ownThread = own;
            return this;
        }

        /** @param d how long a request goes unanswered before it is sent again. @return this */
        public Builder retryInterval(final Duration d)
        {
            retryInterval = d;
            return this;
        }

        /** @param d recency that keeps an entry warm. @return this */
        public Builder warmRecency(final Duration d)
        {
            warmRecency = d;
            return this;
        }

        /** @param hot ops per day that make an entry hot. @param warm ops per day for warm. @return this */
        public Builder opsPerDay(final double hot, final double warm)
        {
            hotOpsPerDay = hot;
            warmOpsPerDay = warm;
            return this;
        }

        /** @param d how often WARM and COLD entries are counted. @return this */
        public Builder tierScanInterval(final Duration d)
        {
            tierScanInterval = d;
            return this;
        }

        /**
         * @param share       a remote node's share of an object's requests that moves the object (0: off).
         * @param window      the window it is measured over.
         * @param minRequests requests needed in a window.
         * @return this
         */
        public Builder objectRule(final double share, final Duration window, final int minRequests)
        {
            objectShare = share;
            objectWindow = window;
            objectMinRequests = minRequests;
            return this;
        }

        /**
         * @param d how often a starting directory names the live members that have not yet said they handed over
         *          what the newcomer masters (it keeps waiting for them).
         * @return this
         */
        public Builder joinTimeout(final Duration d)
        {
            joinTimeout = d;
            return this;
        }

        /** @return the validated config. */
        public GrdConfig build()
        {
            return new GrdConfig(virtualNodes, requestTimeout, storeFile, maxEntries, remastering,
                remoteRequestsToRemaster, minResidence, hotRecency, hotMaxEntries, ownThread, retryInterval,
                warmRecency, hotOpsPerDay, warmOpsPerDay, tierScanInterval, objectShare, objectWindow,
                objectMinRequests, joinTimeout);
        }
    }
}
