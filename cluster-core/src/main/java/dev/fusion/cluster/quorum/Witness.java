package dev.fusion.cluster.quorum;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ConfigException;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * A witness: a voter of the membership quorum that runs no Fusion node. Two data nodes need one as their third
 * voter, so that either can be lost and the other still holds a majority. It uses the cluster's config file with
 * its own voter id as {@code nodeId}.
 * <p>
 * Usage: {@code ./fusion witness --config FILE}. Runs until SIGTERM.
 */
public final class Witness
{
    private Witness()
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
            System.err.println("usage: witness --config FILE   (the cluster's config, with nodeId = this witness's " +
                "voter id)");
            System.exit(2);
        }
        final ClusterConfig config;
        try
        {
            config = ClusterConfig.load(Path.of(args[1]));
        }
        catch (final ConfigException | java.io.UncheckedIOException ex)
        {
            System.err.println("bad config " + args[1] + ": " + ex.getMessage());
            System.exit(2);
            return;
        }
        if (!config.isWitness())
        {
            System.err.println("bad config " + args[1] + ": nodeId " + config.nodeId() + " must be a voter's id " +
                config.voters().keySet() + " that is no member's " + config.members().keySet());
            System.exit(2);
        }
        final CountDownLatch stopped = new CountDownLatch(1);
        final QuorumMember member = QuorumMember.launch(config, config.nodeId());
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            member.close();
            stopped.countDown();
        }, "fusion-witness-shutdown"));
        System.out.println("READY witness=" + config.nodeId() + " voters=" + config.voters().keySet());
        System.out.flush();
        stopped.await();
    }
}
