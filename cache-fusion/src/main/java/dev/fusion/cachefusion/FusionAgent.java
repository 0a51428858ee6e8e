package dev.fusion.cachefusion;

import dev.fusion.cachefusion.Commands.Acquire;
import dev.fusion.cachefusion.Commands.Checkpoint;
import dev.fusion.cachefusion.Commands.Command;
import dev.fusion.cachefusion.Commands.GiveUp;
import dev.fusion.cachefusion.Commands.GrantDone;
import dev.fusion.cachefusion.Commands.HoldersDone;
import dev.fusion.cachefusion.Commands.Notice;
import dev.fusion.cachefusion.Commands.ReadConsistent;
import dev.fusion.cachefusion.Commands.Recover;
import dev.fusion.cachefusion.Commands.Release;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.Priority;
import dev.fusion.grd.GlobalResourceDirectory;
import dev.fusion.grd.Grant;
import dev.fusion.grd.GrdException;
import dev.fusion.grd.LockMode;
import dev.fusion.grd.RejectReason;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The single writer of this node's block states: local acquires and releases, the directory's notices (give
 * way, ship an image), images and consistent-read copies from other nodes, write notices and recovery. Runs on
 * the node's thread (attached) or its own.
 */
final class FusionAgent implements Agent
{
    private static final System.Logger LOG = System.getLogger(FusionAgent.class.getName());
    private static final int INBOX_BYTES = 8 << 20;
    private static final long SCAN_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SLOW_NS = TimeUnit.SECONDS.toNanos(5);
    private static final java.time.Duration DIRECTORY_TIMEOUT = java.time.Duration.ofHours(1);
    private static final int MAX_REGRANTS = 10;

    private final ClusterNode node;
    private final int self;
    private final GlobalResourceDirectory grd;
    private final BufferCache cache;
    private final CacheFusionConfig config;
    private final WaitEventRecorder events;
    private final ManyToOneConcurrentArrayQueue<Command> commands = new ManyToOneConcurrentArrayQueue<>(65536);
    private final dev.fusion.cluster.MessageInbox inbox = new dev.fusion.cluster.MessageInbox(INBOX_BYTES);
    // bound once: a method reference evaluated in doWork allocates on every duty cycle
    private final java.util.function.Consumer<Command> commandHandler = this::onCommand;
    private final dev.fusion.cluster.MessageHandler messageHandler = this::onMessage;
    private final Long2ObjectHashMap<BlockState> blocks = new Long2ObjectHashMap<>();
    /** The blocks the timers look at: scanning every block every millisecond grew with the buffer cache. */
    private final ArrayList<BlockState> timed = new ArrayList<>();
    /** The pin words of the blocks above, for application threads (lock-free gets of blocks held here). */
    private final java.util.concurrent.ConcurrentHashMap<Long, PinWord> pinWords =
        new java.util.concurrent.ConcurrentHashMap<>();
    private final Long2ObjectHashMap<PendingCr> crs = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<PendingRecovery> recoveries = new Long2ObjectHashMap<>();
    private final ExpandableArrayBuffer out = new ExpandableArrayBuffer(16 * 1024);
    /** Messages the transport refused, in send order (a deque: draining a list from its head was quadratic). */
    private final java.util.ArrayDeque<Outbound> backlog = new java.util.ArrayDeque<>();
    private final long imageTimeoutNs;
    private long nextScanNs;
    private long crIds;
    private long recoveryIds;

    /** A consistent read of this node waiting for its copy. */
    private static final class PendingCr
    {
        final ReadConsistent read;
        long sentNs;

        PendingCr(final ReadConsistent read, final long sentNs)
        {
            this.read = read;
            this.sentNs = sentNs;
        }
    }

    /** A recovery waiting for the survivors' past images. */
    private static final class PendingRecovery
    {
        final Recover recover;
        long deadlineNs;
        final org.agrona.collections.IntHashSet awaited = new org.agrona.collections.IntHashSet();
        BlockImage newest;

        PendingRecovery(final Recover recover, final long deadlineNs)
        {
            this.recover = recover;
            this.deadlineNs = deadlineNs;
        }

        void offer(final BlockImage image)
        {
            if (null != image && (null == newest || image.version() > newest.version()))
            {
                newest = image;
            }
        }
    }

    /** A message the transport's queue refused: sent again, in order, before anything new. */
    private record Outbound(int peer, int type, Priority priority, byte[] bytes)
    {
    }

    FusionAgent(final ClusterNode node, final GlobalResourceDirectory grd, final BufferCache cache,
        final CacheFusionConfig config, final WaitEventRecorder events)
    {
        this.node = node;
        this.self = node.nodeId();
        this.grd = grd;
        this.cache = cache;
        this.config = config;
        this.events = events;
        this.imageTimeoutNs = config.imageTimeout().toNanos();
    }

    @Override
    public String roleName()
    {
        return "fusion-cache-" + self;
    }

    /** Any thread: queue work for the agent. */
    boolean submit(final Command command)
    {
        return commands.offer(command);
    }

    /** Any thread that must not lose the command (directory callbacks): waits for room. */
    void submitAlways(final Command command)
    {
        while (!commands.offer(command))
        {
            Thread.onSpinWait();
        }
    }

    /** Transport thread: copy a message into the inbox. */
    boolean deliver(final int source, final int type, final DirectBuffer buffer, final int offset, final int length)
    {
        return inbox.offer(source, type, buffer, offset, length);
    }

    @Override
    public int doWork()
    {
        int work = flushBacklog();
        work += commands.drain(commandHandler, 256);
        work += inbox.drain(messageHandler, 256);
        final long now = System.nanoTime();
        if (now - nextScanNs >= 0)
        {
            nextScanNs = now + SCAN_NS;
            work += scan(now);
        }
        return work;
    }

    // ------------------------------------------------------------------ commands

    private void onCommand(final Command command)
    {
        try
        {
            if (command instanceof Acquire a)
            {
                final BlockState s = state(a.block);
                s.waiters.add(a);
                timed(s);
                drive(s);
            }
            else if (command instanceof Release r)
            {
                onRelease(r.block());
            }
            else if (command instanceof GrantDone g)
            {
                onGrantDone(g);
            }
            else if (command instanceof Notice n)
            {
                final BlockState s = state(n.block);
                if (BlockState.TRACE)
                {
                    s.trace("notice from master for " + n.requester + "/" + n.requestId + " keep " + n.keep + " ship " +
                        n.ship + " holderGrant " + n.holderGrant + (n.granting ? " granting" : ""));
                }
                s.notices.add(n);
                drive(s);
            }
            else if (command instanceof GiveUp g)
            {
                onGiveUp(g);
            }
            else if (command instanceof ReadConsistent r)
            {
                onReadConsistent(r);
            }
            else if (command instanceof HoldersDone h)
            {
                onHolders(h);
            }
            else if (command instanceof Recover r)
            {
                onRecover(r);
            }
            else if (command instanceof Checkpoint c)
            {
                c.future().complete(checkpoint());
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": cache fusion command failed: " + command, ex);
        }
    }

    private BlockState state(final long block)
    {
        BlockState s = blocks.get(block);
        if (null == s)
        {
            s = new BlockState(block, self);
            blocks.put(block, s);
            pinWords.put(block, s.pins);
        }
        return s;
    }

    /** Puts a block on the timers' list (a request went out, a grant waits for its image, a local user waits). */
    private void timed(final BlockState s)
    {
        if (!s.timed)
        {
            s.timed = true;
            timed.add(s);
        }
    }

    /** Blocks this node shipped to another node and let go of, by receiver: read by the directory on a death. */
    private final java.util.concurrent.ConcurrentHashMap<Long, Integer> givenAway =
        new java.util.concurrent.ConcurrentHashMap<>();
    /** Blocks in use on an image that carried its grant, until the grant arrives: read by the directory. */
    private final java.util.concurrent.ConcurrentHashMap<Long, dev.fusion.grd.UnconfirmedHold> unconfirmed =
        new java.util.concurrent.ConcurrentHashMap<>();

    /** Directory agent: the blocks this node gave a node that has died (their newest version may be here). */
    java.util.List<Long> givenTo(final int deadNode)
    {
        final java.util.List<Long> given = new ArrayList<>();
        givenAway.forEach((block, node) ->
        {
            if (node == deadNode)
            {
                given.add(block);
            }
        });
        return given;
    }

    /** Diagnostics for tests: a racy look at a block's state (its trace when tracing is on). */
    String describe(final long block)
    {
        final BlockState s = blocks.get(block);
        return null == s ? "no state" : s.toString();
    }

    /** @return blocks this agent keeps state for (read racily from another thread: tests and diagnostics). */
    int trackedBlocks()
    {
        return blocks.size();
    }

    /** Any thread: the pin word of a block this node has state for, or null. */
    PinWord pins(final long block)
    {
        return pinWords.get(block);
    }

    private void forgetIfIdle(final BlockState s)
    {
        if (s.idle())
        {
            // nothing is kept: a late notice about the hold given up names a grant other than the one a new
            // request waits for, which is all drive needs to tell them apart
            blocks.remove(s.block);
            pinWords.remove(s.block);
        }
    }

    /**
     * Moves a block forward: other nodes' notices first (so a stream of local users cannot starve them), then
     * local waiters, each as soon as the pins allow.
     */
    private void drive(final BlockState s)
    {
        if (!s.notices.isEmpty() || !s.waiters.isEmpty() || null != s.acquiring)
        {
            s.pins.close(); // before reading the pins: no fast pin can slip in while the agent decides
        }
        while (!s.notices.isEmpty())
        {
            final Notice n = s.notices.peekFirst();
            // While this node's own request is out, a notice about the grant it waits for must wait for it. Two
            // others cannot: a request to supply a copy it holds (a converting holder that waited for it would
            // wait for a grant that waits for it), and one about a hold it already gave up (evicted, say) whose
            // release the master had not seen yet (the requester would wait for this node, this node for it): not
            // holding it, this node is named holder under a grant other than the one its request waits for.
            if (null != s.acquiring && n.requester >= 0 &&
                !(s.held != LockMode.NULL && n.keep == s.held) &&
                !(s.held == LockMode.NULL && n.holderGrant != Long.MIN_VALUE &&
                    n.holderGrant != s.acquiring.requestId))
            {
                break;
            }
            if (null != s.acquiring && n.requester < 0)
            {
                break;
            }
            if (!canServe(s, n))
            {
                n.waited = true;
                break;
            }
            s.notices.pollFirst();
            serveNotice(s, n);
            answerDeferredPastImageQueries(s);
        }
        while (null == s.acquiring && s.notices.isEmpty() && !s.waiters.isEmpty())
        {
            final Acquire a = s.waiters.peekFirst();
            if (a.future.isDone())
            {
                s.waiters.pollFirst();
                continue;
            }
            if (s.held.covers(a.mode))
            {
                if (!s.canPin(a.mode))
                {
                    break;
                }
                s.waiters.pollFirst();
                if (!node.hasLease())
                {
                    a.future.completeExceptionally(new GrdException(RejectReason.FENCED, a.block, a.mode));
                    continue;
                }
                s.pin(a.mode);
                s.crInARow = 0;
                events.increment(WaitEventRecorder.CURRENT_LOCAL);
                events.recordLatency(WaitEventRecorder.LOCAL_LATENCY, System.nanoTime() - a.startNs);
                a.future.complete(new BlockGrant(a.block, s.held, GetKind.LOCAL, 0, System.nanoTime() - a.startNs));
            }
            else
            {
                if (s.pinned())
                {
                    break; // a conversion waits for this node's own users to finish
                }
                s.waiters.pollFirst();
                startAcquire(s, a);
            }
        }
        s.pins.publish(s.held, s.notices.isEmpty() && s.waiters.isEmpty() && null == s.acquiring);
        forgetIfIdle(s);
    }

    private void startAcquire(final BlockState s, final Acquire a)
    {
        s.acquiring = a;
        timed(s);
        a.heldBefore = s.held;
        if (BlockState.TRACE)
        {
            s.trace("acquire " + a.mode + " held " + s.held);
        }
        // The directory request itself does not time out with the caller: a grant that came after the caller
        // gave up would be handed back while its supplier already shipped (and dropped) the current image.
        // The caller's future fails at its deadline; the request goes on and its block is simply kept.
        requestGrant(a, a.heldBefore == LockMode.NULL);
    }

    /** Sends an acquire's directory request; its grant comes back as a {@link GrantDone} command. */
    private void requestGrant(final Acquire a, final boolean fresh)
    {
        final dev.fusion.grd.GrantRequest request = grd.requestGrant(a.block, a.mode, DIRECTORY_TIMEOUT, fresh);
        a.requestId = request.requestId();
        a.viewChanges = request.viewChanges();
        request.grant().whenComplete((grant, error) -> submitAlways(new GrantDone(a, grant, error)));
    }

    private static Throwable cause(final Throwable error)
    {
        return error instanceof java.util.concurrent.CompletionException ? error.getCause() : error;
    }

    private void onGrantDone(final GrantDone g)
    {
        final Acquire a = g.acquire();
        final BlockState s = state(a.block);
        if (s.acquiring != a)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": stray grant for block " + a.block);
            return;
        }
        if (a.installed)
        {
            confirm(s, a, g);
            return;
        }
        if (null != g.error())
        {
            if (BlockState.TRACE)
            {
                s.trace("grant failed " + g.error());
            }
            s.acquiring = null;
            if (s.stashedRequestId == a.requestId)
            {
                // shipped for the request that failed: no grant will name it again (a retry is a new request),
                // and kept it would pin the block's state with its image
                s.stashedImage = null;
                s.stashedRequestId = Long.MIN_VALUE;
            }
            final Throwable cause = cause(g.error());
            if (cause instanceof GrdException ge && ge.reason() == RejectReason.CONVERSION_DEADLOCK)
            {
                // another holder converts first; its notice makes this node give its copy up, then this
                // request goes again as a fresh one
                events.increment(WaitEventRecorder.CONVERSION_RETRIES);
                s.waiters.addFirst(a);
                timed(s);
            }
            else
            {
                events.increment(WaitEventRecorder.FAILED);
                a.future.completeExceptionally(cause);
            }
            drive(s);
            return;
        }
        final Grant grant = g.grant();
        if (BlockState.TRACE)
        {
            s.trace("grant " + grant);
        }
        s.held = grant.mode();
        if (grant.supplier() == Grant.NO_SUPPLIER)
        {
            if (a.heldBefore == LockMode.NULL)
            {
                BlockImage image = cache.readFromDisk(a.block);
                if (s.stashedRequestId == grant.requestId() && null != s.stashedImage &&
                    s.stashedImage.version() > image.version())
                {
                    // shipped for this very request by a holder a reconfiguration has since forgotten (it was
                    // told by the old master): newer than the disk, so it is the block
                    image = s.stashedImage;
                }
                s.stashedImage = null;
                s.stashedRequestId = Long.MIN_VALUE;
                cache.install(a.block, image, grant.mode());
                finish(s, a, grant, GetKind.GRANT, image.version(), 0);
            }
            else
            {
                finish(s, a, grant, GetKind.GRANT, 0, 0);
            }
            return;
        }
        s.grant = grant;
        timed(s);
        if (s.stashedRequestId == grant.requestId() && s.stashedEpoch != node.view().epoch())
        {
            // stashed before a reconfiguration: the request id is the same (the request was sent again to the new
            // master), but the supplier may have taken the block back and changed it since; wait for what it
            // ships for this grant (or answers to a FETCH)
            if (BlockState.TRACE)
            {
                s.trace("image stashed before a reconfiguration dropped");
            }
            s.stashedImage = null;
            s.stashedRequestId = Long.MIN_VALUE;
        }
        if (s.stashedRequestId == grant.requestId() && s.stashedFrom == grant.supplier() &&
            (null != s.stashedImage || (s.stashedFlags & FusionMessages.NONE) != 0))
        {
            installStashed(s);
        }
        else
        {
            s.imageDeadlineNs = System.nanoTime() + imageTimeoutNs;
        }
    }

    private void installStashed(final BlockState s)
    {
        final Acquire a = s.acquiring;
        final Grant grant = s.grant;
        BlockImage image = s.stashedImage;
        final int flags = s.stashedFlags;
        if ((flags & FusionMessages.NONE) != 0 || null == image)
        {
            image = cache.readFromDisk(a.block);
        }
        cache.install(a.block, image, grant.mode());
        s.stashedImage = null;
        s.stashedRequestId = Long.MIN_VALUE;
        // two messages when the master ships, or when this node is the master (forward + image); else three
        final GetKind kind = grant.supplier() == grant.master() || grant.master() == self ?
            GetKind.TWO_WAY : GetKind.THREE_WAY;
        finish(s, a, grant, kind, image.version(), flags);
    }

    private void finish(final BlockState s, final Acquire a, final Grant grant, final GetKind kind,
        final long version, final int flags)
    {
        s.acquiring = null;
        s.grant = null;
        s.held = grant.mode();
        s.grantRequestId = grant.requestId();
        givenAway.remove(s.block);
        s.crInARow = 0;
        if (a.future.isDone())
        {
            drive(s); // the caller gave up (timeout): keep the block, unpinned
            return;
        }
        if (!node.hasLease())
        {
            a.future.completeExceptionally(new GrdException(RejectReason.FENCED, a.block, a.mode));
            drive(s); // the lease ran out while the block came: keep it, unpinned, and use none of it
            return;
        }
        s.pin(a.mode);
        complete(a, grant.mode(), kind, version, flags);
        drive(s);
    }

    /** Hands a pinned block to the caller and counts the get. */
    private void complete(final Acquire a, final LockMode mode, final GetKind kind, final long version,
        final int flags)
    {
        final long latencyNs = System.nanoTime() - a.startNs;
        events.increment(switch (kind)
        {
            case GRANT -> WaitEventRecorder.CURRENT_GRANT;
            case TWO_WAY -> WaitEventRecorder.CURRENT_2WAY;
            default -> WaitEventRecorder.CURRENT_3WAY;
        });
        events.recordLatency(WaitEventRecorder.latencyOf(kind), latencyNs);
        if ((flags & FusionMessages.BUSY) != 0)
        {
            events.increment(WaitEventRecorder.BUSY);
        }
        if ((flags & FusionMessages.CONGESTED) != 0)
        {
            events.increment(WaitEventRecorder.CONGESTED);
        }
        a.future.complete(new BlockGrant(a.block, mode, kind, version, latencyNs));
    }

    /** An application thread released a pin while the gate was closed: something may be waiting for it. */
    private void onRelease(final long block)
    {
        final BlockState s = blocks.get(block);
        if (null != s)
        {
            drive(s);
        }
    }

    // ------------------------------------------------------------------ giving blocks up

    private boolean canServe(final BlockState s, final Notice n)
    {
        if (n.keep == LockMode.NULL)
        {
            return !s.pinned();
        }
        return !s.exclusivePinned(); // keep SHARED, or ship only: no change may be in progress
    }

    private void serveNotice(final BlockState s, final Notice n)
    {
        final long startNs = System.nanoTime();
        if (n.requester < 0)
        {
            giveUpLocally(s, n);
            return;
        }
        int flags = n.waited ? FusionMessages.BUSY : 0;
        if (BlockState.TRACE)
        {
            s.trace("serve notice " + n.requester + "/" + n.requestId + " held " + s.held);
        }
        if (s.held != LockMode.NULL && n.holderGrant != Long.MIN_VALUE && n.holderGrant != s.grantRequestId)
        {
            if (BlockState.TRACE)
            {
                s.trace("stale notice dropped");
            }
            // about a hold this node gave up since (a repeated notice): the lock it has now is not meant
            events.increment(WaitEventRecorder.STALE_NOTICES);
            return;
        }
        if (s.held == LockMode.NULL)
        {
            // not held: this node evicted it (the disk copy is current) or already gave it to this requester
            if (n.ship && !(s.shippedTo == n.requester && s.shippedRequestId == n.requestId))
            {
                final BlockImage pi = cache.pastImage(n.block);
                ship(n.requester, n.block, n.requestId, pi, null == pi ? flags | FusionMessages.NONE : flags);
            }
            // the master still counts this node a holder: its release was lost (or overtaken); again, naming the
            // grant the master named, so that a hold granted to this node since (its next acquire may be answered
            // before this release arrives) is not the one released
            grd.releaseGrant(n.block, n.holderGrant).whenComplete((m, e) -> logFailure("release", n.block, e));
            return;
        }
        final boolean givingUp = n.ship && n.keep == LockMode.NULL;
        if (givingUp)
        {
            // recorded before the liveness check: the directory reads it when it learns of a death, which is after
            // the view says so; a requester seen alive here is then either reported as given this block or dead
            // and skipped below
            givenAway.put(n.block, n.requester);
        }
        if (!live(n.requester) || !live(n.master))
        {
            // the requester (or the master that sent the notice) died before this node gave the block up: the
            // directory rebuilt after the death counts this node as the holder (it was when it reported), so it
            // keeps the block, and the new master sends its own notices for the requests sent to it again.
            // Shipping into the void (or to a grantee the new master does not know) and releasing would leave the
            // newest version in a past image nobody asks for, and the next grant would read a stale disk copy
            if (givingUp)
            {
                givenAway.remove(n.block, n.requester);
            }
            if (BlockState.TRACE)
            {
                s.trace("notice from " + n.master + " for " + n.requester + " dropped (dead), still held " + s.held);
            }
            events.increment(WaitEventRecorder.STALE_NOTICES);
            return;
        }
        BlockImage current = null;
        if (n.keep == LockMode.SHARED && s.held == LockMode.EXCLUSIVE)
        {
            // SHARED copies are always clean: a dirty image kept only in SHARED copies would be lost with the
            // death of the nodes holding them (the directory recovers EXCLUSIVE holds only), so write it first
            final long version = cache.write(n.block);
            if (version >= 0)
            {
                written(n.block, version);
            }
        }
        if (n.ship)
        {
            current = cache.current(n.block);
            if (null != current && current.dirty())
            {
                cache.flushRedo(n.block, current.version());
            }
            if (!n.waited && System.nanoTime() - n.arrivedNs > config.congestedAfter().toNanos())
            {
                flags |= FusionMessages.CONGESTED;
            }
            if (n.granting && null != current)
            {
                flags |= FusionMessages.GRANTED; // the requester may use it before the master's grant arrives
            }
            ship(n.requester, n.block, n.requestId, current, null == current ? flags | FusionMessages.NONE : flags);
            s.shippedTo = n.requester;
            s.shippedRequestId = n.requestId;
            s.shippedVersion = null == current ? 0 : current.version();
        }
        if (n.keep.ordinal() < s.held.ordinal())
        {
            if (n.keep == LockMode.NULL)
            {
                if (null == current)
                {
                    current = cache.current(n.block);
                }
                if (null != current && current.dirty())
                {
                    // Shipped: the requester's copy is this version until it is written. Not shipped (another
                    // holder was named supplier, which happens only when the directory counted two EXCLUSIVE
                    // holders): this may be the newest version, kept for recovery and FETCH rather than dropped
                    // (not written: the disk may already hold a newer one)
                    cache.keepPastImage(n.block);
                    events.increment(WaitEventRecorder.PAST_IMAGES_KEPT);
                }
                cache.invalidate(n.block);
                s.held = LockMode.NULL;
                s.crInARow = 0;
                if (n.ship)
                {
                    givenAway.put(n.block, n.requester);
                }
                grd.release(n.block).whenComplete((m, e) -> logFailure("release", n.block, e));
            }
            else
            {
                s.held = n.keep;
                grd.downgrade(n.block, n.keep).whenComplete((m, e) -> logFailure("downgrade", n.block, e));
            }
        }
        if (System.nanoTime() - startNs < 0)
        {
            LOG.log(System.Logger.Level.DEBUG, "clock went back");
        }
    }

    /** A downgrade or eviction asked by this node's engine: nobody receives the image, so a dirty one is written. */
    private void giveUpLocally(final BlockState s, final Notice n)
    {
        final GiveUp g = pendingGiveUps.remove(n.requestId);
        if (s.held == LockMode.NULL || !(n.keep.ordinal() < s.held.ordinal()))
        {
            complete(g, true);
            return;
        }
        if (n.keep == LockMode.NULL)
        {
            final long version = cache.write(n.block);
            if (version >= 0)
            {
                written(n.block, version);
            }
            cache.invalidate(n.block);
            s.held = LockMode.NULL;
            grd.release(n.block).whenComplete((m, e) ->
            {
                logFailure("release", n.block, e);
                complete(g, null == e);
            });
        }
        else
        {
            s.held = n.keep;
            grd.downgrade(n.block, n.keep).whenComplete((m, e) ->
            {
                logFailure("downgrade", n.block, e);
                complete(g, null == e);
            });
        }
    }

    private final Long2ObjectHashMap<GiveUp> pendingGiveUps = new Long2ObjectHashMap<>();
    private long giveUpIds;

    private void onGiveUp(final GiveUp g)
    {
        final BlockState s = blocks.get(g.block());
        if (null == s || s.held == LockMode.NULL)
        {
            complete(g, true);
            return;
        }
        if (g.evict() && (s.pinned() || null != s.acquiring || !s.waiters.isEmpty()))
        {
            complete(g, false); // in use here: not a victim
            return;
        }
        final long id = ++giveUpIds;
        pendingGiveUps.put(id, g);
        s.notices.add(new Notice(g.block(), -1, LockMode.NULL, g.keep(), false, id, Long.MIN_VALUE, false, self,
            System.nanoTime()));
        drive(s);
    }

    private static void complete(final GiveUp g, final boolean done)
    {
        if (null != g)
        {
            g.future().complete(done);
        }
    }

    private void logFailure(final String what, final long block, final Throwable error)
    {
        final Throwable cause = cause(error);
        if (null != cause && !(cause instanceof GrdException ge && ge.reason() == RejectReason.NOT_HELD))
        {
            // NOT_HELD: a repeated release after the first one's answer was lost; nothing to do
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": " + what + " of block " + block + " failed: " +
                cause);
        }
    }

    private void ship(final int requester, final long block, final long requestId, final BlockImage image,
        final int flags)
    {
        final int f = null != image && image.dirty() ? flags | FusionMessages.DIRTY : flags;
        if (BlockState.TRACE)
        {
            final BlockState traced = blocks.get(block);
            if (null != traced)
            {
                traced.trace("ship to " + requester + "/" + requestId + " version " +
                    (null == image ? "none" : image.version()) + " flags " + f);
            }
        }
        final int length = FusionMessages.image(out, block, requestId, null == image ? 0 : image.version(), f,
            null == image ? null : image.bytes());
        if (null != image)
        {
            events.increment(WaitEventRecorder.IMAGES_SHIPPED);
            events.add(WaitEventRecorder.BYTES_SHIPPED, image.bytes().length);
        }
        if (requester == self)
        {
            onImage(self, out, 0, length);
        }
        else
        {
            send(requester, FusionMessages.IMAGE, Priority.NORMAL, out, length);
        }
    }

    // ------------------------------------------------------------------ write coordination

    private int checkpoint()
    {
        int count = 0;
        for (final BlockState s : new ArrayList<>(blocks.values()))
        {
            if (s.held != LockMode.NULL && !s.exclusivePinned() && null == s.acquiring)
            {
                final long version = cache.write(s.block);
                if (version >= 0)
                {
                    written(s.block, version);
                    count++;
                }
            }
        }
        return count;
    }

    /** Another node wrote a version: past images up to it go, and so does the memory of shipping it. */
    private void onWritten(final long block, final long version)
    {
        events.add(WaitEventRecorder.PAST_IMAGES_DISCARDED, cache.written(block, version));
        final BlockState s = blocks.get(block);
        if (null != s && s.shippedTo != -1 && s.shippedVersion <= version)
        {
            givenAway.remove(block);
            s.shippedTo = -1;
            s.shippedRequestId = Long.MIN_VALUE;
            forgetIfIdle(s);
        }
    }

    /** A version reached the disk: every node may drop its past images up to it. */
    private void written(final long block, final long version)
    {
        onWritten(block, version);
        FusionMessages.pair(out, block, version);
        for (final int peer : livePeers())
        {
            send(peer, FusionMessages.WRITTEN, Priority.LOW, out, FusionMessages.SHORT_LENGTH);
        }
    }

    private List<Integer> livePeers()
    {
        final List<Integer> peers = new ArrayList<>();
        for (final Map.Entry<Integer, MemberState> m : node.view().states().entrySet())
        {
            if (m.getKey() != self && m.getValue() != MemberState.DEAD)
            {
                peers.add(m.getKey());
            }
        }
        return peers;
    }

    private boolean live(final int nodeId)
    {
        final MemberState state = node.view().states().get(nodeId);
        return null != state && state != MemberState.DEAD;
    }

    // ------------------------------------------------------------------ consistent reads

    private void onReadConsistent(final ReadConsistent r)
    {
        final BlockState s = blocks.get(r.block());
        if (null != s && s.held != LockMode.NULL && null == s.acquiring)
        {
            completeCr(r, cache.consistentRead(r.block(), r.scn()), WaitEventRecorder.CR_LOCAL);
            return;
        }
        final long crId = ++crIds;
        crs.put(crId, new PendingCr(r, System.nanoTime()));
        sendCr(r.block(), r.scn(), crId);
    }

    private void sendCr(final long block, final long scn, final long crId)
    {
        final int master = grd.masterOf(block);
        if (master == self)
        {
            onCrRequest(block, scn, crId, self, 0);
        }
        else
        {
            final int length = FusionMessages.cr(out, block, scn, crId, self, 0);
            send(master, FusionMessages.CR, Priority.HIGH, out, length);
        }
    }

    private void completeCr(final ReadConsistent r, final BlockImage image, final int event)
    {
        events.increment(event);
        events.recordLatency(3, System.nanoTime() - r.startNs());
        if (null == image)
        {
            r.future().completeExceptionally(new IllegalStateException(
                "block " + r.block() + " cannot be rebuilt as of SCN " + r.scn() + ": undo no longer reaches it"));
        }
        else
        {
            r.future().complete(image);
        }
    }

    /** As master (hops 0) or holder: serve a consistent-read request. */
    private void onCrRequest(final long block, final long scn, final long crId, final int requester, final int hops)
    {
        final BlockState s = blocks.get(block);
        if (null != s && s.held != LockMode.NULL && null == s.acquiring)
        {
            if (s.pins.takeUsed())
            {
                s.crInARow = 0; // used here since the last copy
            }
            if (++s.crInARow > config.crFairnessLimit())
            {
                // RAC's fairness rule: a hot block must not keep its holder building copies for others
                s.crInARow = 0;
                events.increment(WaitEventRecorder.FAIRNESS_ANSWERS);
                crReply(requester, block, crId, null, FusionMessages.NONE | FusionMessages.FAIRNESS);
                return;
            }
            final BlockImage copy = cache.consistentRead(block, scn);
            crReply(requester, block, crId, copy,
                (null == copy ? FusionMessages.NONE : 0) | (hops == 0 ? FusionMessages.BY_MASTER : 0));
            return;
        }
        if (hops > 0)
        {
            crReply(requester, block, crId, null, FusionMessages.NONE);
            return;
        }
        grd.holders(block).whenComplete((holders, error) ->
            submitAlways(new HoldersDone(block, scn, crId, requester, holders, error)));
    }

    private void onHolders(final HoldersDone h)
    {
        int holder = -1;
        if (null == h.error())
        {
            for (final Map.Entry<Integer, LockMode> e : h.holders().entrySet())
            {
                if (e.getKey() != h.requester() && (holder == -1 || e.getValue() == LockMode.EXCLUSIVE))
                {
                    holder = e.getKey();
                }
            }
        }
        if (holder == -1 || !live(holder))
        {
            crReply(h.requester(), h.block(), h.crId(), null, FusionMessages.NONE);
        }
        else if (holder == self)
        {
            onCrRequest(h.block(), h.scn(), h.crId(), h.requester(), 1);
        }
        else
        {
            final int length = FusionMessages.cr(out, h.block(), h.scn(), h.crId(), h.requester(), 1);
            send(holder, FusionMessages.CR, Priority.HIGH, out, length);
        }
    }

    private void crReply(final int requester, final long block, final long crId, final BlockImage image,
        final int flags)
    {
        final int length = FusionMessages.image(out, block, crId, null == image ? 0 : image.version(), flags,
            null == image ? null : image.bytes());
        if (requester == self)
        {
            onCrImage(out, 0, length);
        }
        else
        {
            send(requester, FusionMessages.CR_IMAGE, Priority.NORMAL, out, length);
        }
    }

    private void onCrImage(final DirectBuffer b, final int at, final int length)
    {
        final byte[] bytes = FusionMessages.imageBytes(b, at, length);
        final PendingCr p = crs.remove(FusionMessages.second(b, at));
        if (null == p)
        {
            return; // answered already (a resent request)
        }
        final int flags = FusionMessages.flags(b, at);
        if ((flags & FusionMessages.NONE) != 0 || null == bytes)
        {
            completeCr(p.read, cache.consistentRead(p.read.block(), p.read.scn()), WaitEventRecorder.CR_SELF_SERVED);
        }
        else
        {
            completeCr(p.read, new BlockImage(FusionMessages.third(b, at), false, bytes),
                (flags & FusionMessages.BY_MASTER) != 0 ? WaitEventRecorder.CR_2WAY : WaitEventRecorder.CR_3WAY);
        }
    }

    // ------------------------------------------------------------------ recovery

    private void onRecover(final Recover r)
    {
        final long id = ++recoveryIds;
        final PendingRecovery p = new PendingRecovery(r, System.nanoTime() + config.recoveryTimeout().toNanos());
        p.offer(cache.pastImage(r.block()));
        for (final int peer : livePeers())
        {
            if (peer != r.deadNode())
            {
                p.awaited.add(peer);
            }
        }
        recoveries.put(id, p);
        askForPastImages(id, p);
        maybeFinishRecovery(id, p, System.nanoTime());
    }

    private void askForPastImages(final long id, final PendingRecovery p)
    {
        FusionMessages.pair(out, p.recover.block(), id);
        for (final int peer : p.awaited)
        {
            send(peer, FusionMessages.PI_QUERY, Priority.HIGH, out, FusionMessages.SHORT_LENGTH);
        }
    }

    /**
     * Recovery needs every survivor's answer: the newest past image may be at any of them, and starting from an
     * older one would lose the changes in between (they are in that survivor's redo, not the dead node's). A
     * silent survivor is asked again until it answers or is declared dead.
     */
    private void maybeFinishRecovery(final long id, final PendingRecovery p, final long now)
    {
        p.awaited.removeIf(peer -> !live(peer));
        if (!p.awaited.isEmpty())
        {
            if (now - p.deadlineNs >= 0)
            {
                p.deadlineNs = now + config.recoveryTimeout().toNanos();
                askForPastImages(id, p);
            }
            return;
        }
        recoveries.remove(id);
        final Recover r = p.recover;
        try
        {
            final long version = cache.recover(r.block(), p.newest, r.deadNode());
            LOG.log(System.Logger.Level.INFO, "node " + self + ": recovered block " + r.block() + " of dead node " +
                r.deadNode() + " from " + (null == p.newest ? "disk" : "a past image at version " +
                p.newest.version()) + " and its redo: version " + version);
            written(r.block(), version);
            events.increment(WaitEventRecorder.RECOVERIES);
            r.future().complete(null);
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": recovery of block " + r.block() + " failed", ex);
            r.future().completeExceptionally(ex);
        }
    }

    // ------------------------------------------------------------------ messages

    private void onMessage(final int source, final int type, final DirectBuffer buffer, final int at, final int size)
    {
        try
        {
            switch (type)
            {
                case FusionMessages.IMAGE -> onImage(source, buffer, at, size);
                case FusionMessages.FETCH -> onFetch(source, buffer, at, size);
                case FusionMessages.CR ->
                {
                    FusionMessages.checkLength(type, size, FusionMessages.CR_LENGTH);
                    onCrRequest(FusionMessages.block(buffer, at), FusionMessages.second(buffer, at),
                        FusionMessages.third(buffer, at), FusionMessages.requester(buffer, at),
                        FusionMessages.hops(buffer, at));
                }
                case FusionMessages.CR_IMAGE -> onCrImage(buffer, at, size);
                case FusionMessages.WRITTEN ->
                {
                    FusionMessages.checkLength(type, size, FusionMessages.SHORT_LENGTH);
                    onWritten(FusionMessages.block(buffer, at), FusionMessages.second(buffer, at));
                }
                case FusionMessages.PI_QUERY ->
                {
                    FusionMessages.checkLength(type, size, FusionMessages.SHORT_LENGTH);
                    onPastImageQuery(source, FusionMessages.block(buffer, at), FusionMessages.second(buffer, at));
                }
                case FusionMessages.PI_IMAGE -> onPastImage(source, buffer, at, size);
                default -> throw new IllegalArgumentException("unknown cache fusion message type " + type);
            }
        }
        catch (final RuntimeException ex)
        {
            events.increment(WaitEventRecorder.FAILED);
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": dropped cache fusion message " + type +
                " from node " + source + ": " + ex.getMessage());
        }
    }

    private void onImage(final int source, final DirectBuffer b, final int at, final int length)
    {
        final byte[] bytes = FusionMessages.imageBytes(b, at, length);
        final long block = FusionMessages.block(b, at);
        final long requestId = FusionMessages.second(b, at);
        final int flags = FusionMessages.flags(b, at);
        final BlockState s = blocks.get(block);
        if (null == s || null == s.acquiring)
        {
            return; // late copy of an image already installed
        }
        if (s.acquiring.installed)
        {
            return; // a second copy of the image installed already
        }
        if (null != s.grant && (s.grant.requestId() != requestId || s.grant.supplier() != source))
        {
            return; // for an earlier request of this node, or from a holder that was not named supplier
        }
        if (null == s.grant && (flags & FusionMessages.GRANTED) != 0 && null != bytes &&
            s.acquiring.requestId == requestId && installEarly(s, source, FusionMessages.third(b, at), flags, bytes))
        {
            return;
        }
        if (s.stashedRequestId == requestId && s.stashedFrom == source &&
            (null == bytes || (null != s.stashedImage && s.stashedImage.version() >= FusionMessages.third(b, at))))
        {
            return; // a second copy (the answer to a FETCH crossing the first); a newer one replaces it (below)
        }
        if (s.stashedRequestId == requestId && null != s.stashedImage && null == bytes)
        {
            return; // before the grant names the supplier, an image beats "none" from another holder
        }
        if (BlockState.TRACE)
        {
            s.trace("image from " + source + " for " + requestId + " flags " + flags + " version " +
                FusionMessages.third(b, at));
        }
        s.stashedRequestId = requestId;
        s.stashedFrom = source;
        s.stashedEpoch = node.view().epoch();
        s.stashedFlags = flags;
        s.stashedImage = null == bytes ? null :
            new BlockImage(FusionMessages.third(b, at), (flags & FusionMessages.DIRTY) != 0, bytes);
        if (null != s.grant)
        {
            installStashed(s);
        }
    }

    /**
     * An image that carries its grant (the master grants this request as soon as the sender's release reaches it,
     * and nothing can overtake it): installed and handed to the caller now, one message before the grant. The block
     * stays "acquiring" until the grant arrives: notices, local waiters and releases wait for it, so the master
     * never hears of this hold's end before its start. The hold is recorded for the directory's reports first and
     * the master's liveness checked after: a reconfiguration either sees the record or is seen here.
     *
     * @return false when the promise may be void: the master is gone, or the membership changed since the request
     *         left (the image is stashed and waits for the new master's grant).
     */
    private boolean installEarly(final BlockState s, final int source, final long version, final int flags,
        final byte[] bytes)
    {
        final Acquire a = s.acquiring;
        final int master = grd.masterOf(a.block);
        unconfirmed.put(a.block, new dev.fusion.grd.UnconfirmedHold(a.mode, a.requestId));
        // A membership change since the request left may have killed the master that promised the grant (the
        // ring then names its successor, alive), and the directory may have sent its reports before the record
        // above: the image waits for the new master's grant instead.
        if (grd.viewChanges() != a.viewChanges || !live(master))
        {
            unconfirmed.remove(a.block);
            return false;
        }
        if (BlockState.TRACE)
        {
            s.trace("image from " + source + " for " + a.requestId + " carries the grant, version " + version);
        }
        final BlockImage image = new BlockImage(version, (flags & FusionMessages.DIRTY) != 0, bytes);
        cache.install(a.block, image, a.mode);
        a.installed = true;
        s.held = a.mode;
        s.grantRequestId = a.requestId;
        s.stashedImage = null;
        s.stashedRequestId = Long.MIN_VALUE;
        givenAway.remove(s.block);
        s.crInARow = 0;
        if (a.future.isDone())
        {
            return true; // the caller gave up (timeout): the block is kept, unpinned
        }
        s.pin(a.mode);
        events.increment(WaitEventRecorder.GRANTS_WITH_IMAGE);
        final GetKind kind = source == master || master == self ? GetKind.TWO_WAY : GetKind.THREE_WAY;
        complete(a, a.mode, kind, version, flags);
        return true;
    }

    /** The grant of a request whose image carried it arrives: the hold is confirmed, and what waited goes on. */
    private void confirm(final BlockState s, final Acquire a, final GrantDone g)
    {
        if (null != g.error())
        {
            final Throwable cause = cause(g.error());
            final boolean closed = cause instanceof GrdException ge && ge.reason() == RejectReason.CLOSED;
            if (!closed && a.regrants++ < MAX_REGRANTS)
            {
                // refused on the way (a forward beyond its hops during a reconfiguration, say): the image is the
                // block's newest, so the hold is asked for again, and everything waits for it as before
                LOG.log(System.Logger.Level.WARNING, "node " + self + ": the grant of block " + a.block +
                    " its image carried failed (" + cause + "); asking the directory again");
                events.increment(WaitEventRecorder.IMAGE_RETRIES);
                requestGrant(a, false);
                s.grantRequestId = a.requestId;
                unconfirmed.put(a.block, new dev.fusion.grd.UnconfirmedHold(a.mode, a.requestId));
                return;
            }
            events.increment(WaitEventRecorder.FAILED);
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": block " + a.block + " was used on an image that " +
                "carried its grant, but the grant failed: " + cause);
        }
        s.acquiring = null;
        s.grant = null;
        unconfirmed.remove(a.block);
        if (null == g.error())
        {
            s.held = g.grant().mode();
            s.grantRequestId = g.grant().requestId();
        }
        if (BlockState.TRACE)
        {
            s.trace("grant confirmed " + g.grant());
        }
        drive(s);
    }

    /** Holds used before their grant arrived: for the directory's reports at a reconfiguration. */
    java.util.Map<Long, dev.fusion.grd.UnconfirmedHold> unconfirmed()
    {
        return java.util.Map.copyOf(unconfirmed);
    }

    /** A grantee did not get its image in time: answer from what this node still has. */
    private void onFetch(final int source, final DirectBuffer b, final int at, final int length)
    {
        FusionMessages.checkLength(FusionMessages.FETCH, length, FusionMessages.SHORT_LENGTH);
        final long block = FusionMessages.block(b, at);
        final long requestId = FusionMessages.second(b, at);
        final BlockState s = blocks.get(block);
        final boolean shipped = null != s && s.shippedTo == source && s.shippedRequestId == requestId;
        if (!shipped && null != s && (null != s.acquiring || s.held != LockMode.NULL))
        {
            return; // the notice has not been served yet (local users, or this node's own grant first): it will ship
        }
        if (shipped && s.held != LockMode.NULL)
        {
            ship(source, block, requestId, cache.current(block), 0); // kept SHARED, or only supplied a copy
            return;
        }
        // given up: the dirty image it shipped is the newest past image; a clean one is on disk
        final BlockImage pi = cache.pastImage(block);
        ship(source, block, requestId, pi, null == pi ? FusionMessages.NONE : 0);
    }

    /**
     * A recovery asks for this node's newest image of a block. While this node holds it EXCLUSIVE with a hand-over
     * pending (the dead node may be the one it was to ship to), the answer waits until the block is given up: the
     * local users may still change it, and the image shipped then is the newest (answering with the current one now
     * would lose those changes; answering with an older past image, as before, lost everything since it). Held
     * EXCLUSIVE with nothing pending, the current image is the newest (the dead node's redo only has older versions).
     */
    private void onPastImageQuery(final int source, final long block, final long recoveryId)
    {
        final BlockState s = blocks.get(block);
        // A hold still waiting for the grant its image carried answers at once: its notices wait for that grant,
        // which may wait for this very recovery; its current image is the newest, and stays so.
        if (null != s && s.held == LockMode.EXCLUSIVE && !s.notices.isEmpty() &&
            !(null != s.acquiring && s.acquiring.installed))
        {
            for (int i = 0; i < s.deferredPiQueries.size(); i += 2)
            {
                if (s.deferredPiQueries.getLong(i) == source && s.deferredPiQueries.getLong(i + 1) == recoveryId)
                {
                    return; // asked again while waiting
                }
            }
            if (BlockState.TRACE)
            {
                s.trace("past image query from " + source + " deferred: handing over");
            }
            s.deferredPiQueries.addLong(source);
            s.deferredPiQueries.addLong(recoveryId);
            return;
        }
        answerPastImageQuery(source, block, recoveryId, s);
    }

    private void answerPastImageQuery(final int source, final long block, final long recoveryId, final BlockState s)
    {
        BlockImage image = cache.pastImage(block);
        if (null != s && s.held == LockMode.EXCLUSIVE)
        {
            final BlockImage current = cache.current(block);
            if (null != current && (null == image || current.version() > image.version()))
            {
                image = current;
            }
        }
        final int n = FusionMessages.image(out, block, recoveryId, null == image ? 0 : image.version(),
            null == image ? FusionMessages.NONE : FusionMessages.DIRTY, null == image ? null : image.bytes());
        send(source, FusionMessages.PI_IMAGE, Priority.NORMAL, out, n);
    }

    /** Answers deferred past-image queries once the hand-over they waited for is done. */
    private void answerDeferredPastImageQueries(final BlockState s)
    {
        if (s.deferredPiQueries.isEmpty() || (s.held == LockMode.EXCLUSIVE && !s.notices.isEmpty()))
        {
            return;
        }
        if (BlockState.TRACE)
        {
            s.trace("answering " + s.deferredPiQueries.size() / 2 + " deferred past image queries, held " + s.held);
        }
        for (int i = 0; i < s.deferredPiQueries.size(); i += 2)
        {
            answerPastImageQuery((int)s.deferredPiQueries.getLong(i), s.block, s.deferredPiQueries.getLong(i + 1), s);
        }
        s.deferredPiQueries.clear();
    }

    private void onPastImage(final int source, final DirectBuffer b, final int at, final int length)
    {
        final byte[] bytes = FusionMessages.imageBytes(b, at, length);
        final long id = FusionMessages.second(b, at);
        final PendingRecovery p = recoveries.get(id);
        if (null == p)
        {
            return;
        }
        if (null != bytes)
        {
            p.offer(new BlockImage(FusionMessages.third(b, at), true, bytes));
        }
        p.awaited.remove(source);
        maybeFinishRecovery(id, p, System.nanoTime());
    }

    // ------------------------------------------------------------------ timers

    private int scan(final long now)
    {
        int work = 0;
        List<BlockState> due = null;
        int kept = 0;
        for (int i = 0, n = timed.size(); i < n; i++)
        {
            final BlockState s = timed.get(i);
            if (s.timing())
            {
                timed.set(kept++, s);
            }
            else
            {
                s.timed = false;
            }
        }
        while (timed.size() > kept)
        {
            timed.remove(timed.size() - 1);
        }
        for (int i = 0; i < kept; i++)
        {
            final BlockState s = timed.get(i);
            if (null != s.grant && now - s.imageDeadlineNs >= 0)
            {
                due = null == due ? new ArrayList<>() : due;
                due.add(s);
            }
            if (null != s.acquiring)
            {
                expire(s.acquiring, now);
                if (!s.acquiring.reported && now - s.acquiring.startNs > SLOW_NS)
                {
                    s.acquiring.reported = true;
                    LOG.log(System.Logger.Level.WARNING, "node " + self + ": block " + s.block + " wanted " +
                        s.acquiring.mode + " for over " + TimeUnit.NANOSECONDS.toSeconds(SLOW_NS) + " s, master " +
                        grd.masterOf(s.block) + " (directory here says held " + grd.heldMode(s.block) + "): " + s);
                }
            }
            for (final Acquire waiting : s.waiters)
            {
                expire(waiting, now);
            }
        }
        if (null != due)
        {
            for (final BlockState s : due)
            {
                work++;
                awaitImage(s, now);
            }
        }
        if (!crs.isEmpty())
        {
            final Iterator<Map.Entry<Long, PendingCr>> it = crs.entrySet().iterator();
            List<Long> resend = null;
            while (it.hasNext())
            {
                final Map.Entry<Long, PendingCr> e = it.next();
                final PendingCr p = e.getValue();
                if (now - p.read.deadlineNs() >= 0)
                {
                    it.remove();
                    events.increment(WaitEventRecorder.FAILED);
                    p.read.future().completeExceptionally(new java.util.concurrent.TimeoutException(
                        "consistent read of block " + p.read.block() + " timed out"));
                }
                else if (now - p.sentNs >= imageTimeoutNs)
                {
                    p.sentNs = now;
                    resend = null == resend ? new ArrayList<>() : resend;
                    resend.add(e.getKey());
                }
            }
            if (null != resend)
            {
                for (final long crId : resend)
                {
                    final PendingCr p = crs.get(crId);
                    events.increment(WaitEventRecorder.IMAGE_RETRIES);
                    sendCr(p.read.block(), p.read.scn(), crId);
                }
            }
        }
        if (!recoveries.isEmpty())
        {
            for (final Map.Entry<Long, PendingRecovery> e : new ArrayList<>(recoveries.entrySet()))
            {
                maybeFinishRecovery(e.getKey(), e.getValue(), now);
            }
        }
        return work;
    }

    private void expire(final Acquire a, final long now)
    {
        if (now - a.deadlineNs >= 0 && !a.future.isDone())
        {
            events.increment(WaitEventRecorder.FAILED);
            a.future.completeExceptionally(new GrdException(RejectReason.TIMED_OUT, a.block, a.mode));
        }
    }

    /** A grantee still without its image: ask the supplier again, or recover the block if the supplier died. */
    private void awaitImage(final BlockState s, final long now)
    {
        s.imageDeadlineNs = now + imageTimeoutNs;
        final Grant grant = s.grant;
        final int supplier = grant.supplier();
        if (live(supplier))
        {
            events.increment(WaitEventRecorder.IMAGE_RETRIES);
            FusionMessages.pair(out, s.block, grant.requestId());
            send(supplier, FusionMessages.FETCH, Priority.HIGH, out, FusionMessages.SHORT_LENGTH);
            return;
        }
        // the supplier died between giving the lock up and this node receiving the image: rebuild the block from
        // the survivors' past images and the dead node's redo, then read it from disk
        s.imageDeadlineNs = Long.MAX_VALUE;
        final CompletableFuture<Void> recovered = new CompletableFuture<>();
        recovered.whenComplete((v, e) ->
        {
            if (s.grant == grant)
            {
                s.stashedRequestId = grant.requestId();
                s.stashedFlags = FusionMessages.NONE;
                s.stashedImage = null;
                installStashed(s);
            }
        });
        onRecover(new Recover(s.block, supplier, recovered));
    }

    // ------------------------------------------------------------------ sending

    private boolean send(final int peer, final int type, final Priority priority, final DirectBuffer buffer,
        final int length)
    {
        if (!backlog.isEmpty() || !trySend(peer, type, priority, buffer, length))
        {
            if (!live(peer))
            {
                return false;
            }
            final byte[] copy = new byte[length];
            buffer.getBytes(0, copy);
            backlog.add(new Outbound(peer, type, priority, copy));
        }
        return true;
    }

    private boolean trySend(final int peer, final int type, final Priority priority, final DirectBuffer buffer,
        final int length)
    {
        try
        {
            return node.send(peer, type, priority, buffer, 0, length);
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": cannot send to node " + peer + ": " + ex);
            return true; // not retryable
        }
    }

    private int flushBacklog()
    {
        int sent = 0;
        while (!backlog.isEmpty())
        {
            final Outbound o = backlog.peekFirst();
            if (!live(o.peer()))
            {
                backlog.pollFirst();
                continue;
            }
            if (!trySend(o.peer(), o.type(), o.priority(), new UnsafeBuffer(o.bytes()), o.bytes().length))
            {
                break;
            }
            backlog.pollFirst();
            sent++;
        }
        return sent;
    }

    @Override
    public void onClose()
    {
        final GrdException closed = new GrdException(RejectReason.CLOSED, 0, LockMode.NULL);
        for (final BlockState s : blocks.values())
        {
            if (null != s.acquiring)
            {
                s.acquiring.future.completeExceptionally(closed);
            }
            s.waiters.forEach(a -> a.future.completeExceptionally(closed));
        }
        crs.values().forEach(p -> p.read.future().completeExceptionally(closed));
        recoveries.values().forEach(p -> p.recover.future().completeExceptionally(closed));
        Command c;
        while (null != (c = commands.poll()))
        {
            if (c instanceof Acquire a)
            {
                a.future.completeExceptionally(closed);
            }
        }
    }
}
