package dev.fusion.replication;

import dev.fusion.cluster.LocalCluster;
import dev.fusion.replication.monitor.AlertLevel;
import dev.fusion.replication.monitor.LagListener;
import dev.fusion.replication.monitor.LagMonitor;
import dev.fusion.replication.monitor.LagThresholds;
import dev.fusion.replication.monitor.MonitorHttpServer;
import dev.fusion.replication.monitor.ReplicationState;
import dev.fusion.replication.monitor.SubscriberLag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The lag figures match a subscriber held back for a known time and number of transactions; alert levels
 * fire at their thresholds and clear only after the hysteresis; the HTTP endpoints serve the documented JSON
 * and a valid Prometheus exposition, and refuse what they should.
 */
class LagMonitorTest
{
    /** Applies nothing while paused: the subscriber falls behind by exactly what is published meanwhile. */
    static final class Gate implements ApplyHandler
    {
        volatile boolean paused;

        @Override
        public void apply(final Transaction txn) throws InterruptedException
        {
            while (paused)
            {
                Thread.sleep(1);
            }
        }
    }

    private static Transaction txn(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("t",
            new KeyRef("t", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT, null,
            ("v" + position).getBytes(StandardCharsets.UTF_8))));
    }

    record Event(String what, String from, String to)
    {
    }

    @Test
    void lagFiguresMatchAPausedSubscriberAndAlertsFireAndClearWithHysteresis(@TempDir final Path dir)
        throws Exception
    {
        final LagThresholds thresholds = new LagThresholds(300, 1_000, 60_000, 1_000, 10_000, 100_000, 0.8, 400);
        final Gate gate = new Gate();
        final List<Event> events = new CopyOnWriteArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 1024);
             ParallelApplier applier = new ParallelApplier(gate, 2, true, 256, 100_000, 0);
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 256);
             LagMonitor monitor = LagMonitor.start(thresholds, Duration.ofMillis(50)))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            monitor.track(subscriber).publisher(publisher);
            monitor.addListener(new LagListener()
            {
                @Override
                public void onLevel(final AlertLevel from, final AlertLevel to, final SubscriberLag lag)
                {
                    events.add(new Event("level", from.name(), to.name()));
                }

                @Override
                public void onState(final ReplicationState from, final ReplicationState to, final SubscriberLag lag)
                {
                    events.add(new Event("state", from.name(), to.name()));
                }
            });
            long position = 0;
            for (int i = 0; i < 100; i++)
            {
                publisher.publish(txn(++position));
            }
            assertThat(applier.awaitWatermark(position, 30_000)).isTrue();
            monitor.sampleNow();
            SubscriberLag lag = monitor.subscribers().get(0);
            assertThat(lag.state()).isEqualTo(ReplicationState.CONNECTED);
            assertThat(lag.level()).isEqualTo(AlertLevel.NORMAL);
            assertThat(lag.lagTransactions()).isZero();
            assertThat(lag.timeLagMs()).isZero();
            assertThat(lag.appliedPosition()).isEqualTo(100);

            // hold the subscriber back: 50 transactions committed at the source, 1.5 s ago by the time we look
            gate.paused = true;
            final long pausedAt = System.currentTimeMillis();
            for (int i = 0; i < 50; i++)
            {
                publisher.publish(txn(++position));
            }
            final long last = position;
            LocalCluster.await(() -> subscriber.receivedPosition() == last, Duration.ofSeconds(10), "all received");
            Thread.sleep(1_500 - (System.currentTimeMillis() - pausedAt));
            monitor.sampleNow();
            final long lookedAt = System.currentTimeMillis();
            lag = monitor.subscribers().get(0);
            assertThat(lag.receivedPosition()).isEqualTo(150);
            assertThat(lag.appliedPosition()).isLessThan(150);
            // the applier may hold one or two of them in its workers (not committed): all 50 are not applied yet
            assertThat(lag.lagTransactions()).isEqualTo(150 - lag.appliedPosition());
            assertThat(lag.lagTransactions()).isBetween(49L, 50L);
            assertThat(lag.timeLagMs()).isBetween(1_400L, lookedAt - pausedAt + 100);
            assertThat(lag.lagBytes()).isPositive();
            assertThat(lag.level()).isEqualTo(AlertLevel.ALARM);
            assertThat(lag.state()).isEqualTo(ReplicationState.LAGGING);
            assertThat(monitor.publisherView().get(2)[4]).as("the publisher sees it behind too").isPositive();
            assertThat(events).contains(new Event("state", "CONNECTED", "LAGGING"));
            assertThat(events).filteredOn(e -> e.what().equals("level")).last()
                .isEqualTo(new Event("level", "WARNING", "ALARM"));

            // let it go: caught up, but the level holds for the hysteresis before it clears
            gate.paused = false;
            assertThat(applier.awaitWatermark(last, 30_000)).isTrue();
            monitor.sampleNow();
            lag = monitor.subscribers().get(0);
            assertThat(lag.lagTransactions()).isZero();
            assertThat(lag.timeLagMs()).isZero();
            assertThat(lag.level()).as("not cleared before clearAfterMs").isEqualTo(AlertLevel.ALARM);
            LocalCluster.await(() -> monitor.subscribers().get(0).level() == AlertLevel.NORMAL, Duration.ofSeconds(5),
                "the alert to clear");
            assertThat(events).filteredOn(e -> e.what().equals("level")).last()
                .isEqualTo(new Event("level", "ALARM", "NORMAL"));
            assertThat(monitor.subscribers().get(0).state()).isEqualTo(ReplicationState.CONNECTED);
            assertThat(monitor.subscribers().get(0).commitToApplyAllUs()[2])
                .as("p99.9 of commit-to-apply includes the 1.5 s wait").isGreaterThanOrEqualTo(1_400_000L);
            assertThat(monitor.subscribers().get(0).replayLagMs()).isGreaterThanOrEqualTo(1_400L);
        }
    }

    @Test
    void theHttpEndpointsServeDocumentedJsonAndAValidPrometheusExposition(@TempDir final Path dir) throws Exception
    {
        final Gate gate = new Gate();
        try (LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 1024);
             ParallelApplier applier = new ParallelApplier(gate, 2, true, 256, 100_000, 0);
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 256);
             LagMonitor monitor = LagMonitor.start(LagThresholds.defaults(), Duration.ofMillis(50)))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            monitor.track(subscriber).publisher(publisher);
            for (long p = 1; p <= 20; p++)
            {
                publisher.publish(txn(p));
            }
            assertThat(applier.awaitWatermark(20, 30_000)).isTrue();
            monitor.sampleNow();
            assertThatThrownBy(() -> MonitorHttpServer.start(monitor,
                new MonitorHttpServer.Config("0.0.0.0", 0, null, false), 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-loopback");
            try (MonitorHttpServer server = MonitorHttpServer.start(monitor,
                new MonitorHttpServer.Config("127.0.0.1", 0, "s3cret", false), 2))
            {
                final HttpClient http = HttpClient.newHttpClient();
                final HttpResponse<String> status = get(http, server, "/replication/status", "s3cret");
                assertThat(status.statusCode()).isEqualTo(200);
                assertThat(status.headers().firstValue("Content-Type")).hasValueSatisfying(
                    t -> assertThat(t).startsWith("application/json"));
                assertThat(status.body()).contains("\"node\":2", "\"role\":\"publisher+subscriber\"",
                    "\"publisherPosition\":20", "\"subscribers\":", "\"level\":\"NORMAL\"", "\"maxTimeLagMs\":",
                    "\"timeMs\":");

                final String subs = get(http, server, "/replication/subscribers", "s3cret").body();
                for (final String field : List.of("subscriber", "publisher", "state", "level", "receivedPosition",
                    "flushedPosition", "appliedPosition", "lagTransactions", "lagBytes", "timeLagMs", "writeLagMs",
                    "replayLagMs", "applyRatePerS", "commitToApplyUs", "commitToApplyAllUs", "queueDepth",
                    "oldestPendingAgeMs", "workerApplied", "workerUtilisation", "barriers", "lastHeardMs",
                    "sampledAtMs", "publisherView", "sentPosition", "needsFullSync"))
                {
                    assertThat(subs).as("field %s", field).contains("\"" + field + "\":");
                }
                assertThat(subs).contains("\"appliedPosition\":20", "\"state\":\"CONNECTED\"");
                assertThat(get(http, server, "/replication/subscribers?subscriber=2", "s3cret").body())
                    .contains("\"subscriber\":2");

                final String stats = get(http, server, "/replication/stats", "s3cret").body();
                assertThat(stats).contains("\"received\":20", "\"applied\":20", "\"gaps\":", "\"malformed\":0",
                    "\"publisher\":{\"position\":20");

                final HttpResponse<String> bad = get(http, server, "/replication/subscribers?subscriber=x", "s3cret");
                assertThat(bad.statusCode()).isEqualTo(400);
                assertThat(bad.body()).contains("\"error\":", "\"status\":400");
                final HttpResponse<String> missing = get(http, server, "/nope", "s3cret");
                assertThat(missing.statusCode()).isEqualTo(404);
                assertThat(missing.body()).contains("\"status\":404");
                final HttpResponse<String> unauthorised = get(http, server, "/metrics", null);
                assertThat(unauthorised.statusCode()).isEqualTo(401);
                assertThat(unauthorised.body()).contains("\"status\":401");
                assertThat(get(http, server, "/metrics", "wrong").statusCode()).isEqualTo(401);
                final HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(server.url() +
                    "/replication/status")).header("Authorization", "Bearer s3cret")
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(post.statusCode()).isEqualTo(405);

                final HttpResponse<String> metrics = get(http, server, "/metrics", "s3cret");
                assertThat(metrics.statusCode()).isEqualTo(200);
                assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(
                    t -> assertThat(t).startsWith("text/plain; version=0.0.4"));
                final Set<String> families = validateExposition(metrics.body());
                assertThat(families).contains("fusion_replication_lag_seconds",
                    "fusion_replication_lag_transactions", "fusion_replication_applied_position",
                    "fusion_replication_commit_to_apply_seconds", "fusion_replication_alert_level",
                    "fusion_replication_worker_applied_transactions_total", "fusion_replication_publisher_position",
                    "fusion_replication_subscriber_lag_transactions");
                assertThat(metrics.body()).contains(
                    "fusion_replication_applied_position{subscriber=\"2\",publisher=\"1\"} 20");
            }
        }
    }

    private static HttpResponse<String> get(final HttpClient http, final MonitorHttpServer server, final String path,
        final String token) throws Exception
    {
        final HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.url() + path)).GET();
        if (null != token)
        {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+");
    private static final Pattern TYPE = Pattern.compile(
        "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)");
    private static final Pattern SAMPLE = Pattern.compile(
        "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\",?)*\\})? (\\S+)");

    /** Checks the text format line by line; returns the families declared. */
    private static Set<String> validateExposition(final String body)
    {
        final Set<String> families = new HashSet<>();
        final List<String> typed = new ArrayList<>();
        String helped = null;
        for (final String line : body.split("\n"))
        {
            Matcher m;
            if ((m = HELP.matcher(line)).matches())
            {
                helped = m.group(1);
            }
            else if ((m = TYPE.matcher(line)).matches())
            {
                assertThat(m.group(1)).as("TYPE follows its HELP").isEqualTo(helped);
                assertThat(families.add(m.group(1))).as("family %s declared once", m.group(1)).isTrue();
                typed.add(m.group(1));
            }
            else
            {
                m = SAMPLE.matcher(line);
                assertThat(m.matches()).as("a valid sample line: '%s'", line).isTrue();
                final String name = m.group(1);
                final String family = typed.isEmpty() ? null : typed.get(typed.size() - 1);
                assertThat(family).as("sample %s comes after its family's TYPE", name).isNotNull();
                assertThat(name.equals(family) || name.equals(family + "_sum") || name.equals(family + "_count"))
                    .as("sample %s belongs to the family declared last (%s)", name, family).isTrue();
                assertThat(Double.parseDouble(m.group(4))).isNotNaN();
            }
        }
        assertThat(body).endsWith("\n");
        return families;
    }
}
