package dev.fusion.grd;

import dev.fusion.cluster.ClusterNode;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The Global Resource Directory on one node: every resource has a master node that grants it in NULL,
 * SHARED or EXCLUSIVE mode and queues what it cannot grant yet. Any thread may call; calls never block and
 * return futures that complete on the directory agent's thread (do not block in their callbacks).
 * <pre>{@code
 * GlobalResourceDirectory grd = GlobalResourceDirectory.start(node, GrdConfig.defaults(), RecoveryHandler.NONE);
 * grd.acquire(ResourceId.of(table, block), LockMode.EXCLUSIVE).get(1, SECONDS);
 * ...
 * grd.release(ResourceId.of(table, block));
 * }</pre>
 */
public final class GlobalResourceDirectory implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(GlobalResourceDirectory.class.getName());

    private final ClusterNode node;
    private final MasterMap masters;
    private final DirectoryStore store;
    private final DirectoryAgent agent;
    private final AgentRunner runner;
    private final AtomicLongArray stats = new AtomicLongArray(DirectoryAgent.STAT_COUNT);
    /** Request ids only grow, across restarts too (masters drop copies of requests older than a node's latest). */
    private final AtomicLong requestIds = new AtomicLong(System.currentTimeMillis() << 20);
    private final AtomicLong inboxDrops = new AtomicLong();
    private final ConcurrentHashMap<Long, LockMode> held = new ConcurrentHashMap<>();
    private final java.util.concurrent.ScheduledExecutorService tierScanner;
    private volatile boolean closed;
    private static final int[] MESSAGE_TYPES = {GrdMessages.REQUEST, GrdMessages.RESPONSE, GrdMessages.MASTER,
        GrdMessages.HANDOFF, GrdMessages.BLOCKING};
    private final dev.fusion.cluster.MessageHandler inboxHandler = this::deliver;
    private final dev.fusion.cluster.MembershipListener viewListener = (previous, current) -> submitView(current);

    private GlobalResourceDirectory(final ClusterNode node, final GrdConfig config, final RecoveryHandler recovery)
    {
        this.node = node;
        final dev.fusion.cluster.MembershipView view = node.view(); // one read: the ring and the agent agree
        this.masters = new MasterMap(MasterRing.of(DirectoryAgent.masteringNodes(view), config.virtualNodes()));
        this.store = DirectoryStore.open(config.maxEntries(), config.storeFile());
        this.agent = new DirectoryAgent(node, config, masters, store, recovery, stats, held, view);
        for (final int type : MESSAGE_TYPES)
        {
            node.registerHandler(type, inboxHandler);
        }
        node.addMembershipListener(viewListener);
        // a change between the agent reading the view and the listener's registration is not lost (the agent
        // compares each view with the last it saw, so a repeat is harmless)
        submitView(node.view());
        this.tierScanner = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "fusion-directory-tiers-" + node.nodeId());
            t.setDaemon(true);
            return t;
        });
        final long scanMs = config.tierScanInterval().toMillis();
        tierScanner.scheduleWithFixedDelay(() -> countTiers(config), scanMs, scanMs,
            java.util.concurrent.TimeUnit.MILLISECONDS);
        if (config.ownThread())
        {
            this.runner = new AgentRunner(new BackoffIdleStrategy(10, 20, 1_000, node.config().idleMaxParkNs()),
                error -> LOG.log(System.Logger.Level.ERROR, "directory agent error", error), null, agent);
            AgentRunner.startOnThread(runner);
        }
        else
        {
            this.runner = null;
            node.attach(agent);
        }
    }

    /**
     * Starts the directory on a running node. Requests that reach a member whose directory is not started yet
     * are dropped there (counted as unknown types) and sent again after {@link GrdConfig#retryInterval()}.
     *
     * @param node     the cluster node.
     * @param config   the directory's settings.
     * @param recovery what to do with resources a dead node held in EXCLUSIVE.
     * @return the running directory.
     */
    public static GlobalResourceDirectory start(
        final ClusterNode node, final GrdConfig config, final RecoveryHandler recovery)
    {
        return new GlobalResourceDirectory(Objects.requireNonNull(node, "node"), Objects.requireNonNull(config),
            Objects.requireNonNull(recovery));
    }

    /**
     * Asks for a resource in a mode, or for a stronger mode of a resource this node holds (conversion).
     *
     * @param resource the resource.
     * @param mode     SHARED or EXCLUSIVE.
     * @return completes with the mode granted; fails with {@link GrdException} (timeout, deadlock, ...).
     */
    public CompletableFuture<LockMode> acquire(final long resource, final LockMode mode)
    {
        return acquire(resource, mode, null);
    }

    /**
     * @param resource the resource.
     * @param mode     SHARED or EXCLUSIVE.
     * @param timeout  how long to wait; null for the configured default.
     * @return completes with the mode granted.
     */
    public CompletableFuture<LockMode> acquire(final long resource, final LockMode mode, final Duration timeout)
    {
        Objects.requireNonNull(mode, "mode");
        if (mode == LockMode.NULL)
        {
            return CompletableFuture.failedFuture(new GrdException(RejectReason.INVALID_MODE, resource, mode));
        }
        if (!node.hasLease())
        {
            return CompletableFuture.failedFuture(new GrdException(RejectReason.FENCED, resource, mode));
        }
        return submit(GrdMessages.OP_ACQUIRE, resource, mode, timeout);
    }

    /**
     * Like {@link #acquire(long, LockMode, Duration)}, and tells where the current image comes from: the grant
     * names the holder the master told to ship it (cache fusion's 3-way transfer), or none.
     *
     * @param resource the resource.
     * @param mode     SHARED or EXCLUSIVE.
     * @param timeout  how long to wait; null for the configured default.
     * @return completes with the grant.
     */
    public CompletableFuture<Grant> acquireGrant(final long resource, final LockMode mode, final Duration timeout)
    {
        return acquireGrant(resource, mode, timeout, false);
    }

    /**
     * @param resource the resource.
     * @param mode     SHARED or EXCLUSIVE.
     * @param timeout  how long to wait; null for the configured default.
     * @param fresh    this node holds nothing of the resource now, even if a release it sent has not reached the
     *                 master yet: the master releases any hold it still records for this node first (cache
     *                 fusion gives blocks up asynchronously and may want one back before the release lands).
     * @return completes with the grant.
     */
    public CompletableFuture<Grant> acquireGrant(final long resource, final LockMode mode, final Duration timeout,
        final boolean fresh)
    {
        return requestGrant(resource, mode, timeout, fresh).grant();
    }

    /**
     * Like {@link #acquireGrant(long, LockMode, Duration, boolean)}, and tells the request's id at once: a supplier
     * told that the master grants this request as soon as it gives way (a granting notice) ships the image with
     * that id, and the requester may use the image before the grant itself arrives (cache fusion).
     *
     * @param resource the resource.
     * @param mode     SHARED or EXCLUSIVE.
     * @param timeout  how long to wait; null for the configured default.
     * @param fresh    as in {@link #acquireGrant(long, LockMode, Duration, boolean)}.
     * @return the request's id and its grant.
     */
    public GrantRequest requestGrant(final long resource, final LockMode mode, final Duration timeout,
        final boolean fresh)
    {
        final long viewChanges = agent.viewChanges();
        Objects.requireNonNull(mode, "mode");
        if (mode == LockMode.NULL)
        {
            return new GrantRequest(0, CompletableFuture.failedFuture(
                new GrdException(RejectReason.INVALID_MODE, resource, mode)), viewChanges);
        }
        final CompletableFuture<Grant> grant = new CompletableFuture<>();
        final DirectoryAgent.Pending p = pending(GrdMessages.OP_ACQUIRE, resource, mode, timeout, null);
        p.grantFuture = grant;
        p.fresh = fresh;
        submit(p);
        return new GrantRequest(p.requestId, grant, viewChanges);
    }

    /**
     * Lock-free: how many membership changes this node's directory has started to handle. A change counts before
     * the directory reads {@link RecoveryHandler#unconfirmed()}, so a hold recorded there and then found under an
     * unchanged count is in the next reconfiguration's reports.
     *
     * @return the count.
     */
    public long viewChanges()
    {
        return agent.viewChanges();
    }

    /**
     * Asks this node's directory who holds a resource it masters (cache fusion routes consistent-read requests
     * to a holder this way).
     *
     * @param resource a resource.
     * @return the holders and their modes; fails with NOT_MASTER when this node does not master it (now).
     */
    public CompletableFuture<java.util.Map<Integer, LockMode>> holders(final long resource)
    {
        final CompletableFuture<java.util.Map<Integer, LockMode>> future = new CompletableFuture<>();
        if (closed || !agent.submit(new DirectoryAgent.HoldersQuery(resource, future)))
        {
            future.completeExceptionally(new GrdException(RejectReason.CLOSED, resource, LockMode.NULL));
        }
        return future;
    }

    /**
     * Installs the handler told when a resource this node holds blocks another node's request (or when this
     * node must supply a grantee with its image). One handler per directory; install it before first use.
     *
     * @param handler the handler, or null for none.
     */
    public void blockingHandler(final BlockingHandler handler)
    {
        agent.blockingHandler(handler);
    }

    /**
     * @param resource a resource this node holds.
     * @return completes when the master has released it; fails with NOT_HELD when it was not held.
     */
    public CompletableFuture<LockMode> release(final long resource)
    {
        return submit(GrdMessages.OP_RELEASE, resource, LockMode.NULL, null);
    }

    /**
     * Gives up the hold the master records for this node under {@code grant}, as a blocking notice named it, when
     * this node holds nothing (it gave the hold up and its release was lost or overtaken). A hold the master granted
     * this node since, under another request, is kept: a release naming no grant removes whatever hold the node has
     * there, and that dropped a hold granted after this release was sent (the master then granted the next
     * requester from disk while this node had the newest image).
     *
     * @param resource a resource.
     * @param grant    the request id the master's notice named as this node's grant; {@code Long.MIN_VALUE} when it
     *                 named none (the release then names this node's own grant, if any, as {@link #release} does).
     * @return completes when the master has answered.
     */
    public CompletableFuture<LockMode> releaseGrant(final long resource, final long grant)
    {
        final DirectoryAgent.Pending p = pending(GrdMessages.OP_RELEASE, resource, LockMode.NULL, null,
            new CompletableFuture<>());
        p.grantId = grant;
        submit(p);
        return p.future;
    }

    /**
     * @param resource a resource this node holds.
     * @param mode     a weaker mode (SHARED, or NULL to release).
     * @return completes when the master has recorded it.
     */
    public CompletableFuture<LockMode> downgrade(final long resource, final LockMode mode)
    {
        return submit(GrdMessages.OP_DOWNGRADE, resource, Objects.requireNonNull(mode, "mode"), null);
    }

    private CompletableFuture<LockMode> submit(final int op, final long resource, final LockMode mode,
        final Duration timeout)
    {
        final CompletableFuture<LockMode> future = new CompletableFuture<>();
        submit(pending(op, resource, mode, timeout, future));
        return future;
    }

    private DirectoryAgent.Pending pending(final int op, final long resource, final LockMode mode,
        final Duration timeout, final CompletableFuture<LockMode> future)
    {
        final long timeoutNs = null == timeout ? agent.timeoutNs() : timeout.toNanos();
        return new DirectoryAgent.Pending(requestIds.incrementAndGet(), resource, op, mode,
            System.nanoTime() + timeoutNs, future);
    }

    private void submit(final DirectoryAgent.Pending p)
    {
        if (closed)
        {
            p.fail(new GrdException(RejectReason.CLOSED, p.resource, p.mode));
        }
        else if (!agent.submit(new DirectoryAgent.Submit(p)))
        {
            p.fail(new IllegalStateException("directory command queue full: back off"));
        }
    }

    /**
     * Lock-free: any thread, any time.
     *
     * @param resource a resource.
     * @return the node that masters it now.
     */
    public int masterOf(final long resource)
    {
        return masters.masterOf(resource);
    }

    /**
     * Lock-free: what this node holds of a resource, as of the last grant, downgrade or release it saw
     * complete. The buffer cache's fast path: a block held in a covering mode needs no message.
     *
     * @param resource a resource.
     * @return the mode this node holds, NULL when none, and NULL while this node holds no lease from the quorum
     * (see {@link dev.fusion.cluster.ClusterNode#hasLease()}): a fenced node holds nothing it may use.
     */
    public LockMode heldMode(final long resource)
    {
        return node.hasLease() ? held.getOrDefault(resource, LockMode.NULL) : LockMode.NULL;
    }

    /** @return the node this directory runs on. */
    public int nodeId()
    {
        return node.nodeId();
    }

    /** @return a snapshot of the counters. */
    public GrdStats stats()
    {
        return new GrdStats(stats.get(DirectoryAgent.LOCAL_GRANTS), stats.get(DirectoryAgent.REMOTE_GRANTS),
            stats.get(DirectoryAgent.GRANTS_SERVED), stats.get(DirectoryAgent.FORWARDED),
            stats.get(DirectoryAgent.REJECTED), stats.get(DirectoryAgent.TIMED_OUT),
            stats.get(DirectoryAgent.REMASTERS_OUT), stats.get(DirectoryAgent.REMASTERS_IN),
            stats.get(DirectoryAgent.RECOVERIES), stats.get(DirectoryAgent.HOT), stats.get(DirectoryAgent.STORED),
            stats.get(DirectoryAgent.WAITING), stats.get(DirectoryAgent.LATE_GRANTS),
            stats.get(DirectoryAgent.RETRIES), stats.get(DirectoryAgent.PROMOTIONS),
            stats.get(DirectoryAgent.DEMOTIONS), stats.get(DirectoryAgent.WARM), stats.get(DirectoryAgent.COLD),
            stats.get(DirectoryAgent.OBJECT_REMASTERS), stats.get(DirectoryAgent.BLOCKING_NOTICES));
    }

    /** Counts WARM and COLD entries in the store, off the node's thread (Chronicle Map reads are thread-safe). */
    private void countTiers(final GrdConfig config)
    {
        try
        {
            final long nowMs = System.currentTimeMillis();
            final long[] counts = new long[Tier.values().length];
            store.forEach(e ->
                counts[Tier.classify(config, e.accessCount(), e.firstAccessMs(), e.lastAccessMs(), nowMs).ordinal()]++);
            stats.set(DirectoryAgent.WARM, counts[Tier.WARM.ordinal()]);
            stats.set(DirectoryAgent.COLD, counts[Tier.COLD.ordinal()]);
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "tier scan failed: " + ex);
        }
    }

    private void submitView(final dev.fusion.cluster.MembershipView view)
    {
        while (!agent.submit(new DirectoryAgent.ViewChange(view)))
        {
            Thread.onSpinWait();
        }
    }

    /** @return messages dropped because the directory's inbox and its 64 MiB heap overflow were full. */
    public long inboxDrops()
    {
        return inboxDrops.get();
    }

    /** @return messages that arrived while the directory's inbox ring was full and waited on the heap instead. */
    public long inboxOverflows()
    {
        return agent.inboxOverflowed();
    }

    /** On the transport agent: into the directory's inbox, or counted and logged when even its overflow is full. */
    private void deliver(final int source, final int type, final org.agrona.DirectBuffer buffer, final int offset,
        final int length)
    {
        if (!agent.deliver(source, type, buffer, offset, length))
        {
            inboxDrops.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() +
                ": directory inbox full, 64 MiB waiting on the heap too: message dropped (the agent is " +
                "not keeping up; a dropped report or hand-off can cost consistency)");
        }
    }

    /**
     * Stops the agent (failing what is pending with CLOSED), gives up its message types and membership listener (a
     * directory may start again on the same node) and closes the store. Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        // a directory started again on this node registers its own
        for (final int type : MESSAGE_TYPES)
        {
            node.unregisterHandler(type, inboxHandler);
        }
        node.removeMembershipListener(viewListener);
        tierScanner.shutdownNow();
        if (null != runner)
        {
            CloseHelper.quietClose(runner);
        }
        else
        {
            node.detach(agent);
        }
        CloseHelper.quietClose(store);
    }
}
