package dev.fusion.replication.monitor;

import dev.fusion.cluster.MemberState;
import dev.fusion.replication.BarrierCause;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.Subscriber;
import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Replication lag, measured: samples the subscribers (and the publisher) on this node at a fixed interval,
 * keeps each one's latest {@link SubscriberLag}, raises and clears alert levels with hysteresis and tells the
 * listeners of level and state changes. Reading is lock-free ({@link #subscribers()} returns the last samples);
 * the sampling runs on one daemon thread of its own and never touches the apply path beyond reading counters.
 * <pre>{@code
 * LagMonitor monitor = LagMonitor.start(LagThresholds.defaults(), Duration.ofMillis(250));
 * monitor.track(subscriber);
 * monitor.addListener((from, to, lag) -> log.warn("replication lag " + to + ": " + lag.timeLagMs() + " ms"));
 * }</pre>
 */
public final class LagMonitor implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(LagMonitor.class.getName());

    private final LagThresholds thresholds;
    private final long intervalMs;
    private final List<Tracked> tracked = new CopyOnWriteArrayList<>();
    private final List<LagListener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService sampler;
    private volatile Publisher publisher;

    /** Sampling state of one subscriber; written by the sampler thread only. */
    private static final class Tracked
    {
        final Subscriber subscriber;
        final Histogram cumulative = new Histogram(3);
        Histogram interval;
        long lastApplied = -1;
        long lastSampleNs;
        long[] lastBusyNs;
        AlertLevel level = AlertLevel.NORMAL;
        ReplicationState state;
        long belowSinceMs;
        volatile SubscriberLag latest;

        Tracked(final Subscriber subscriber)
        {
            this.subscriber = subscriber;
        }
    }

    private LagMonitor(final LagThresholds thresholds, final java.time.Duration interval)
    {
        this.thresholds = Objects.requireNonNull(thresholds, "thresholds");
        this.intervalMs = interval.toMillis();
        if (intervalMs < 1 || intervalMs > 60_000)
        {
            throw new IllegalArgumentException("invalid sampling interval: " + interval + " (accepted: 1 ms..60 s)");
        }
        this.sampler = Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "fusion-lag-monitor");
            t.setDaemon(true);
            return t;
        });
        sampler.scheduleAtFixedRate(this::sampleAll, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
    }

    /**
     * @param thresholds the alert thresholds.
     * @param interval   how often to sample (the apply rate and interval percentiles are over it).
     * @return a running monitor with nothing tracked yet.
     */
    public static LagMonitor start(final LagThresholds thresholds, final java.time.Duration interval)
    {
        return new LagMonitor(thresholds, interval);
    }

    /**
     * Tracks a subscriber. The monitor becomes the only reader of its applier's commit-to-apply recorder.
     *
     * @param subscriber a running subscriber on this node.
     * @return this monitor.
     */
    public LagMonitor track(final Subscriber subscriber)
    {
        final Tracked t = new Tracked(Objects.requireNonNull(subscriber, "subscriber"));
        tracked.add(t);
        sampler.execute(() -> sample(t));
        return this;
    }

    /**
     * Adds the cluster-wide view of a publisher on this node (what each subscriber acknowledged).
     *
     * @param publisher a running publisher.
     * @return this monitor.
     */
    public LagMonitor publisher(final Publisher publisher)
    {
        this.publisher = Objects.requireNonNull(publisher, "publisher");
        return this;
    }

    /**
     * @param listener told of level and state changes, on the sampling thread.
     */
    public void addListener(final LagListener listener)
    {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** @return the latest sample of each tracked subscriber. */
    public List<SubscriberLag> subscribers()
    {
        final List<SubscriberLag> out = new ArrayList<>(tracked.size());
        for (final Tracked t : tracked)
        {
            final SubscriberLag lag = t.latest;
            if (null != lag)
            {
                out.add(lag);
            }
        }
        return out;
    }

    /** @return the tracked subscribers themselves (for their counters). */
    public List<Subscriber> trackedSubscribers()
    {
        final List<Subscriber> out = new ArrayList<>(tracked.size());
        tracked.forEach(t -> out.add(t.subscriber));
        return out;
    }

    /** @return the publisher on this node, or null. */
    public Publisher publisher()
    {
        return publisher;
    }

    /**
     * The cluster-wide view, from the publisher's side.
     *
     * @return by subscriber: {sent up to, received (acknowledged), applied (acknowledged), full sync needed, lag in
     * transactions (publisher position minus acknowledged applied)}; empty without a publisher.
     */
    public Map<Integer, long[]> publisherView()
    {
        final Publisher p = publisher;
        final Map<Integer, long[]> view = new LinkedHashMap<>();
        if (null != p)
        {
            final long position = p.position();
            p.subscriptions().forEach((id, s) ->
                view.put(id, new long[]{s[0], s[1], s[2], s[3], Math.max(0, position - s[2])}));
        }
        return view;
    }

    /** @return the thresholds in force. */
    public LagThresholds thresholds()
    {
        return thresholds;
    }

    /** Samples now (tests and tools); the periodic sampling goes on. Blocks until done. */
    public void sampleNow()
    {
        try
        {
            sampler.submit(this::sampleAll).get(10, TimeUnit.SECONDS);
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException("lag sampling failed", ex);
        }
    }

    private void sampleAll()
    {
        for (final Tracked t : tracked)
        {
            try
            {
                sample(t);
            }
            catch (final RuntimeException ex)
            {
                LOG.log(System.Logger.Level.WARNING, "lag sample of subscriber failed: " + ex);
            }
        }
    }

    private void sample(final Tracked t)
    {
        final Subscriber s = t.subscriber;
        final ParallelApplier a = s.applier();
        final long nowMs = System.currentTimeMillis();
        final long nowNs = System.nanoTime();
        final long[] unapplied = s.unapplied();
        final long applied = a.watermark();
        final long lagTxns = unapplied[0];
        final long timeLagMs = 0 == unapplied[2] ? 0 : Math.max(0, nowMs - unapplied[2]);
        final long oldestAgeMs = 0 == unapplied[3] ? 0 : Math.max(0, nowMs - unapplied[3]);
        final long writeLagMs = 0 == s.lastReceivedAtMs() ? 0 :
            Math.max(0, s.lastReceivedAtMs() - s.lastReceivedCommitMs());
        final long replayLagMs = 0 == a.lastAppliedAtMs() ? 0 :
            Math.max(0, a.lastAppliedAtMs() - a.lastAppliedCommitMs());

        final long appliedCount = a.applied();
        final double seconds = (nowNs - t.lastSampleNs) / 1e9;
        final double rate = t.lastApplied < 0 || seconds <= 0 ? 0 : (appliedCount - t.lastApplied) / seconds;
        final long[] busy = a.workerBusyNs();
        final double[] utilisation = new double[busy.length];
        if (null != t.lastBusyNs && seconds > 0)
        {
            for (int i = 0; i < busy.length; i++)
            {
                utilisation[i] = Math.min(1.0, (busy[i] - t.lastBusyNs[i]) / (seconds * 1e9));
            }
        }
        t.lastApplied = appliedCount;
        t.lastSampleNs = nowNs;
        t.lastBusyNs = busy;

        t.interval = a.commitToApplyInterval(t.interval);
        synchronized (t.cumulative)
        {
            t.cumulative.add(t.interval);
        }

        final Map<String, Long> barriers = new LinkedHashMap<>();
        for (final Map.Entry<BarrierCause, Long> e : a.barriers().entrySet())
        {
            barriers.put(e.getKey().name(), e.getValue());
        }

        final AlertLevel previousLevel = t.level;
        t.level = nextLevel(t, timeLagMs, lagTxns, nowMs);
        final MemberState publisherState = s.node().view().state(s.publisher());
        final ReplicationState state = publisherState != MemberState.ALIVE ? ReplicationState.DISCONNECTED :
            s.syncing() ? ReplicationState.SYNCING :
            t.level != AlertLevel.NORMAL ? ReplicationState.LAGGING : ReplicationState.CONNECTED;
        final ReplicationState previousState = t.state;
        t.state = state;

        final SubscriberLag lag = new SubscriberLag(s.node().nodeId(), s.publisher(), state, t.level,
            s.receivedPosition(), applied, applied, lagTxns, unapplied[1], timeLagMs, writeLagMs, replayLagMs, rate,
            percentiles(t.interval), cumulativePercentiles(t), s.queueDepth() + a.inFlight(), oldestAgeMs,
            a.workerApplied(), utilisation, barriers, s.lastHeardMs(), nowMs);
        t.latest = lag;

        if (previousLevel != t.level)
        {
            for (final LagListener l : listeners)
            {
                l.onLevel(previousLevel, t.level, lag);
            }
        }
        if (null != previousState && previousState != state)
        {
            for (final LagListener l : listeners)
            {
                l.onState(previousState, state, lag);
            }
        }
    }

    /** Raise at once; clear one level only after the lag stayed below the clear ratio for clearAfterMs. */
    private AlertLevel nextLevel(final Tracked t, final long timeLagMs, final long lagTxns, final long nowMs)
    {
        final AlertLevel raised = thresholds.levelOf(timeLagMs, lagTxns, 1.0);
        if (raised.compareTo(t.level) >= 0)
        {
            t.belowSinceMs = 0;
            return raised;
        }
        final AlertLevel clearable = thresholds.levelOf(timeLagMs, lagTxns, thresholds.clearRatio());
        if (clearable.compareTo(t.level) >= 0)
        {
            t.belowSinceMs = 0;
            return t.level;
        }
        if (0 == t.belowSinceMs)
        {
            t.belowSinceMs = nowMs;
        }
        if (nowMs - t.belowSinceMs >= thresholds.clearAfterMs())
        {
            t.belowSinceMs = 0;
            return clearable;
        }
        return t.level;
    }

    private static long[] cumulativePercentiles(final Tracked t)
    {
        synchronized (t.cumulative)
        {
            return percentiles(t.cumulative);
        }
    }

    private static long[] percentiles(final Histogram h)
    {
        if (null == h || h.getTotalCount() == 0)
        {
            return new long[]{0, 0, 0};
        }
        return new long[]{h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9)};
    }

    /** The cumulative commit-to-apply histogram of one subscriber (microseconds), for the Prometheus summary. */
    Histogram cumulative(final int subscriberNode)
    {
        for (final Tracked t : tracked)
        {
            if (t.subscriber.node().nodeId() == subscriberNode)
            {
                synchronized (t.cumulative)
                {
                    return t.cumulative.copy();
                }
            }
        }
        return null;
    }

    /** Stops sampling. Idempotent. */
    @Override
    public void close()
    {
        sampler.shutdownNow();
    }
}
