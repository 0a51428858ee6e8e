package dev.fusion.replication.monitor;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.fusion.replication.Subscriber;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The lag monitor over HTTP, on the JDK's {@link HttpServer}: {@code GET /replication/status},
 * {@code /replication/subscribers} (optionally {@code ?subscriber=N}), {@code /replication/stats} as JSON, and
 * {@code GET /metrics} in the Prometheus text format (0.0.4). Bound to the loopback address unless told
 * otherwise; an optional bearer token guards every path. Errors are JSON {@code {"error": ..., "status": ...}}.
 */
public final class MonitorHttpServer implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(MonitorHttpServer.class.getName());
    private static final String JSON = "application/json; charset=utf-8";
    private static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

    /**
     * Where and how the server listens.
     *
     * @param host             the address to bind; loopback by default.
     * @param port             the port; 0 picks a free one (see {@link #port()}).
     * @param bearerToken      when set, every request needs {@code Authorization: Bearer <token>}; null for none.
     * @param allowNonLoopback whether a non-loopback address may be bound (exposes lag data to the network).
     */
    public record Config(String host, int port, String bearerToken, boolean allowNonLoopback)
    {
        /** Checks the values. */
        public Config
        {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535)
            {
                throw new IllegalArgumentException("invalid port: " + port + " (accepted: 0..65535)");
            }
            if (null != bearerToken && bearerToken.isBlank())
            {
                throw new IllegalArgumentException("invalid bearerToken: blank (give a token or null for none)");
            }
        }

        /**
         * @param port the port, 0 for any free one.
         * @return 127.0.0.1 on that port, no token.
         */
        public static Config loopback(final int port)
        {
            return new Config("127.0.0.1", port, null, false);
        }
    }

    private final LagMonitor monitor;
    private final Config config;
    private final HttpServer server;
    private final ExecutorService executor;
    private final int nodeId;

    private MonitorHttpServer(final LagMonitor monitor, final Config config, final int nodeId) throws IOException
    {
        this.monitor = monitor;
        this.config = config;
        this.nodeId = nodeId;
        final InetAddress address = InetAddress.getByName(config.host());
        if (!address.isLoopbackAddress() && !config.allowNonLoopback())
        {
            throw new IllegalArgumentException("refusing to bind the lag endpoint to non-loopback address " +
                config.host() + ": set allowNonLoopback to expose it to the network (and consider a bearer token)");
        }
        server = HttpServer.create(new InetSocketAddress(address, config.port()), 16);
        executor = Executors.newFixedThreadPool(2, r ->
        {
            final Thread t = new Thread(r, "fusion-lag-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /**
     * @param monitor the monitor to serve.
     * @param config  where to listen.
     * @param nodeId  this node's id (reported in the status).
     * @return the running server.
     * @throws IOException              when the address cannot be bound.
     * @throws IllegalArgumentException for a non-loopback address without {@code allowNonLoopback}.
     */
    public static MonitorHttpServer start(final LagMonitor monitor, final Config config, final int nodeId)
        throws IOException
    {
        return new MonitorHttpServer(Objects.requireNonNull(monitor, "monitor"), Objects.requireNonNull(config),
            nodeId);
    }

    /** @return the bound port. */
    public int port()
    {
        return server.getAddress().getPort();
    }

    /** @return the base URL, e.g. {@code http://127.0.0.1:9464}. */
    public String url()
    {
        return "http://" + server.getAddress().getHostString() + ":" + port();
    }

    private void handle(final HttpExchange exchange) throws IOException
    {
        try (exchange)
        {
            if (null != config.bearerToken() && !authorised(exchange))
            {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Bearer");
                error(exchange, 401, "missing or wrong bearer token");
                return;
            }
            final String path = exchange.getRequestURI().getPath();
            final String query = exchange.getRequestURI().getQuery();
            final boolean known = path.equals("/replication/status") || path.equals("/replication/subscribers") ||
                path.equals("/replication/stats") || path.equals("/metrics");
            if (!known)
            {
                error(exchange, 404, "no such endpoint: " + path + " (try /replication/status, " +
                    "/replication/subscribers, /replication/stats, /metrics)");
                return;
            }
            if (!"GET".equals(exchange.getRequestMethod()))
            {
                exchange.getResponseHeaders().add("Allow", "GET");
                error(exchange, 405, "method " + exchange.getRequestMethod() + " not allowed; use GET");
                return;
            }
            switch (path)
            {
                case "/replication/status" -> send(exchange, 200, JSON, status());
                case "/replication/subscribers" -> subscribers(exchange, query);
                case "/replication/stats" -> send(exchange, 200, JSON, stats());
                default -> send(exchange, 200, PROMETHEUS, PrometheusText.render(monitor, nodeId));
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "lag endpoint failed: " + ex);
        }
    }

    private boolean authorised(final HttpExchange exchange)
    {
        final String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (null == header || !header.startsWith("Bearer "))
        {
            return false;
        }
        return MessageDigest.isEqual(header.substring(7).getBytes(StandardCharsets.UTF_8),
            config.bearerToken().getBytes(StandardCharsets.UTF_8));
    }

    private String status()
    {
        final List<SubscriberLag> lags = monitor.subscribers();
        AlertLevel worst = AlertLevel.NORMAL;
        long maxLagMs = 0;
        for (final SubscriberLag l : lags)
        {
            worst = l.level().compareTo(worst) > 0 ? l.level() : worst;
            maxLagMs = Math.max(maxLagMs, l.timeLagMs());
        }
        final boolean publishing = null != monitor.publisher();
        final Json json = new Json().begin()
            .field("node", nodeId)
            .field("role", publishing ? (lags.isEmpty() ? "publisher" : "publisher+subscriber") :
                lags.isEmpty() ? "none" : "subscriber")
            .field("publisherPosition", publishing ? monitor.publisher().position() : -1)
            .field("subscribers", subscriberCount(lags, publishing))
            .field("level", worst.name())
            .field("maxTimeLagMs", maxLagMs)
            .field("timeMs", System.currentTimeMillis());
        return json.end().toString();
    }

    /** Distinct subscribers this node knows of: tracked here, or acknowledging to its publisher. */
    private int subscriberCount(final List<SubscriberLag> lags, final boolean publishing)
    {
        final java.util.Set<Integer> ids = new java.util.HashSet<>();
        lags.forEach(l -> ids.add(l.subscriber()));
        if (publishing)
        {
            ids.addAll(monitor.publisherView().keySet());
        }
        return ids.size();
    }

    private void subscribers(final HttpExchange exchange, final String query) throws IOException
    {
        int only = -1;
        if (null != query && !query.isEmpty())
        {
            if (!query.startsWith("subscriber="))
            {
                error(exchange, 400, "unknown query '" + query + "': the only parameter is subscriber=<node id>");
                return;
            }
            try
            {
                only = Integer.parseInt(query.substring("subscriber=".length()));
            }
            catch (final NumberFormatException ex)
            {
                error(exchange, 400, "subscriber must be a node id, got '" + query.substring(11) + "'");
                return;
            }
        }
        final Json json = new Json().begin().beginArray("subscribers");
        for (final SubscriberLag l : monitor.subscribers())
        {
            if (only >= 0 && l.subscriber() != only)
            {
                continue;
            }
            json.element()
                .field("subscriber", l.subscriber())
                .field("publisher", l.publisher())
                .field("state", l.state().name())
                .field("level", l.level().name())
                .field("receivedPosition", l.receivedPosition())
                .field("flushedPosition", l.flushedPosition())
                .field("appliedPosition", l.appliedPosition())
                .field("lagTransactions", l.lagTransactions())
                .field("lagBytes", l.lagBytes())
                .field("timeLagMs", l.timeLagMs())
                .field("writeLagMs", l.writeLagMs())
                .field("replayLagMs", l.replayLagMs())
                .field("applyRatePerS", l.applyRatePerS())
                .field("commitToApplyUs", l.commitToApplyUs())
                .field("commitToApplyAllUs", l.commitToApplyAllUs())
                .field("queueDepth", l.queueDepth())
                .field("oldestPendingAgeMs", l.oldestPendingAgeMs())
                .field("workerApplied", l.workerApplied())
                .field("workerUtilisation", l.workerUtilisation())
                .field("barriers", l.barriers())
                .field("lastHeardMs", l.lastHeardMs())
                .field("sampledAtMs", l.sampledAtMs())
                .end();
        }
        json.endArray().beginArray("publisherView");
        for (final Map.Entry<Integer, long[]> e : monitor.publisherView().entrySet())
        {
            final long[] v = e.getValue();
            json.element()
                .field("subscriber", e.getKey())
                .field("sentPosition", v[0])
                .field("receivedPosition", v[1])
                .field("appliedPosition", v[2])
                .field("needsFullSync", v[3] == 1)
                .field("lagTransactions", v[4])
                .end();
        }
        send(exchange, 200, JSON, json.endArray().end().toString());
    }

    private String stats()
    {
        final Json json = new Json().begin().beginArray("subscribers");
        for (final Subscriber s : monitor.trackedSubscribers())
        {
            json.element()
                .field("subscriber", s.node().nodeId())
                .field("received", s.received())
                .field("receivedBytes", s.receivedBytes())
                .field("applied", s.applier().applied())
                .field("duplicates", s.applier().duplicates())
                .field("gaps", s.gaps())
                .field("dropped", s.dropped())
                .field("malformed", s.malformed())
                .field("fullSyncs", s.fullSyncs())
                .field("badChunks", s.badChunks())
                .field("receiverFailures", s.receiverFailures())
                .field("largeTransactions", s.largeTransactions())
                .field("activeWorkers", s.applier().activeWorkers())
                .field("workers", s.applier().workers())
                .end();
        }
        json.endArray();
        if (null != monitor.publisher())
        {
            json.beginObject("publisher")
                .field("position", monitor.publisher().position())
                .field("largeTransactions", monitor.publisher().largeTransactions())
                .end();
        }
        return json.end().toString();
    }

    private static void error(final HttpExchange exchange, final int status, final String message) throws IOException
    {
        send(exchange, status, JSON, new Json().begin().field("error", message).field("status", status).end()
            .toString());
    }

    private static void send(final HttpExchange exchange, final int status, final String type, final String body)
        throws IOException
    {
        final byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody())
        {
            out.write(bytes);
        }
    }

    /** Stops listening (in-flight requests get a second) and stops its threads. Idempotent. */
    @Override
    public void close()
    {
        server.stop(1);
        executor.shutdownNow();
    }

    /** The Prometheus exposition of the monitor's figures. */
    static final class PrometheusText
    {
        private final StringBuilder out = new StringBuilder(4096);

        static String render(final LagMonitor monitor, final int nodeId)
        {
            final PrometheusText p = new PrometheusText();
            final List<SubscriberLag> lags = monitor.subscribers();
            p.family("fusion_replication_lag_seconds", "gauge",
                "Now minus the source commit time of the oldest transaction received and not yet applied.");
            lags.forEach(l -> p.sample("fusion_replication_lag_seconds", labels(l), l.timeLagMs() / 1000.0));
            p.family("fusion_replication_write_lag_seconds", "gauge",
                "Source commit to receipt of the last transaction received.");
            lags.forEach(l -> p.sample("fusion_replication_write_lag_seconds", labels(l), l.writeLagMs() / 1000.0));
            p.family("fusion_replication_replay_lag_seconds", "gauge",
                "Source commit to local commit of the last transaction applied.");
            lags.forEach(l -> p.sample("fusion_replication_replay_lag_seconds", labels(l), l.replayLagMs() / 1000.0));
            p.family("fusion_replication_lag_transactions", "gauge", "Transactions received and not yet applied.");
            lags.forEach(l -> p.sample("fusion_replication_lag_transactions", labels(l), l.lagTransactions()));
            p.family("fusion_replication_lag_bytes", "gauge", "Encoded bytes received and not yet applied.");
            lags.forEach(l -> p.sample("fusion_replication_lag_bytes", labels(l), l.lagBytes()));
            p.family("fusion_replication_received_position", "gauge", "Commit position of the last transaction received.");
            lags.forEach(l -> p.sample("fusion_replication_received_position", labels(l), l.receivedPosition()));
            p.family("fusion_replication_applied_position", "gauge", "Applied (and persisted) watermark.");
            lags.forEach(l -> p.sample("fusion_replication_applied_position", labels(l), l.appliedPosition()));
            p.family("fusion_replication_apply_rate_per_second", "gauge",
                "Transactions applied per second over the last sampling interval.");
            lags.forEach(l -> p.sample("fusion_replication_apply_rate_per_second", labels(l), l.applyRatePerS()));
            p.family("fusion_replication_queue_depth", "gauge",
                "Transactions queued before the applier plus those in its dependency window.");
            lags.forEach(l -> p.sample("fusion_replication_queue_depth", labels(l), l.queueDepth()));
            p.family("fusion_replication_alert_level", "gauge", "0 NORMAL, 1 WARNING, 2 ALARM, 3 CRITICAL.");
            lags.forEach(l -> p.sample("fusion_replication_alert_level", labels(l), l.level().ordinal()));
            p.family("fusion_replication_state", "gauge", "1 for the subscriber's current state.");
            lags.forEach(l ->
            {
                for (final ReplicationState s : ReplicationState.values())
                {
                    p.sample("fusion_replication_state", labels(l) + ",state=\"" + s.name().toLowerCase(Locale.ROOT) +
                        "\"", s == l.state() ? 1 : 0);
                }
            });
            p.family("fusion_replication_last_heard_timestamp_seconds", "gauge",
                "When the last stream message arrived (epoch seconds).");
            lags.forEach(l -> p.sample("fusion_replication_last_heard_timestamp_seconds", labels(l),
                l.lastHeardMs() / 1000.0));
            p.family("fusion_replication_worker_applied_transactions_total", "counter",
                "Transactions applied, by worker.");
            lags.forEach(l ->
            {
                for (int w = 0; w < l.workerApplied().length; w++)
                {
                    p.sample("fusion_replication_worker_applied_transactions_total", labels(l) + ",worker=\"" + w + "\"",
                        l.workerApplied()[w]);
                }
            });
            p.family("fusion_replication_barriers_total", "counter", "Serialising barriers met, by cause.");
            lags.forEach(l -> l.barriers().forEach((cause, count) -> p.sample("fusion_replication_barriers_total",
                labels(l) + ",cause=\"" + cause.toLowerCase(Locale.ROOT) + "\"", count)));
            p.family("fusion_replication_commit_to_apply_seconds", "summary",
                "Source commit to local commit, since start.");
            for (final SubscriberLag l : lags)
            {
                final Histogram h = monitor.cumulative(l.subscriber());
                if (null == h)
                {
                    continue;
                }
                for (final double q : new double[]{0.5, 0.99, 0.999})
                {
                    p.sample("fusion_replication_commit_to_apply_seconds", labels(l) + ",quantile=\"" + q + "\"",
                        h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(q * 100) / 1e6);
                }
                p.sample("fusion_replication_commit_to_apply_seconds_sum", labels(l),
                    h.getMean() * h.getTotalCount() / 1e6);
                p.sample("fusion_replication_commit_to_apply_seconds_count", labels(l), h.getTotalCount());
            }
            final Map<Integer, long[]> view = monitor.publisherView();
            if (null != monitor.publisher())
            {
                p.family("fusion_replication_publisher_position", "gauge", "Last position published on this node.");
                p.sample("fusion_replication_publisher_position", "node=\"" + nodeId + "\"",
                    monitor.publisher().position());
                p.family("fusion_replication_subscriber_applied_position", "gauge",
                    "Applied watermark each subscriber acknowledged to this publisher.");
                view.forEach((id, v) -> p.sample("fusion_replication_subscriber_applied_position",
                    "subscriber=\"" + id + "\"", v[2]));
                p.family("fusion_replication_subscriber_lag_transactions", "gauge",
                    "Publisher position minus the subscriber's acknowledged applied watermark.");
                view.forEach((id, v) -> p.sample("fusion_replication_subscriber_lag_transactions",
                    "subscriber=\"" + id + "\"", v[4]));
            }
            return p.out.toString();
        }

        private static String labels(final SubscriberLag l)
        {
            return "subscriber=\"" + l.subscriber() + "\",publisher=\"" + l.publisher() + "\"";
        }

        private void family(final String name, final String type, final String help)
        {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        }

        private void sample(final String name, final String labels, final double value)
        {
            out.append(name).append('{').append(labels).append("} ");
            if (value == Math.rint(value) && Math.abs(value) < 1e15)
            {
                out.append((long)value);
            }
            else
            {
                out.append(String.format(Locale.ROOT, "%.6g", value));
            }
            out.append('\n');
        }
    }
}
