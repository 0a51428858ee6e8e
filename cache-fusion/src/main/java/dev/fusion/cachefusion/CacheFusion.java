package dev.fusion.cachefusion;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.grd.GlobalResourceDirectory;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.GrdException;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.RecoveryHandler;
import dev.fusion.grd.RejectReason;
import org.agrona.CloseHelper;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Cache fusion on one node: blocks move between the nodes' buffer caches over the network, under the global
 * resource directory's locks. The engine calls {@link #acquire} before it uses a block and {@link #release} after;
 * the lock stays with this node (so the next use is local) until another node needs the block, when this node
 * ships its image straight to that node and gives the lock up on its own.
 * <p>
 * Every method may be called from any thread and never blocks: it queues work for the node's cache-fusion agent
 * and returns a future that completes on that agent's thread (keep callbacks short; never block in them). The
 * engine's {@link BufferCache} is called on the same agent thread.
 * <pre>{@code
 * CacheFusion fusion = CacheFusion.start(node, GrdConfig.defaults(), CacheFusionConfig.defaults(), bufferCache);
 * BlockGrant g = fusion.acquire(block, LockMode.EXCLUSIVE).get(5, SECONDS);  // image now in the buffer cache
 * ... change the block, log the redo ...
 * fusion.release(block);
 * }</pre>
 */
public final class CacheFusion implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(CacheFusion.class.getName());

    private final ClusterNode node;
    private final GlobalResourceDirectory grd;
    private final FusionAgent agent;
    private final CacheFusionConfig config;
    private final WaitEventRecorder events = new WaitEventRecorder();
    private final AtomicLong inboxDrops = new AtomicLong();
    private final dev.fusion.cluster.MessageHandler inboxHandler;
    /** Gets served by the lock-free path (counted apart: a shared counter would cost more than the get). */
    private final java.util.concurrent.atomic.LongAdder fastGets = new java.util.concurrent.atomic.LongAdder();
    private volatile boolean closed;

    private CacheFusion(final ClusterNode node, final GrdConfig grdConfig, final CacheFusionConfig config,
        final BufferCache cache)
    {
        this.node = node;
        this.config = config;
        final FusionAgent[] holder = new FusionAgent[1];
        this.grd = GlobalResourceDirectory.start(node, grdConfig, new RecoveryHandler()
        {
            @Override
            public CompletableFuture<Void> recover(final long resource, final int deadNode)
            {
                final CompletableFuture<Void> done = new CompletableFuture<>();
                holder[0].submitAlways(new Commands.Recover(resource, deadNode, done));
                return done;
            }

            @Override
            public java.util.Collection<Long> suspects(final int deadNode)
            {
                return cache.recoveryCandidates(deadNode);
            }

            @Override
            public java.util.Collection<Long> givenTo(final int deadNode)
            {
                return holder[0].givenTo(deadNode);
            }

            @Override
            public java.util.Map<Long, dev.fusion.grd.UnconfirmedHold> unconfirmed()
            {
                return holder[0].unconfirmed();
            }
        });
        this.agent = new FusionAgent(node, grd, cache, config, events);
        holder[0] = agent;
        grd.blockingHandler((resource, requester, requested, keep, ship, requestId, holderGrant, granting) ->
            agent.submitAlways(new Commands.Notice(resource, requester, requested, keep, ship, requestId,
                holderGrant, granting, grd.masterOf(resource), System.nanoTime())));
        inboxHandler = (source, t, buffer, offset, length) ->
        {
            if (!agent.deliver(source, t, buffer, offset, length))
            {
                inboxDrops.incrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() +
                    ": cache fusion inbox full, message " + t + " dropped (its sender retries)");
            }
        };
        for (final int type : FusionMessages.TYPES)
        {
            node.registerHandler(type, inboxHandler);
        }
        node.attach(agent);
    }

    /**
     * Starts cache fusion (and the directory under it) on a running node.
     *
     * @param node      the cluster node.
     * @param grdConfig the directory's settings.
     * @param config    cache fusion's settings.
     * @param cache     the engine's buffer cache.
     * @return the running instance.
     */
    public static CacheFusion start(final ClusterNode node, final GrdConfig grdConfig, final CacheFusionConfig config,
        final BufferCache cache)
    {
        return new CacheFusion(Objects.requireNonNull(node, "node"), Objects.requireNonNull(grdConfig, "grdConfig"),
            Objects.requireNonNull(config, "config"), Objects.requireNonNull(cache, "cache"));
    }

    /**
     * Gets a block in a mode and pins it for the caller: when the future completes, the block's current image
     * is in the buffer cache (installed from another node, read from disk, or already there). EXCLUSIVE pins
     * exclude every other user on this node; SHARED pins exclude only EXCLUSIVE ones. Pair with {@link #release}.
     *
     * @param block the block.
     * @param mode  SHARED or EXCLUSIVE.
     * @return completes with the grant on the agent thread; fails with a {@link dev.fusion.grd.GrdException} on
     * timeout or refusal, and with {@link RejectReason#FENCED} while this node holds no lease from the quorum: at
     * once, or when the lease ran out while the call waited (the block is then kept in the cache, unpinned, and
     * nothing of it is handed over).
     */
    public CompletableFuture<BlockGrant> acquire(final long block, final LockMode mode)
    {
        return acquire(block, mode, config.acquireTimeout());
    }

    /**
     * @param block   the block.
     * @param mode    SHARED or EXCLUSIVE.
     * @param timeout how long to wait for the lock.
     * @return completes with the grant.
     */
    public CompletableFuture<BlockGrant> acquire(final long block, final LockMode mode, final Duration timeout)
    {
        Objects.requireNonNull(mode, "mode");
        if (mode == LockMode.NULL)
        {
            throw new IllegalArgumentException("acquire needs SHARED or EXCLUSIVE, not NULL");
        }
        if (!node.hasLease())
        {
            return CompletableFuture.failedFuture(new GrdException(RejectReason.FENCED, block, mode));
        }
        final PinWord pins = agent.pins(block);
        if (null != pins)
        {
            final CompletableFuture<BlockGrant> held = pins.tryPin(mode);
            if (null != held)
            {
                fastGets.increment();
                return held;
            }
        }
        final CompletableFuture<BlockGrant> future = new CompletableFuture<>();
        final long now = System.nanoTime();
        submit(new Commands.Acquire(block, mode, future, now, now + timeout.toNanos()), future);
        return future;
    }

    /**
     * Unpins a block acquired by {@link #acquire}. The lock stays with this node until another node asks for it.
     *
     * @param block the block.
     */
    public void release(final long block)
    {
        final PinWord pins = agent.pins(block);
        final int gate = null == pins ? -1 : pins.unpin();
        if (gate < 0)
        {
            throw new IllegalStateException("block " + block + " is not pinned on node " + node.nodeId());
        }
        if (gate > 0 && !closed && !agent.submit(new Commands.Release(block)))
        {
            agent.submitAlways(new Commands.Release(block));
        }
    }

    /** @return blocks the agent keeps state for (racy read; tests). */
    int trackedBlocks()
    {
        return agent.trackedBlocks();
    }

    /**
     * Gives a held lock down to a weaker mode once this node's users are done with it; to NULL, a dirty image is
     * written to disk first (nobody else has it).
     *
     * @param block the block.
     * @param mode  SHARED or NULL.
     * @return completes with true when done.
     */
    public CompletableFuture<Boolean> downgrade(final long block, final LockMode mode)
    {
        Objects.requireNonNull(mode, "mode");
        if (mode == LockMode.EXCLUSIVE)
        {
            throw new IllegalArgumentException("downgrade to SHARED or NULL, not EXCLUSIVE");
        }
        final CompletableFuture<Boolean> future = new CompletableFuture<>();
        submit(new Commands.GiveUp(block, mode, false, future), future);
        return future;
    }

    /**
     * Evicts a block this node holds but does not use: writes it if dirty, drops it and releases the lock.
     *
     * @param block the block.
     * @return completes with false when the block is in use here (pick another victim).
     */
    public CompletableFuture<Boolean> evict(final long block)
    {
        final CompletableFuture<Boolean> future = new CompletableFuture<>();
        submit(new Commands.GiveUp(block, LockMode.NULL, true, future), future);
        return future;
    }

    /**
     * Writes every dirty block this node holds the current version of, telling all nodes so they drop their past
     * images of older versions.
     *
     * @return completes with the number of blocks written.
     */
    public CompletableFuture<Integer> checkpoint()
    {
        final CompletableFuture<Integer> future = new CompletableFuture<>();
        submit(new Commands.Checkpoint(future), future);
        return future;
    }

    /**
     * Reads a block as of an SCN, taking no lock: built here when this node holds the block, otherwise by its
     * holder (found through the master) and shipped, or built here from disk and undo when nobody holds it or
     * the holder invokes the fairness rule.
     *
     * @param block the block.
     * @param scn   the SCN.
     * @return completes with the image as of that SCN.
     */
    public CompletableFuture<BlockImage> readConsistent(final long block, final long scn)
    {
        if (!node.hasLease())
        {
            return CompletableFuture.failedFuture(new GrdException(RejectReason.FENCED, block, null));
        }
        final CompletableFuture<BlockImage> future = new CompletableFuture<>();
        final long now = System.nanoTime();
        submit(new Commands.ReadConsistent(block, scn, future, now, now + config.acquireTimeout().toNanos()), future);
        return future;
    }

    private void submit(final Commands.Command command, final CompletableFuture<?> future)
    {
        if (closed)
        {
            future.completeExceptionally(new IllegalStateException("cache fusion is closed"));
        }
        else if (!agent.submit(command))
        {
            future.completeExceptionally(new IllegalStateException("cache fusion command queue full: back off"));
        }
    }

    /** @return the wait events so far (a snapshot); current_local includes the gets served without the agent. */
    public WaitEvents waitEvents()
    {
        final WaitEvents snapshot = events.snapshot();
        final java.util.Map<String, Long> counts = new java.util.LinkedHashMap<>(snapshot.counts());
        counts.merge("current_local", fastGets.sum(), Long::sum);
        counts.put("current_local_fast", fastGets.sum());
        return new WaitEvents(counts, snapshot.latencies());
    }

    /** Diagnostics for tests: a racy look at a block's state on this node. */
    String describe(final long block)
    {
        return agent.describe(block);
    }

    /** @return the directory under this instance (for its stats and masterOf). */
    public GlobalResourceDirectory directory()
    {
        return grd;
    }

    /** @return this node's id. */
    public int nodeId()
    {
        return node.nodeId();
    }

    /** @return messages dropped because the agent's inbox was full. */
    public long inboxDrops()
    {
        return inboxDrops.get();
    }

    /**
     * Stops the agent (failing what is pending) and the directory, and gives their message types back (cache fusion
     * may start again on the same node). Idempotent.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (final int type : FusionMessages.TYPES)
        {
            node.unregisterHandler(type, inboxHandler);
        }
        node.detach(agent);
        CloseHelper.quietClose(grd);
    }
}
