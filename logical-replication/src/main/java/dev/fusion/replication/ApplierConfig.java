package dev.fusion.replication;

/**
 * Settings of a {@link ParallelApplier}; {@link #builder()} holds the defaults, and a bad value names the field
 * and the accepted range.
 *
 * @param minWorkers          the fewest workers the applier keeps active (default 1).
 * @param workers             the most: apply threads started (default: the number of cores, at most 16;
 *                            accepted 1..64). Between the two, the count adapts to the ready queue's depth.
 * @param preserveCommitOrder commit in source order (default true: reordering independent transactions can
 *                            show states the source never had).
 * @param window              the most transactions in flight (default 1024).
 * @param maxKeyHistory       key hashes remembered before the history is forgotten behind a barrier (default 1M).
 * @param maxCommitBatch      the largest group of consecutive transactions committed at once with commit order
 *                            preserved (default 64, accepted 1..4096); the group size adapts below it.
 */
public record ApplierConfig(int minWorkers, int workers, boolean preserveCommitOrder, int window, int maxKeyHistory,
    int maxCommitBatch)
{
    /** Validates. */
    public ApplierConfig
    {
        check("workers", workers, 1, 64);
        check("minWorkers", minWorkers, 1, workers);
        check("window", window, 1, 1 << 24);
        check("maxKeyHistory", maxKeyHistory, 1, Integer.MAX_VALUE);
        check("maxCommitBatch", maxCommitBatch, 1, 4096);
    }

    private static void check(final String field, final long value, final long min, final long max)
    {
        if (value < min || value > max)
        {
            throw new IllegalArgumentException("invalid " + field + ": " + value + " (accepted: " + min + ".." + max + ")");
        }
    }

    /** @return a builder with the defaults. */
    public static Builder builder()
    {
        return new Builder();
    }

    /** Builds an {@link ApplierConfig}. */
    public static final class Builder
    {
        private int minWorkers = 1;
        private int workers = Math.min(16, Runtime.getRuntime().availableProcessors());
        private boolean preserveCommitOrder = true;
        private int window = 1024;
        private int maxKeyHistory = 1 << 20;
        private int maxCommitBatch = ParallelApplier.DEFAULT_MAX_COMMIT_BATCH;

        /** @param n the largest commit group. @return this */
        public Builder maxCommitBatch(final int n)
        {
            maxCommitBatch = n;
            return this;
        }

        /** @param n the most apply threads. @return this */
        public Builder workers(final int n)
        {
            workers = n;
            return this;
        }

        /** @param n the fewest active apply threads. @return this */
        public Builder minWorkers(final int n)
        {
            minWorkers = n;
            return this;
        }

        /** @param preserve commit in source order. @return this */
        public Builder preserveCommitOrder(final boolean preserve)
        {
            preserveCommitOrder = preserve;
            return this;
        }

        /** @param n transactions in flight. @return this */
        public Builder window(final int n)
        {
            window = n;
            return this;
        }

        /** @param n key hashes remembered. @return this */
        public Builder maxKeyHistory(final int n)
        {
            maxKeyHistory = n;
            return this;
        }

        /** @return the validated config. */
        public ApplierConfig build()
        {
            return new ApplierConfig(Math.min(minWorkers, workers), workers, preserveCommitOrder, window, maxKeyHistory,
                maxCommitBatch);
        }
    }
}
