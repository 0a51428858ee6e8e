package dev.fusion.bench;

/** Command-line options shared by the demo and the scenarios. */
public final class Options
{
    private int seconds = -1;
    private boolean plot;
    private boolean quorum = true;
    private int kills = -1;

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
            if ("--membership".equals(args[i]) && i + 1 < args.length)
            {
                final String value = args[++i];
                if (!"quorum".equals(value) && !"local".equals(value))
                {
                    throw new IllegalArgumentException("--membership takes quorum or local, got '" + value + "'");
                }
                options.quorum = "quorum".equals(value);
                continue;
            }
            if ("--kills".equals(args[i]) && i + 1 < args.length)
            {
                options.kills = wholeNumber("--kills", args[++i], 100);
                continue;
            }
            if ("--seconds".equals(args[i]) && i + 1 < args.length)
            {
                options.seconds = wholeNumber("--seconds", args[++i], 3600);
            }
            else
            {
                throw new IllegalArgumentException("unknown option '" + args[i] +
                    "' (accepted: --seconds N, --plot, --membership quorum|local, --kills N)");
            }
        }
        return options;
    }

    /**
     * @return whether the clusters a scenario starts decide membership by a quorum of voters (the default;
     * {@code --membership local}: each node alone, as before the quorum existed, for a side-by-side figure).
     */
    public boolean quorum()
    {
        return quorum;
    }

    private static int wholeNumber(final String option, final String text, final int max)
    {
        final int value;
        try
        {
            value = Integer.parseInt(text);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(option + " takes a whole number, got '" + text + "'");
        }
        if (value < 1 || value > max)
        {
            throw new IllegalArgumentException(option + " must be 1.." + max + ", got " + value);
        }
        return value;
    }

    /**
     * @param defaultKills used when {@code --kills} was not given.
     * @return how many nodes the failover scenario kills.
     */
    public int kills(final int defaultKills)
    {
        return kills > 0 ? kills : defaultKills;
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
