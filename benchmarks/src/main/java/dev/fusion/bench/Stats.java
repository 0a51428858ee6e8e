package dev.fusion.bench;

import org.HdrHistogram.Histogram;

import java.util.List;
import java.util.Locale;

/** Small helpers the scenarios share: medians, percentiles in microseconds, progress lines. */
public final class Stats
{
    private Stats()
    {
    }

    /**
     * @param values measurements.
     * @return their median, NaN when empty.
     */
    public static double median(final List<Double> values)
    {
        final double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (sorted.length == 0)
        {
            return Double.NaN;
        }
        final int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /**
     * @param h          a histogram of nanoseconds.
     * @param percentile 0..100.
     * @return the value in microseconds, NaN when empty.
     */
    public static double us(final Histogram h, final double percentile)
    {
        return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(percentile) / 1000.0;
    }

    /**
     * Prints a progress line.
     *
     * @param format a format string.
     * @param args   its arguments.
     */
    public static void log(final String format, final Object... args)
    {
        System.out.println(String.format(Locale.ROOT, format, args));
        System.out.flush();
    }
}
