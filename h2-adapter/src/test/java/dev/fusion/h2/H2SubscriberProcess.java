package dev.fusion.h2;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Subscriber;
import dev.fusion.replication.monitor.LagMonitor;
import dev.fusion.replication.monitor.LagThresholds;
import dev.fusion.replication.monitor.MonitorHttpServer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An H2 replica as its own process, for {@link H2MultiProcessTest}: {@code CONFIG REPLICA_URL STOP_FILE} applies
 * node 1's stream into the H2 database at the URL with 8 workers, resuming after the watermark stored there,
 * serves the lag API over HTTP (printing {@code HTTP url}), prints {@code APPLIED n} as it goes, and when the stop
 * file appears writes its tables' content to {@code STOP_FILE.content} and closes cleanly.
 */
public final class H2SubscriberProcess
{
    private H2SubscriberProcess()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        final Path stop = Path.of(args[2]);
        try (ClusterNode node = ClusterNode.start(config);
             H2Apply apply = new H2Apply(args[1], 9);
             ParallelApplier applier = new ParallelApplier(apply, 8, true, 256, 100_000, apply.watermark());
             Subscriber subscriber = new Subscriber(node, 1, applier, 4096);
             LagMonitor monitor = LagMonitor.start(LagThresholds.defaults(), Duration.ofMillis(100)).track(subscriber);
             MonitorHttpServer http = MonitorHttpServer.start(monitor, MonitorHttpServer.Config.loopback(0),
                 node.nodeId()))
        {
            System.out.println("SUBSCRIBER resumes after " + apply.watermark());
            System.out.println("HTTP " + http.url());
            while (null == applier.failure() && !Files.exists(stop))
            {
                System.out.println("APPLIED " + applier.watermark());
                System.out.flush();
                Thread.sleep(100);
            }
            if (null != applier.failure())
            {
                System.out.println("FAILED " + applier.failure());
            }
            // the replica's tables as this process sees them, written before H2 is closed: the test compares them
            // with the source (reopening the file from another process is H2's business, not replication's)
            final List<String> dump = new ArrayList<>();
            for (final String table : H2Workload.TABLES)
            {
                for (final String row : H2Workload.content(args[1], table))
                {
                    dump.add(table + "\t" + row);
                }
            }
            Files.write(Path.of(args[2] + ".content"), dump);
            System.out.println("STOPPED " + applier.watermark());
            System.out.flush();
        }
    }
}
