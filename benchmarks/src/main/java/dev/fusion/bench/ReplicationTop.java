package dev.fusion.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ./fusion replication-top --url http://127.0.0.1:PORT [--token T] [--seconds N]}: the lag of every
 * subscriber a node's lag endpoint reports, refreshed every second in the terminal, until N seconds pass
 * (default: until interrupted).
 */
final class ReplicationTop
{
    private static final Pattern SUBSCRIBER = Pattern.compile("\\{\"subscriber\":(\\d+),\"publisher\":(\\d+)," +
        "\"state\":\"(\\w+)\",\"level\":\"(\\w+)\",\"receivedPosition\":(-?\\d+),\"flushedPosition\":(-?\\d+)," +
        "\"appliedPosition\":(-?\\d+),\"lagTransactions\":(\\d+),\"lagBytes\":(\\d+),\"timeLagMs\":(\\d+)," +
        "\"writeLagMs\":(\\d+),\"replayLagMs\":(\\d+),\"applyRatePerS\":([0-9.]+),\"commitToApplyUs\":\\[(\\d+)," +
        "(\\d+),(\\d+)\\]");
    private static final Pattern PUBLISHER_VIEW = Pattern.compile("\\{\"subscriber\":(\\d+),\"sentPosition\":(-?\\d+)," +
        "\"receivedPosition\":(-?\\d+),\"appliedPosition\":(-?\\d+),\"needsFullSync\":(\\w+),\"lagTransactions\":(\\d+)\\}");

    private ReplicationTop()
    {
    }

    static void run(final String[] args) throws Exception
    {
        String url = null;
        String token = null;
        long seconds = Long.MAX_VALUE;
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--url" -> url = value(args, ++i, "--url");
                case "--token" -> token = value(args, ++i, "--token");
                case "--seconds" -> seconds = Long.parseLong(value(args, ++i, "--seconds"));
                default -> throw new IllegalArgumentException("unknown option '" + args[i] +
                    "'; usage: replication-top --url http://HOST:PORT [--token T] [--seconds N]");
            }
        }
        if (null == url)
        {
            throw new IllegalArgumentException("replication-top needs --url http://HOST:PORT (a node's lag endpoint, " +
                "printed by ./fusion demo)");
        }
        final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        final long end = seconds == Long.MAX_VALUE ? Long.MAX_VALUE : System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() - end < 0)
        {
            final StringBuilder screen = new StringBuilder("\033[H\033[2J");
            screen.append("Fusion replication lag  ").append(url).append("  ").append(java.time.LocalTime.now()
                .withNano(0)).append('\n');
            try
            {
                final String status = get(http, url + "/replication/status", token);
                final String subs = get(http, url + "/replication/subscribers", token);
                screen.append(status).append("\n\n");
                screen.append(String.format(Locale.ROOT, "%-4s %-4s %-12s %-8s %12s %10s %10s %10s %9s %9s%n",
                    "sub", "pub", "state", "level", "applied", "lag txns", "lag ms", "replay ms", "txn/s", "p99 ms"));
                final Matcher m = SUBSCRIBER.matcher(subs);
                while (m.find())
                {
                    screen.append(String.format(Locale.ROOT, "%-4s %-4s %-12s %-8s %12s %10s %10s %10s %9.0f %9.1f%n",
                        m.group(1), m.group(2), m.group(3), m.group(4), m.group(7), m.group(8), m.group(10),
                        m.group(12), Double.parseDouble(m.group(13)), Long.parseLong(m.group(15)) / 1000.0));
                }
                final Matcher p = PUBLISHER_VIEW.matcher(subs);
                boolean header = false;
                while (p.find())
                {
                    if (!header)
                    {
                        screen.append("\npublisher's view\n");
                        screen.append(String.format(Locale.ROOT, "%-4s %12s %12s %12s %10s%n", "sub", "sent",
                            "received", "applied", "behind"));
                        header = true;
                    }
                    screen.append(String.format(Locale.ROOT, "%-4s %12s %12s %12s %10s%n", p.group(1), p.group(2),
                        p.group(3), p.group(4), p.group(6)));
                }
            }
            catch (final Exception ex)
            {
                screen.append("cannot read ").append(url).append(": ").append(ex.getMessage()).append('\n');
            }
            System.out.print(screen);
            System.out.flush();
            Thread.sleep(1000);
        }
    }

    private static String value(final String[] args, final int i, final String option)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static String get(final HttpClient http, final String url, final String token) throws Exception
    {
        final HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2));
        if (null != token)
        {
            request.header("Authorization", "Bearer " + token);
        }
        final HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200)
        {
            throw new IllegalStateException("HTTP " + response.statusCode() + ": " + response.body());
        }
        return response.body();
    }
}
