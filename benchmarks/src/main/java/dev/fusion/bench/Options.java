package dev.fusion.bench;

/** Command-line options shared by the demo and the scenarios. */
public final class Options
{
    private int seconds = -1;
    private boolean plot;

    private Options()
    {
    }

    /**
     * @param args {@code --seconds N}, {@code --plot}.
     * @return the options.
     * @throws IllegalArgumentException on an unknown option or a bad value.
     */
    public static Options parse(final String[] args)
    {
        final Options options = new Options();
        for (int i = 0; i < args.length; i++)
        {
            if ("--plot".equals(args[i]))
            {
                options.plot = true;
                continue;
            }
            if ("--seconds".equals(args[i]) && i + 1 < args.length)
            {
                try
                {
                    options.seconds = Integer.parseInt(args[++i]);
                }
                catch (final NumberFormatException ex)
                {
                    throw new IllegalArgumentException("--seconds takes a whole number, got '" + args[i] + "'");
                }
                if (options.seconds < 1 || options.seconds > 3600)
                {
                    throw new IllegalArgumentException("--seconds must be 1..3600, got " + options.seconds);
                }
            }
            else
            {
                throw new IllegalArgumentException("unknown option '" + args[i] + "' (accepted: --seconds N, --plot)");
            }
        }
        return options;
    }

    /** @return whether {@code --plot} was given (a chart of the run is written into docs/). */
    public boolean plot()
    {
        return plot;
    }

    /**
     * @param defaultSeconds used when {@code --seconds} was not given.
     * @return the run length in seconds.
     */
    public int seconds(final int defaultSeconds)
    {
        return seconds > 0 ? seconds : defaultSeconds;
    }
}
