package dev.fusion.cluster;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one cluster node as its own process until it is stopped (SIGTERM closes it cleanly; SIGKILL is what
 * the failure tests use). It prints one line per membership change,
 * {@code VIEW node=1 epoch=3 members=[1, 2, 3]}, which scripts and tests read.
 * <p>
 * Usage: {@code StandaloneNode --config FILE} (a .properties or .yaml file, see docs/configuration.md).
 */
public final class StandaloneNode
{
    private static long printedEpoch = -1;

    private StandaloneNode()
    {
    }

    /**
     * @param args {@code --config FILE}.
     * @throws InterruptedException when interrupted while running.
     */
    public static void main(final String[] args) throws InterruptedException
    {
        if (args.length != 2 || !"--config".equals(args[0]))
        {
            System.err.println("usage: node --config FILE   (.properties or .yaml)");
            System.exit(2);
        }
        final ClusterConfig config;
        try
        {
            config = ClusterConfig.load(Path.of(args[1]));
        }
        catch (final ConfigException ex)
        {
            System.err.println("bad config " + args[1] + ": " + ex.getMessage());
            System.exit(2);
            return;
        }
        run(config);
    }

    /**
     * Starts the node, prints its views, and blocks until the JVM shuts down.
     *
     * @param config the node's config.
     * @throws InterruptedException when interrupted.
     */
    public static void run(final ClusterConfig config) throws InterruptedException
    {
        final CountDownLatch stopped = new CountDownLatch(1);
        final ClusterNode node = ClusterNode.start(config);
        node.addMembershipListener((previous, current) -> printView(current));
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            node.close();
            stopped.countDown();
        }, "fusion-node-shutdown"));
        printView(node.view());
        System.out.println("READY node=" + config.nodeId() + " endpoint=" + config.self().endpoint() +
            " aeronDir=" + node.aeronDirectory());
        System.out.flush();
        stopped.await();
    }

    /** The listener and the main thread both print; only ever print a newer view, so the last line is current. */
    private static synchronized void printView(final MembershipView view)
    {
        if (view.epoch() <= printedEpoch)
        {
            return;
        }
        printedEpoch = view.epoch();
        System.out.println("VIEW node=" + view.self() + " epoch=" + view.epoch() + " members=" + view.members());
        System.out.flush();
    }
}
