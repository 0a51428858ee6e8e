package dev.fusion.bench;

import dev.fusion.cluster.StandaloneNode;

import java.util.Arrays;

/** The assembly's entry point: {@code demo}, {@code bench NAME}, {@code node --config FILE}. */
public final class Main
{
    private Main()
    {
    }

    /**
     * @param args the subcommand and its arguments.
     * @throws Exception when the subcommand fails.
     */
    public static void main(final String[] args) throws Exception
    {
        System.setProperty("chronicle.analytics.disable", "true");
        if (null == System.getProperty("java.util.logging.SimpleFormatter.format"))
        {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT.%1$tL %4$s %3$s - %5$s%6$s%n");
        }
        if (args.length == 0)
        {
            usage(0);
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0])
        {
            case "demo":
                Demo.run(Options.parse(rest));
                break;
            case "bench":
                if (rest.length == 0)
                {
                    usage(2);
                }
                Scenarios.run(rest[0], Options.parse(Arrays.copyOfRange(rest, 1, rest.length)));
                break;
            case "jmh":
                Jmh.run(rest);
                break;
            case "node":
                StandaloneNode.main(rest);
                break;
            case "witness":
                dev.fusion.cluster.quorum.Witness.main(rest);
                break;
            case "replication-top":
                ReplicationTop.run(rest);
                break;
            case "help":
            case "--help":
            case "-h":
                usage(0);
                break;
            default:
                System.err.println("unknown command '" + args[0] + "'");
                usage(2);
        }
        System.exit(0);
    }

    private static void usage(final int status)
    {
        System.err.println(String.join(System.lineSeparator(),
            "usage: ./fusion COMMAND",
            "  demo [--seconds N]               a 3-node cluster on loopback, live; finishes by itself",
            "  bench NAME [--seconds N]         a scenario benchmark; ends with one JSON line. NAME: " +
                String.join(", ", Scenarios.names()),
            "                                   grd, cachefusion: --membership quorum|local (default quorum);",
            "                                   failover: --kills N (default 10)",
            "  node --config FILE               one cluster node as its own process (.properties or .yaml)",
            "  witness --config FILE            a voter of the membership quorum that runs no node (nodeId = its " +
                "voter id)",
            "  jmh [JMH options]                the JMH suite (e.g. ./fusion jmh FrameCodec)",
            "  replication-top --url URL [--token T] [--seconds N]",
            "                                   live replication lag from a node's lag endpoint"));
        System.exit(status);
    }
}
