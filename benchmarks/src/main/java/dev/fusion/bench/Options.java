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
                try
                {
                    options.kills = Integer.parseInt(args[++i]);
                }
                catch (final NumberFormatException ex)
                {
                    throw new IllegalArgumentException("--kills takes a whole number, got '" + args[i] + "'");
                }
                if (options.kills < 1 || options.kills > 100)
                {
                    throw new IllegalArgumentException("--kills must be 1..100, got " + options.kills);
                }
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
