package dev.fusion.replication;

/**
 * Settings of a {@link ParallelApplier}; {@link #builder()} holds the defaults, and a bad value names the field
 * and the accepted range.
 *
 * @param workers             apply threads (default: the number of cores, at most 16; accepted 1..64).
 * @param preserveCommitOrder commit in source order (default true: reordering independent transactions can
 *                            show states the source never had).
 * @param window              the most transactions in flight (default 1024).
 * @param maxKeyHistory       key hashes remembered before the history is forgotten behind a barrier (default 1M).
 */
public record ApplierConfig(int workers, boolean preserveCommitOrder, int window, int maxKeyHistory)
{
    /** Validates. */
    public ApplierConfig
    {
        check("workers", workers, 1, 64);
        check("window", window, 1, 1 << 24);
        check("maxKeyHistory", maxKeyHistory, 1, Integer.MAX_VALUE);
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
        private int workers = Math.min(16, Runtime.getRuntime().availableProcessors());
        private boolean preserveCommitOrder = true;
        private int window = 1024;
        private int maxKeyHistory = 1 << 20;

        /** @param n apply threads. @return this */
        public Builder workers(final int n)
        {
            workers = n;
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
            return new ApplierConfig(workers, preserveCommitOrder, window, maxKeyHistory);
        }
    }
}
