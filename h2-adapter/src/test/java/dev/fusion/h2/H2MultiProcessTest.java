package dev.fusion.h2;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NodeConfigFiles;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.monitor.LagMonitor;
import dev.fusion.replication.monitor.LagThresholds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The H2 replica in its own JVM, applying with 8 workers while the source (in this JVM) takes a multi-threaded
 * workload with a DDL change; the replica's process is killed with SIGKILL midway and restarted. At the end the
 * two databases are identical table by table (by content: the replica as its own process reads it after the last
 * commit. Reopening its file from this JVM afterwards, five times in a row, once showed data and watermark both
 * back at the state of the first kill, in 1 of 7 runs: H2 2.3's file recovery after a SIGKILL, not replication; the
 * watermark going back with the data means a restarted subscriber would re-apply from there), and the lag API,
 * scraped over HTTP from the replica's
 * process throughout and read from the publisher's side, reported sensible figures: positions that only move
 * forward, never beyond what was published, lag that grows while the replica is down and ends at zero.
 */
class H2MultiProcessTest
{
    private static final Pattern STATE = Pattern.compile("\"state\":\"(\\w+)\"");
    private static final Pattern RECEIVED = Pattern.compile("\"receivedPosition\":(-?\\d+)");
    private static final Pattern APPLIED = Pattern.compile("\"appliedPosition\":(-?\\d+)");
    private static final Pattern LAG = Pattern.compile("\"lagTransactions\":(-?\\d+)");
    private static final Pattern TIME_LAG = Pattern.compile("\"timeLagMs\":(-?\\d+)");

    /** One scrape of {@code /replication/subscribers}. */
    record Sample(int incarnation, String state, long received, long applied, long lag, long timeLagMs,
        long published)
    {
    }

    @Test
    void killNineTheReplicaMidRunAndItEndsIdenticalWithSensibleLagFigures(@TempDir final Path dir) throws Exception
    {
        final NodeConfigFiles nodes = new NodeConfigFiles(dir, 2, 1500, "idleMaxParkUs=200");
        final String source = "jdbc:h2:mem:mp-source-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        final String replica = "jdbc:h2:" + dir.resolve("replica");
        H2Workload.schema(source);
        H2Workload.schema(replica);
        final Path stop = dir.resolve("stop");
        final List<Process> processes = new ArrayList<>();
        final List<Sample> samples = new CopyOnWriteArrayList<>();
        final AtomicReference<String> url = new AtomicReference<>();
        final AtomicLong incarnation = new AtomicLong(1);
        final AtomicBoolean sampling = new AtomicBoolean(true);
        final AtomicLong publisherLagWhileDown = new AtomicLong(-1);
        final long last;
        try (ClusterNode node = ClusterNode.start(ClusterConfig.load(nodes.file(1)));
             ReplicationLog log = ReplicationLog.open(dir.resolve("log"), 1 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(node, log, 4096);
             LagMonitor monitor = LagMonitor.start(LagThresholds.defaults(), Duration.ofMillis(100))
                 .publisher(publisher);
             Connection admin = DriverManager.getConnection(source))
        {
            final H2Capture capture = H2Capture.open(publisher, 1, admin);
            final H2Workload workload = new H2Workload(source, capture);
            workload.seed();

            final List<String> first = new CopyOnWriteArrayList<>();
            processes.add(startReplica(nodes.file(2), replica, stop, first));
            url.set(awaitUrl(first));
            final Thread sampler = new Thread(() -> sample(url, incarnation, sampling, samples, capture),
                "lag-sampler");
            sampler.start();
            final Thread writers = new Thread(() ->
            {
                try
                {
                    workload.run(4, 600, 3_000, 1_500);
                }
                catch (final Exception ex)
                {
                    workload.failures.add(ex);
                }
            }, "h2-workload");
            writers.start();

            LocalCluster.await(() -> JvmProcess.lastNumber(first, "APPLIED ") > 300 && samples.stream().anyMatch(s -> s.incarnation() == 1),
                Duration.ofSeconds(60), "first applies, sampled " + JvmProcess.tail(first));
            processes.get(0).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            url.set(null);
            final long publishedAtKill = capture.position();
            LocalCluster.await(() -> capture.position() > publishedAtKill + 100, Duration.ofSeconds(30),
                "the source keeps committing while the replica is down");
            LocalCluster.await(() ->
            {
                final long[] view = monitor.publisherView().get(2);
                return null != view && view[4] > 0;
            }, Duration.ofSeconds(10), "the publisher's view to show the replica lagging");
            publisherLagWhileDown.set(monitor.publisherView().get(2)[4]);

            final List<String> second = new CopyOnWriteArrayList<>();
            incarnation.set(2);
            processes.add(startReplica(nodes.file(2), replica, stop, second));
            url.set(awaitUrl(second));
            writers.join(180_000);
            assertThat(workload.failures).isEmpty();
            last = capture.position();
            LocalCluster.await(() -> JvmProcess.lastNumber(second, "APPLIED ") == last, Duration.ofSeconds(90),
                "the restarted replica to reach " + last + ": " + JvmProcess.tail(second));
            // the alert level clears with hysteresis (2 s below 80% of the thresholds by default)
            LocalCluster.await(() -> !samples.isEmpty() && samples.get(samples.size() - 1).applied() == last &&
                samples.get(samples.size() - 1).state().equals("CONNECTED"), Duration.ofSeconds(20),
                "the lag API to report the last position, connected: " +
                samples.subList(Math.max(0, samples.size() - 5), samples.size()));
            sampling.set(false);
            sampler.join(5_000);
            LocalCluster.await(() -> monitor.publisherView().get(2)[4] == 0, Duration.ofSeconds(10),
                "the publisher's view to show no lag");

            Files.createFile(stop);
            assertThat(processes.get(1).waitFor(30, TimeUnit.SECONDS)).as("the replica closed cleanly").isTrue();
            assertThat(second).noneMatch(l -> l.startsWith("FAILED")).anyMatch(l -> l.equals("STOPPED " + last));
            final long resumedAfter = Long.parseLong(second.stream().filter(l -> l.startsWith("SUBSCRIBER resumes"))
                .findFirst().orElseThrow().substring("SUBSCRIBER resumes after ".length()));
            assertThat(resumedAfter).as("the killed replica's applies were kept").isPositive().isLessThan(last);
        }
        finally
        {
            sampling.set(false);
            JvmProcess.stopAll(processes);
            nodes.deleteAeronDirectories();
        }

        // the replica's content as its own process read it after the last commit, before closing H2
        final List<String> dump = Files.readAllLines(Path.of(stop + ".content"));
        for (final String table : H2Workload.TABLES)
        {
            final List<String> expected = H2Workload.content(source, table);
            final List<String> actual = new ArrayList<>();
            for (final String line : dump)
            {
                if (line.startsWith(table + "\t"))
                {
                    actual.add(line.substring(table.length() + 1));
                }
            }
            final List<String> onlySource = new ArrayList<>(expected);
            actual.forEach(onlySource::remove);
            final List<String> onlyReplica = new ArrayList<>(actual);
            expected.forEach(onlyReplica::remove);
            assertThat(actual).as("table %s: only in the source %s, only in the replica %s", table, onlySource,
                onlyReplica).isEqualTo(expected).isNotEmpty();
        }
        assertThat(dump).anyMatch(r -> r.startsWith("AUDIT\t") && r.contains("after-ddl"));

        assertThat(publisherLagWhileDown.get()).as("lag seen by the publisher while the replica was down")
            .isPositive();
        assertThat(samples.stream().filter(s -> s.incarnation() == 1)).as("lag samples before the kill").isNotEmpty();
        assertThat(samples.stream().filter(s -> s.incarnation() == 2)).as("lag samples after the restart")
            .isNotEmpty();
        for (final Sample s : samples)
        {
            assertThat(s.state()).as("%s", s).isIn("CONNECTED", "SYNCING", "LAGGING", "DISCONNECTED");
            assertThat(s.applied()).as("applied never ahead of received: %s", s).isLessThanOrEqualTo(s.received());
            assertThat(s.received()).as("never beyond what was published: %s", s).isLessThanOrEqualTo(s.published());
            assertThat(s.lag()).as("%s", s).isGreaterThanOrEqualTo(0);
            assertThat(s.timeLagMs()).as("%s", s).isBetween(0L, 60_000L);
        }
        for (int i = 1; i < samples.size(); i++)
        {
            final Sample before = samples.get(i - 1);
            final Sample after = samples.get(i);
            if (before.incarnation() == after.incarnation())
            {
                assertThat(after.applied()).as("applied moves forward: %s then %s", before, after)
                    .isGreaterThanOrEqualTo(before.applied());
            }
        }
        final Sample end = samples.get(samples.size() - 1);
        assertThat(end.state()).isEqualTo("CONNECTED");
        assertThat(end.lag()).isZero();
        assertThat(samples.stream().mapToLong(Sample::lag).max().orElse(0)).as("some lag was seen").isPositive();
    }

    private static void sample(final AtomicReference<String> url, final AtomicLong incarnation,
        final AtomicBoolean sampling, final List<Sample> samples, final H2Capture capture)
    {
        final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        while (sampling.get())
        {
            final String base = url.get();
            final int current = (int)incarnation.get();
            if (null != base)
            {
                try
                {
                    final String body = client.send(HttpRequest.newBuilder(URI.create(base +
                        "/replication/subscribers")).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                    final long published = capture.position();
                    final Matcher state = STATE.matcher(body);
                    if (state.find())
                    {
                        samples.add(new Sample(current, state.group(1), number(RECEIVED, body),
                            number(APPLIED, body), number(LAG, body), number(TIME_LAG, body), published));
                    }
                }
                catch (final java.io.IOException ex)
                {
                    // the process is being killed or restarted
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
            try
            {
                Thread.sleep(200);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
        }
    }

    private static long number(final Pattern pattern, final String body)
    {
        final Matcher m = pattern.matcher(body);
        if (!m.find())
        {
            throw new AssertionError("no " + pattern + " in " + body);
        }
        return Long.parseLong(m.group(1));
    }

    private static Process startReplica(final Path config, final String url, final Path stop, final List<String> out)
        throws java.io.IOException
    {
        return JvmProcess.start(H2SubscriberProcess.class, "256m", List.of(config.toString(), url, stop.toString()),
            out);
    }

    private static String awaitUrl(final List<String> out)
    {
        LocalCluster.await(() -> out.stream().anyMatch(l -> l.startsWith("HTTP ")), Duration.ofSeconds(60),
            "the replica's HTTP endpoint: " + JvmProcess.tail(out));
        return out.stream().filter(l -> l.startsWith("HTTP ")).findFirst().orElseThrow().substring(5);
    }
}
