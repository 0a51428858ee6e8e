package dev.fusion.grd;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.Priority;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The single writer of the directory on one node: it serves, as master, every request for the resources this
 * node masters (acquire, convert, release, downgrade, cancel), tracks this node's own requests and holds as a
 * requester, moves mastership towards the node that uses a resource (affinity remastering), and rebuilds
 * entries when a member dies. Application threads reach it through a command queue; remote messages through
 * an inbox the transport's handlers copy into.
 */
final class DirectoryAgent implements Agent, GrantListener
{
    private static final System.Logger LOG = System.getLogger(DirectoryAgent.class.getName());
    private static final int INBOX_BYTES = 1 << 20;
    /** The most entries handed to a joiner per JOIN (see handOverTo). */
    private static final int HANDOVER_BATCH = 2000;
    /** Timeouts and retries are checked this often: each check walks this node's outstanding requests. */
    private static final long TIMEOUT_SCAN_NS = TimeUnit.MILLISECONDS.toNanos(5);
    /** {@link #reportHolds}: every master. */
    private static final int ANY_MASTER = -1;
    /** A walk of an Agrona map costs its capacity, which a burst of requests grows for good unless compacted. */
    private static final int COMPACT_ABOVE_CAPACITY = 1024;
    private static final long DEMOTE_SCAN_NS = TimeUnit.SECONDS.toNanos(1);

    static final int LOCAL_GRANTS = 0;
    static final int REMOTE_GRANTS = 1;
    static final int GRANTS_SERVED = 2;
    static final int FORWARDED = 3;
    static final int REJECTED = 4;
    static final int TIMED_OUT = 5;
    static final int REMASTERS_OUT = 6;
    static final int REMASTERS_IN = 7;
    static final int RECOVERIES = 8;
    static final int HOT = 9;
    static final int STORED = 10;
    static final int WAITING = 11;
    static final int LATE_GRANTS = 12;
    static final int RETRIES = 13;
    static final int PROMOTIONS = 14;
    static final int DEMOTIONS = 15;
    static final int WARM = 16;
    static final int COLD = 17;
    static final int OBJECT_REMASTERS = 18;
    static final int BLOCKING_NOTICES = 19;
    static final int STAT_COUNT = 20;

    private final ClusterNode node;
    private final int self;
    private final GrdConfig config;
    private final MasterMap masters;
    private final DirectoryStore store;
    private final RecoveryHandler recovery;
    private final ManyToOneConcurrentArrayQueue<Command> commands = new ManyToOneConcurrentArrayQueue<>(65536);
    /**
     * Lossless up to a bound: hand-offs, move announcements and reconfiguration reports are sent once (a dropped
     * report let a new master grant what a survivor held), so a burst beyond the ring waits on the heap, up to
     * 64 MiB (about a million directory messages) for an agent that has stopped keeping up.
     */
    private final dev.fusion.cluster.MessageInbox inbox =
        new dev.fusion.cluster.MessageInbox(INBOX_BYTES, 64L << 20);
    // bound once: a method reference evaluated in doWork allocates on every duty cycle
    private final java.util.function.Consumer<Command> commandHandler = this::onCommand;
    private final dev.fusion.cluster.MessageHandler messageHandler = this::onMessage;
    private final Long2ObjectHashMap<DirectoryEntry> hot = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<Pending> pending = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<LockMode> holdings = new Long2ObjectHashMap<>();
    /** What this node holds, for lock-free reads by application threads; written only by this agent. */
    private final java.util.concurrent.ConcurrentHashMap<Long, LockMode> held;
    private final Long2LongHashMap arrivedAt = new Long2LongHashMap(0);
    private final LongHashSet recovering = new LongHashSet();
    private final Int2ObjectHashMap<IntHashSet> reportsAwaited = new Int2ObjectHashMap<>();
    /**
     * Hot entries that were idle when they last changed: the only ones {@link #demote} looks at. Walking the whole
     * hot tier every second cost time in proportion to every block cached anywhere in the cluster (held entries
     * never leave it), on the node's thread.
     */
    private final LongHashSet demotable = new LongHashSet();
    /** The hot tier's resources by object, for the object rule (walking the whole tier grew with the caches). */
    private final Int2ObjectHashMap<LongHashSet> hotByObject = new Int2ObjectHashMap<>();
    /** Hot entries with requests queued when they last changed (the WAITING gauge). */
    private final LongHashSet queued = new LongHashSet();
    /** Requests waiting for a rebuild, a join or a recovery to finish, by resource, in arrival order. */
    private final Long2ObjectHashMap<ArrayDeque<Deferred>> frozen = new Long2ObjectHashMap<>();
    private final ArrayDeque<Outbound> backlog = new ArrayDeque<>();
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[GrdMessages.BLOCKING_LENGTH]);
    private final UnsafeBuffer reply = new UnsafeBuffer(new byte[GrdMessages.FIXED_LENGTH]);
    /** Early REPORTS_DONE by dead node: when each reporter's arrived (see {@link #earlyReports}). */
    private final Int2ObjectHashMap<Long2LongHashMap> reportsEarly = new Int2ObjectHashMap<>();
    /** Deaths rebuilt for since orphans were last checked: their orphans are checked even if the node is back. */
    private final IntHashSet seenDeaths = new IntHashSet();
    private long nextRebuildWarnNs;
    /** Members back (a new incarnation) while a rebuild after their death still waits (see endRebuildsOfReturned). */
    private final Long2LongHashMap returnedAt = new Long2LongHashMap(Long.MIN_VALUE);
    private final ExpandableArrayBuffer handoff = new ExpandableArrayBuffer(256);
    private final AtomicLongArray stats;
    private final java.util.concurrent.atomic.AtomicLong viewChanges = new java.util.concurrent.atomic.AtomicLong();
    private final long timeoutNs;
    private MembershipView view;
    private final Int2ObjectHashMap<Int2ObjectHashMap<long[]>> objectRequests = new Int2ObjectHashMap<>();
    private final org.agrona.collections.Int2IntHashMap objectMovedTo = new org.agrona.collections.Int2IntHashMap(-1);
    private long lastServed;
    private long objectWindowStartNs;
    private long nextTimeoutScanNs;
    private long nextDemoteScanNs;
    private long waitingCount;
    private volatile BlockingHandler blockingHandler;
    /** The request id of the grant behind each of this node's holdings (releases name it). */
    private final Long2LongHashMap holdingGrants = new Long2LongHashMap(GrdMessages.NO_GRANT);
    private final Int2ObjectHashMap<List<Long>> orphansToCheck = new Int2ObjectHashMap<>();
    /** Per dead node, resources it mastered that this node reports to their new masters (see onViewChange). */
    private final Int2ObjectHashMap<List<Long>> givenAway = new Int2ObjectHashMap<>();
    /** Members whose JOIN_DONE this starting directory waits for before it masters anything (see onJoin). */
    private final IntHashSet joinAwaited = new IntHashSet();
    private long joinDeadlineNs;
    private boolean started;
    private long nextJoinNs;
    private boolean joinedLiveCluster;
    /** Per joiner, the resources still to hand it (see handOverTo). */
    private final Int2ObjectHashMap<org.agrona.collections.LongArrayList> owedByJoiner = new Int2ObjectHashMap<>();
    /** Entries reloaded from the store at start and not replaced by a hand-off since. */
    private final LongHashSet reloaded = new LongHashSet();
    /** This directory's join, named so a member reports to it once, not at every JOIN sent again. */
    private final long joinSession = System.nanoTime();
    /** Deaths whose REPORTS_DONE wait until no member is unheard (see {@link #reconfigure}). */
    private final IntHashSet reportsDoneDeferred = new IntHashSet();
    /** The join each member was last reported to (see {@link #reportTo}). */
    private final Long2LongHashMap reportedJoin = new Long2LongHashMap(0);

    /** A request of this node waiting for its master's answer. */
    static final class Pending
    {
        final long requestId;
        final long resource;
        final int op;
        final LockMode mode;
        final long deadlineNs;
        final CompletableFuture<LockMode> future;
        /** Acquire: this node holds nothing of the resource now (cache fusion gave it up, maybe unconfirmed). */
        boolean fresh;
        /** Release or downgrade: the grant it gives up. */
        long grantId = GrdMessages.NO_GRANT;
        /** Completed instead of {@link #future} for an acquire that wants to know the image's supplier. */
        CompletableFuture<Grant> grantFuture;
        int sentTo;
        long sentNs;

        Pending(final long requestId, final long resource, final int op, final LockMode mode, final long deadlineNs,
            final CompletableFuture<LockMode> future)
        {
            this.requestId = requestId;
            this.resource = resource;
            this.op = op;
            this.mode = mode;
            this.deadlineNs = deadlineNs;
            this.future = future;
        }

        void fail(final Throwable error)
        {
            if (null != grantFuture)
            {
                grantFuture.completeExceptionally(error);
            }
            else
            {
                future.completeExceptionally(error);
            }
        }
    }

    /** Work handed to the agent by other threads. */
    sealed interface Command permits Submit, ViewChange, Recovered, HoldersQuery
    {
    }

    record Submit(Pending pending) implements Command
    {
    }

    record ViewChange(MembershipView current) implements Command
    {
    }

    record Recovered(long resource) implements Command
    {
    }

    record HoldersQuery(long resource, CompletableFuture<java.util.Map<Integer, LockMode>> future) implements Command
    {
    }

    /** A request held back while the directory rebuilds after a death. */
    record Deferred(int requester, long requestId, long resource, int op, LockMode mode, int hops, int flags,
        long grant)
    {
    }

    /** A member never heard that was left off the ring, and the ring that still had it. */
    record LeftOut(int member, MasterRing ringBefore)
    {
    }

    /** A message the transport's queue refused; sent again, in order, before anything new. */
    record Outbound(int peer, int type, byte[] bytes)
    {
    }

    DirectoryAgent(
        final ClusterNode node,
        final GrdConfig config,
        final MasterMap masters,
        final DirectoryStore store,
        final RecoveryHandler recovery,
        final AtomicLongArray stats,
        final java.util.concurrent.ConcurrentHashMap<Long, LockMode> held,
        final MembershipView initialView)
    {
        this.held = held;
        this.node = node;
        this.self = node.nodeId();
        this.config = config;
        this.masters = masters;
        this.store = store;
        this.recovery = recovery;
        this.stats = stats;
        this.timeoutNs = config.requestTimeout().toNanos();
        this.view = initialView; // the one the ring was made from
        store.forEach(entry ->
        {
            putHot(entry);
            reloaded.add(entry.resource());
            changed(entry);
        });
        stats.set(HOT, hot.size());
        stats.set(STORED, store.size());
        for (final int member : masteringNodes(view))
        {
            if (member != self)
            {
                joinAwaited.add(member);
            }
        }
        joinDeadlineNs = System.nanoTime() + config.joinTimeout().toNanos();
    }

    @Override
    public String roleName()
    {
        return "fusion-directory-" + self;
    }

    boolean submit(final Command command)
    {
        return commands.offer(command);
    }

    /** Called on the transport agent: copy the message into the inbox (never blocks, never allocates). */
    boolean deliver(final int source, final int type, final DirectBuffer buffer, final int offset, final int length)
    {
        return inbox.offer(source, type, buffer, offset, length);
    }

    long inboxOverflowed()
    {
        return inbox.overflowed();
    }

    long timeoutNs()
    {
        return timeoutNs;
    }

    @Override
    public int doWork()
    {
        if (!started)
        {
            started = true;
            deadAtStart(); // before any message: a member's answer to the join may be about those deaths
        }
        int work = flushBacklog();
        work += commands.drain(commandHandler, 256);
        work += inbox.drain(messageHandler, 256);
        final long now = System.nanoTime();
        if (!joinAwaited.isEmpty())
        {
            work += askToJoin(now);
        }
        if (!returnedAt.isEmpty())
        {
            endRebuildsOfReturned(now);
        }
        if (isRebuilding() && now - nextRebuildWarnNs >= 0)
        {
            nextRebuildWarnNs = now + config.joinTimeout().toNanos();
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": still rebuilding after deaths, granting nothing: " +
                "waiting for the reports of " + reportsAwaited + " (dead node: members not reported yet)");
        }
        if (now - nextTimeoutScanNs >= 0)
        {
            nextTimeoutScanNs = now + TIMEOUT_SCAN_NS;
            work += expire(now);
        }
        if (now - nextDemoteScanNs >= 0)
        {
            nextDemoteScanNs = now + DEMOTE_SCAN_NS;
            demote(now);
        }
        return work;
    }

    private void onCommand(final Command command)
    {
        if (command instanceof Submit submit)
        {
            final Pending p = submit.pending();
            if ((p.op == GrdMessages.OP_RELEASE || p.op == GrdMessages.OP_DOWNGRADE) &&
                p.grantId == GrdMessages.NO_GRANT)
            {
                p.grantId = holdingGrants.get(p.resource); // unless the caller named the grant (releaseGrant)
            }
            pending.put(p.requestId, p);
            route(p);
        }
        else if (command instanceof ViewChange change)
        {
            onViewChange(change.current());
        }
        else if (command instanceof Recovered recovered)
        {
            onRecovered(recovered.resource());
        }
        else if (command instanceof HoldersQuery query)
        {
            if (masters.masterOf(query.resource()) != self || isRebuilding() || isJoining())
            {
                query.future().completeExceptionally(
                    new GrdException(RejectReason.NOT_MASTER, query.resource(), LockMode.NULL));
            }
            else
            {
                final DirectoryEntry entry = hot.containsKey(query.resource()) ?
                    hot.get(query.resource()) : store.get(query.resource());
                query.future().complete(null == entry ? java.util.Map.of() : java.util.Map.copyOf(entry.holders()));
            }
        }
    }

    private void route(final Pending p)
    {
        final int master = masters.masterOf(p.resource);
        p.sentTo = master;
        p.sentNs = System.nanoTime();
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(p.resource, self, "request op " + p.op + " req " + p.requestId + " " + p.mode + " fresh " +
                p.fresh + " grant " + p.grantId + " to " + master);
        }
        if (master == self)
        {
            serve(self, p.requestId, p.resource, p.op, p.mode, 0, p.fresh ? GrdMessages.FLAG_FRESH : 0, p.grantId);
        }
        else
        {
            GrdMessages.request(message, p.op, null == p.mode ? LockMode.NULL : p.mode, 0, self, p.requestId,
                p.resource);
            GrdMessages.extras(message, p.fresh ? GrdMessages.FLAG_FRESH : 0, p.grantId);
            send(master, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
        }
    }

    private void onMessage(final int source, final int type, final DirectBuffer buffer, final int at, final int size)
    {
        try
        {
            switch (type)
            {
                case GrdMessages.REQUEST -> onRequest(buffer, at, size);
                case GrdMessages.RESPONSE -> onResponse(buffer, at, size);
                case GrdMessages.MASTER -> onMasterChange(buffer, at, size);
                case GrdMessages.HANDOFF -> onHandoff(source, buffer, at, size);
                case GrdMessages.BLOCKING -> onBlockingMessage(buffer, at, size);
                default -> LOG.log(System.Logger.Level.WARNING, "node " + self + ": unknown directory message " + type);
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": bad directory message " + type + " from node " +
                source + ": " + ex.getMessage());
        }
    }

    private void onRequest(final DirectBuffer b, final int at, final int size)
    {
        if (size != GrdMessages.REQUEST_LENGTH)
        {
            throw new IllegalArgumentException("request of " + size + " bytes, expected " +
                GrdMessages.REQUEST_LENGTH);
        }
        final LockMode mode = LockMode.fromOrdinal(GrdMessages.byte1(b, at));
        if (null == mode)
        {
            throw new IllegalArgumentException("bad lock mode " + GrdMessages.byte1(b, at));
        }
        serve(GrdMessages.requester(b, at), GrdMessages.id(b, at), GrdMessages.resource(b, at), GrdMessages.op(b, at),
            mode, GrdMessages.hops(b, at), GrdMessages.flags(b, at), GrdMessages.grant(b, at));
    }

    /** As master (or forwarder): handle one request. */
    private void serve(final int requester, final long requestId, final long resource, final int op, final LockMode mode,
        final int hops, final int flags, final long grant)
    {
        if (op == GrdMessages.OP_REPORTS_DONE)
        {
            onReportsDone(requester, (int)resource);
            return;
        }
        if (op == GrdMessages.OP_REPORT_GIVEN)
        {
            if (null == view.state((int)grant) || grant != (int)grant)
            {
                // kept, it would freeze the resource for good (no death of that node will ever check it)
                LOG.log(System.Logger.Level.WARNING, "node " + self + ": REPORT_GIVEN from node " + requester +
                    " names node " + grant + ", not a member: dropped");
                return;
            }
            onGiven(resource, (int)grant);
            return;
        }
        if (op == GrdMessages.OP_JOIN)
        {
            onJoin(requester, requestId);
            return;
        }
        if (op == GrdMessages.OP_JOIN_DONE)
        {
            onJoinDone(requester, resource == 1);
            return;
        }
        if (op == GrdMessages.OP_REPORT)
        {
            // the reporter already computed that this node is the new master; this node may learn of the
            // death a moment later, so keep the report rather than forward it to the dead node
            if (reloaded.remove(resource))
            {
                removeHot(resource); // reloaded from the store and out of date: the report starts a fresh entry
                store.remove(resource);
            }
            final DirectoryEntry reported = entry(resource);
            reported.restoreHolder(requester, mode, grant);
            store.put(reported);
            changed(reported);
            return;
        }
        final int master = masters.masterOf(resource);
        if (master != self)
        {
            if (GrdTrace.ENABLED)
            {
                GrdTrace.record(resource, self, "forward op " + op + " from " + requester + " req " + requestId +
                    " to " + master);
            }
            if (hops >= GrdMessages.MAX_HOPS || !live(master))
            {
                reject(requester, requestId, resource, RejectReason.NOT_MASTER);
                return;
            }
            stats.incrementAndGet(FORWARDED);
            GrdMessages.request(message, op, mode, hops + 1, requester, requestId, resource);
            GrdMessages.extras(message, flags, grant);
            send(master, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
            return;
        }
        if (!live(requester))
        {
            reject(requester, requestId, resource, RejectReason.UNKNOWN_NODE);
            return;
        }
        if (isRebuilding() || isJoining() || recovering.contains(resource))
        {
            freeze(new Deferred(requester, requestId, resource, op, mode, hops, flags, grant));
            return;
        }
        final DirectoryEntry entry = entry(resource);
        entry.touch(System.nanoTime(), System.currentTimeMillis());
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "serve op " + op + " from " + requester + " req " + requestId + " " + mode +
                " flags " + flags + " grant " + grant + " hops " + hops + " holders " + entry.holders() + " queue " +
                entry.queueLength());
        }
        switch (op)
        {
            case GrdMessages.OP_ACQUIRE ->
            {
                entry.acquire(requestId, requester, mode, this, (flags & GrdMessages.FLAG_FRESH) != 0);
                considerRemaster(entry, requester);
            }
            case GrdMessages.OP_RELEASE ->
                answer(requester, requestId, resource, entry.release(requester, grant, this));
            case GrdMessages.OP_DOWNGRADE ->
                answer(requester, requestId, resource, entry.downgrade(requester, mode, grant, this));
            case GrdMessages.OP_CANCEL -> entry.cancel(requestId, requester, this);
            default -> reject(requester, requestId, resource, RejectReason.INVALID_MODE);
        }
        if (masters.masterOf(resource) == self)
        {
            store.put(entry);
        }
        changed(entry);
    }

    private void putHot(final DirectoryEntry entry)
    {
        if (null == hot.put(entry.resource(), entry))
        {
            hotByObject.computeIfAbsent(ResourceId.objectId(entry.resource()), k -> new LongHashSet())
                .add(entry.resource());
        }
    }

    private void removeHot(final long resource)
    {
        if (null != hot.remove(resource))
        {
            final int object = ResourceId.objectId(resource);
            final LongHashSet ofObject = hotByObject.get(object);
            if (null != ofObject && ofObject.remove(resource) && ofObject.isEmpty())
            {
                hotByObject.remove(object);
            }
        }
    }

    /** Keeps the demotion candidates and the queued set current after an entry changed. */
    private void changed(final DirectoryEntry entry)
    {
        final long resource = entry.resource();
        if (entry.idle())
        {
            demotable.add(resource);
        }
        else
        {
            demotable.remove(resource);
        }
        if (entry.queueLength() > 0)
        {
            queued.add(resource);
        }
        else
        {
            queued.remove(resource);
        }
    }

    private void answer(final int requester, final long requestId, final long resource, final boolean done)
    {
        if (done)
        {
            respond(requester, GrdMessages.STATUS_DONE, LockMode.NULL.ordinal(), Grant.NO_SUPPLIER, requestId,
                resource);
        }
        else
        {
            reject(requester, requestId, resource, RejectReason.NOT_HELD);
        }
    }

    @Override
    public void onGrant(final long resource, final long requestId, final int requester, final LockMode mode)
    {
        onGrant(resource, requestId, requester, mode, Grant.NO_SUPPLIER);
    }

    @Override
    public void onGrant(
        final long resource, final long requestId, final int requester, final LockMode mode, final int supplier)
    {
        stats.incrementAndGet(GRANTS_SERVED);
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "grant " + mode + " to " + requester + " req " + requestId + " supplier " +
                supplier);
        }
        respond(requester, GrdMessages.STATUS_GRANTED, mode.ordinal(), supplier, requestId, resource);
    }

    @Override
    public void onBlocking(final long resource, final int holder, final LockMode keep, final int requester,
        final LockMode requested, final long requestId, final boolean ship, final long holderGrant,
        final boolean granting)
    {
        stats.incrementAndGet(BLOCKING_NOTICES);
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "notice to " + holder + " keep " + keep + " for " + requester + " req " +
                requestId + " ship " + ship + " holderGrant " + holderGrant + " granting " + granting);
        }
        if (holder == self)
        {
            notifyBlocking(resource, requester, requested, keep, ship, requestId, holderGrant, granting);
            return;
        }
        message.putByte(0, (byte)keep.ordinal());
        message.putByte(1, (byte)requested.ordinal());
        message.putByte(2, (byte)(ship ? 1 : 0));
        message.putByte(3, (byte)(granting ? GrdMessages.BLOCKING_GRANTING : 0));
        message.putShort(4, (short)requester, ByteOrder.LITTLE_ENDIAN);
        message.putShort(6, (short)0, ByteOrder.LITTLE_ENDIAN);
        message.putLong(8, requestId, ByteOrder.LITTLE_ENDIAN);
        message.putLong(16, resource, ByteOrder.LITTLE_ENDIAN);
        message.putLong(24, holderGrant, ByteOrder.LITTLE_ENDIAN);
        send(holder, GrdMessages.BLOCKING, message, GrdMessages.BLOCKING_LENGTH);
    }

    @Override
    public int preferredSupplier()
    {
        return self;
    }

    private void onBlockingMessage(final DirectBuffer b, final int at, final int size)
    {
        if (size != GrdMessages.BLOCKING_LENGTH)
        {
            throw new IllegalArgumentException("blocking notice of " + size + " bytes, expected " +
                GrdMessages.BLOCKING_LENGTH);
        }
        final LockMode keep = LockMode.fromOrdinal(GrdMessages.op(b, at));
        final LockMode requested = LockMode.fromOrdinal(GrdMessages.byte1(b, at));
        if (null == keep || null == requested)
        {
            throw new IllegalArgumentException("bad lock mode in a blocking notice");
        }
        notifyBlocking(GrdMessages.resource(b, at), GrdMessages.requester(b, at), requested, keep,
            GrdMessages.hops(b, at) != 0, GrdMessages.id(b, at), b.getLong(at + 24, ByteOrder.LITTLE_ENDIAN),
            (GrdMessages.flags(b, at) & GrdMessages.BLOCKING_GRANTING) != 0);
    }

    private void notifyBlocking(final long resource, final int requester, final LockMode requested,
        final LockMode keep, final boolean ship, final long requestId, final long holderGrant, final boolean granting)
    {
        final BlockingHandler handler = blockingHandler;
        if (null != handler)
        {
            handler.onBlocking(resource, requester, requested, keep, ship, requestId, holderGrant, granting);
        }
    }

    /** Any thread: membership changes this agent has started to handle. */
    long viewChanges()
    {
        return viewChanges.get();
    }

    void blockingHandler(final BlockingHandler handler)
    {
        blockingHandler = handler;
    }

    @Override
    public void onReject(final long resource, final long requestId, final int requester, final RejectReason reason)
    {
        reject(requester, requestId, resource, reason);
    }

    private void reject(final int requester, final long requestId, final long resource, final RejectReason reason)
    {
        stats.incrementAndGet(REJECTED);
        respond(requester, GrdMessages.STATUS_REJECTED, reason.ordinal(), Grant.NO_SUPPLIER, requestId, resource);
    }

    private void respond(final int requester, final int status, final int modeOrReason, final int supplier,
        final long requestId, final long resource)
    {
        if (requester == self)
        {
            onAnswer(status, modeOrReason, supplier, self, requestId, resource, true);
            return;
        }
        GrdMessages.response(reply, status, modeOrReason, supplier, self, requestId, resource);
        send(requester, GrdMessages.RESPONSE, reply, GrdMessages.FIXED_LENGTH);
    }

    private void onResponse(final DirectBuffer b, final int at, final int size)
    {
        checkLength(size);
        onAnswer(GrdMessages.op(b, at), GrdMessages.byte1(b, at), GrdMessages.supplier(b, at),
            GrdMessages.responder(b, at), GrdMessages.id(b, at), GrdMessages.resource(b, at), false);
    }

    /** As requester: an answer to one of this node's requests. */
    private void onAnswer(final int status, final int modeOrReason, final int supplier, final int responder,
        final long requestId, final long resource, final boolean local)
    {
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "answer status " + status + " mode/reason " + modeOrReason + " supplier " +
                supplier + " from " + responder + " req " + requestId);
        }
        final Pending p = pending.remove(requestId);
        if (null == p)
        {
            if (status == GrdMessages.STATUS_GRANTED && !holdings.containsKey(resource) &&
                null == pendingAcquire(resource))
            {
                // granted after the request timed out or was cancelled: hand it back (a duplicate answer for
                // a resource this node holds is the same node-level lock, and is ignored; so is one while a newer
                // acquire of the resource is out: the master answers that one as the same hold, under its id)
                stats.incrementAndGet(LATE_GRANTS);
                final Pending giveBack = new Pending(nextInternalId(), resource, GrdMessages.OP_RELEASE,
                    LockMode.NULL, System.nanoTime() + timeoutNs, new CompletableFuture<>());
                // naming the late grant: when this node holds the resource under another grant at the master by
                // now (a copy of an answered request, answered again), the master finds it stale and keeps that
                giveBack.grantId = requestId;
                pending.put(giveBack.requestId, giveBack);
                route(giveBack);
            }
            return;
        }
        switch (status)
        {
            case GrdMessages.STATUS_GRANTED ->
            {
                final LockMode mode = LockMode.fromOrdinal(modeOrReason);
                holdings.put(resource, mode);
                holdingGrants.put(resource, requestId);
                held.put(resource, mode);
                stats.incrementAndGet(local ? LOCAL_GRANTS : REMOTE_GRANTS);
                if (null != p.grantFuture)
                {
                    p.grantFuture.complete(new Grant(mode, supplier, responder, requestId));
                }
                else
                {
                    p.future.complete(mode);
                }
            }
            case GrdMessages.STATUS_DONE ->
            {
                // when this node got the resource again (a newer grant) before the answer came, keep that one
                final boolean superseded =
                    p.grantId != GrdMessages.NO_GRANT && holdingGrants.get(resource) != p.grantId;
                if (!superseded && (p.op == GrdMessages.OP_RELEASE || p.mode == LockMode.NULL))
                {
                    holdings.remove(resource);
                    holdingGrants.remove(resource);
                    held.remove(resource);
                }
                else if (!superseded)
                {
                    holdings.put(resource, p.mode);
                    held.put(resource, p.mode);
                }
                p.future.complete(p.op == GrdMessages.OP_RELEASE ? LockMode.NULL : p.mode);
            }
            default ->
            {
                final RejectReason reason = RejectReason.fromOrdinal(modeOrReason);
                if (reason == RejectReason.NOT_HELD && p.grantId != GrdMessages.NO_GRANT &&
                    holdingGrants.get(resource) == p.grantId &&
                    (p.op == GrdMessages.OP_RELEASE || p.op == GrdMessages.OP_DOWNGRADE))
                {
                    // this node held it when it asked; a reconfiguration rebuilt the entry from this node's report,
                    // which already gave the hold up (or down): done all the same
                    if (p.op == GrdMessages.OP_RELEASE || p.mode == LockMode.NULL)
                    {
                        holdings.remove(resource);
                        holdingGrants.remove(resource);
                        held.remove(resource);
                    }
                    else
                    {
                        holdings.put(resource, p.mode);
                        held.put(resource, p.mode);
                    }
                    p.future.complete(p.op == GrdMessages.OP_RELEASE ? LockMode.NULL : p.mode);
                    return;
                }
                if (reason == RejectReason.NOT_MASTER && System.nanoTime() - p.deadlineNs < 0)
                {
                    // forwarded around nodes that did not agree on the master yet (a move, a join or a
                    // reconfiguration on its way): asked again at the retry interval, until its timeout
                    p.sentTo = -1; // resent even if it was first served (frozen) here and forwarded later
                    pending.put(requestId, p);
                    return;
                }
                p.fail(new GrdException(null == reason ? RejectReason.INVALID_MODE : reason, resource, p.mode));
            }
        }
    }

    private long internalIds = Long.MIN_VALUE / 2;

    private long nextInternalId()
    {
        return internalIds++;
    }

    private int expire(final long now)
    {
        int expired = 0;
        final Iterator<Pending> it = pending.values().iterator();
        List<Pending> cancels = null;
        while (it.hasNext())
        {
            final Pending p = it.next();
            // a request is left to run to its timeout even while this node holds no lease: a grant may be on its way
            // (cache fusion may already use an image that carries it), and the lease may come back before anyone
            // declares this node dead; a request that times out meanwhile says why it had no chance
            if (now - p.deadlineNs >= 0)
            {
                it.remove();
                expired++;
                stats.incrementAndGet(TIMED_OUT);
                p.fail(new GrdException(node.hasLease() ? RejectReason.TIMED_OUT : RejectReason.FENCED, p.resource,
                    p.mode));
                if (p.op == GrdMessages.OP_ACQUIRE)
                {
                    cancels = null == cancels ? new ArrayList<>() : cancels;
                    cancels.add(p);
                }
            }
        }
        resend(now);
        if (pending.capacity() > COMPACT_ABOVE_CAPACITY && pending.size() < pending.capacity() / 16)
        {
            pending.compact();
        }
        if (null == cancels)
        {
            return expired;
        }
        for (final Pending p : cancels)
        {
            if (p.sentTo == self)
            {
                final DirectoryEntry entry = hot.get(p.resource);
                if (null != entry)
                {
                    entry.cancel(p.requestId, self, this);
                    changed(entry);
                }
            }
            else if (live(p.sentTo))
            {
                GrdMessages.request(message, GrdMessages.OP_CANCEL, p.mode, 0, self, p.requestId, p.resource);
                send(p.sentTo, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
            }
        }
        return expired;
    }

    /**
     * A request unanswered for {@code retryInterval} is sent again (to the master known now): a message can be
     * dropped, e.g. by a node whose directory is not started yet. Masters ignore a copy of a request they
     * queued and answer a copy of one they granted again, which the requester ignores.
     */
    private void resend(final long now)
    {
        final long retryNs = config.retryInterval().toNanos();
        List<Pending> again = null;
        for (final Pending p : pending.values())
        {
            // a request this node masters is queued here already; going through serve again re-sends the
            // notices to the holders in its way, which may have been lost
            if ((p.sentTo != self || p.op == GrdMessages.OP_ACQUIRE) && now - p.sentNs >= retryNs)
            {
                again = null == again ? new ArrayList<>() : again;
                again.add(p);
            }
        }
        if (null != again)
        {
            for (final Pending p : again)
            {
                stats.incrementAndGet(RETRIES);
                route(p);
            }
        }
    }

    private DirectoryEntry entry(final long resource)
    {
        DirectoryEntry entry = hot.get(resource);
        if (null == entry)
        {
            entry = store.get(resource);
            if (null == entry)
            {
                entry = new DirectoryEntry(resource);
            }
            putHot(entry);
            stats.set(HOT, hot.size());
            stats.incrementAndGet(PROMOTIONS);
        }
        return entry;
    }

    /**
     * Entries that are idle and no longer HOT (by recency or rate: {@link Tier}) leave the on-heap tier, as do
     * idle ones beyond its bound; the store keeps them, and their next use brings them back.
     */
    private void demote(final long now)
    {
        final long nowMs = System.currentTimeMillis();
        long waiting = 0;
        for (final LongHashSet.LongIterator it = queued.iterator(); it.hasNext(); )
        {
            final DirectoryEntry e = hot.get(it.nextValue());
            if (null == e || e.queueLength() == 0)
            {
                it.remove();
            }
            else
            {
                waiting += e.queueLength();
            }
        }
        long demoted = 0;
        for (final LongHashSet.LongIterator it = demotable.iterator(); it.hasNext(); )
        {
            final long resource = it.nextValue();
            final DirectoryEntry e = hot.get(resource);
            if (null == e || !e.idle())
            {
                it.remove();
                continue;
            }
            final boolean overBound = hot.size() > config.hotMaxEntries();
            if (overBound || Tier.classify(config, e.accessCount, e.firstAccessMs, e.lastAccessMs, nowMs) != Tier.HOT)
            {
                if (masters.masterOf(resource) == self)
                {
                    store.put(e);
                }
                removeHot(resource);
                it.remove();
                demoted++;
            }
        }
        waitingCount = waiting;
        stats.set(WAITING, waitingCount);
        // the store's count and the demotions before the hot tier's: a reader that sees the hot tier shrink
        // sees where its entries went
        stats.set(STORED, store.size());
        stats.addAndGet(DEMOTIONS, demoted);
        stats.set(HOT, hot.size());
    }

    // ---------------------------------------------------------------- affinity remastering

    private void considerRemaster(final DirectoryEntry entry, final int requester)
    {
        if (!config.remastering() || requester == self)
        {
            entry.lastRemoteRequester = -1;
            entry.consecutiveRemoteRequests = 0;
            return;
        }
        if (entry.lastRemoteRequester == requester)
        {
            entry.consecutiveRemoteRequests++;
        }
        else
        {
            entry.lastRemoteRequester = requester;
            entry.consecutiveRemoteRequests = 1;
        }
        final long arrived = arrivedAt.get(entry.resource());
        final boolean settled = arrived == 0 || System.nanoTime() - arrived >= config.minResidence().toNanos();
        if (entry.consecutiveRemoteRequests >= config.remoteRequestsToRemaster() && settled &&
            !entry.recovering() && !recovering.contains(entry.resource()) && live(requester))
        {
            handOff(entry, requester);
            return;
        }
        lastServed = entry.resource();
        considerObject(ResourceId.objectId(entry.resource()), requester);
    }

    /** Object rule: counts requests per object and requester over a window; a dominant remote node gets them all. */
    private void considerObject(final int object, final int requester)
    {
        if (config.objectShare() <= 0)
        {
            return;
        }
        final long now = System.nanoTime();
        if (now - objectWindowStartNs >= config.objectWindow().toNanos())
        {
            objectRequests.clear();
            objectMovedTo.clear();
            objectWindowStartNs = now;
        }
        if (objectMovedTo.get(object) == requester)
        {
            // the object was given to this node in the current window: its other entries follow as they are used
            final DirectoryEntry entry = hot.get(lastServed);
            if (null != entry && masters.masterOf(lastServed) == self && !entry.recovering() &&
                !recovering.contains(lastServed))
            {
                stats.incrementAndGet(OBJECT_REMASTERS);
                handOff(entry, requester);
            }
            return;
        }
        final Int2ObjectHashMap<long[]> byNode = objectRequests.computeIfAbsent(object, k -> new Int2ObjectHashMap<>());
        byNode.computeIfAbsent(requester, k -> new long[1])[0]++;
        long total = 0;
        for (final long[] count : byNode.values())
        {
            total += count[0];
        }
        final long mine = byNode.get(requester)[0];
        if (total >= config.objectMinRequests() && mine > config.objectShare() * total && requester != self &&
            live(requester))
        {
            objectRequests.remove(object);
            objectMovedTo.put(object, requester);
            final List<DirectoryEntry> moving = new ArrayList<>();
            final LongHashSet ofObject = hotByObject.get(object);
            for (final LongHashSet.LongIterator it = null == ofObject ? null : ofObject.iterator();
                null != it && it.hasNext(); )
            {
                final DirectoryEntry e = hot.get(it.nextValue());
                final long arrived = arrivedAt.get(e.resource());
                if (masters.masterOf(e.resource()) == self &&
                    !e.recovering() && !recovering.contains(e.resource()) &&
                    (arrived == 0 || now - arrived >= config.minResidence().toNanos()))
                {
                    moving.add(e);
                }
            }
            for (final DirectoryEntry e : moving)
            {
                stats.incrementAndGet(OBJECT_REMASTERS);
                handOff(e, requester);
            }
        }
    }

    /** Moves one entry (never the whole directory): hand its state to the new master, forward what comes late. */
    private void handOff(final DirectoryEntry entry, final int newMaster)
    {
        final long resource = entry.resource();
        final long version = masters.moveVersion(resource) + 1;
        handoff.putLong(0, version, ByteOrder.LITTLE_ENDIAN);
        final int length = 8 + EntryCodec.encode(entry, handoff, 8);
        masters.overrideResource(resource, newMaster, version);
        removeHot(resource);
        store.remove(resource);
        arrivedAt.remove(resource);
        stats.incrementAndGet(REMASTERS_OUT);
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "hand-off to " + newMaster + " v" + version + " holders " +
                entry.holders() + " queue " + entry.queueLength());
        }
        send(newMaster, GrdMessages.HANDOFF, handoff, length);
        // the new master announces the move too, but it may die before it does (or before the hand-off reaches
        // it): told only by it, a survivor would keep pointing at this node while this node, having dropped its
        // override to the dead one, points at the ring, and the two would forward the resource to each other
        GrdMessages.master(message, newMaster, version, resource);
        for (final int member : masteringNodes(view))
        {
            if (member != self && member != newMaster)
            {
                send(member, GrdMessages.MASTER, message, GrdMessages.FIXED_LENGTH);
            }
        }
    }

    private void onHandoff(final int source, final DirectBuffer b, final int at, final int size)
    {
        long version = b.getLong(at, ByteOrder.LITTLE_ENDIAN);
        final DirectoryEntry entry = EntryCodec.decode(b, at + 8, size - 8);
        final long resource = entry.resource();
        boolean renumbered = false;
        if (!masters.overrideResource(resource, self, version))
        {
            if (masters.masterOf(resource) != source)
            {
                LOG.log(System.Logger.Level.WARNING, "node " + self + ": stale hand-off of " +
                    ResourceId.toString(resource) + " from node " + source + " (version " + version + ")");
                return;
            }
            // from the master this node knows, numbered below a move this node saw before the sender (re)started:
            // taken, numbered after it, and the sender told too, so the entry is not lost and nobody bounces
            version = masters.moveVersion(resource) + 1;
            masters.overrideResource(resource, self, version);
            renumbered = true;
        }
        if (GrdTrace.ENABLED)
        {
            GrdTrace.record(resource, self, "hand-off from " + source + " v" + version + " holders " +
                entry.holders() + " queue " + entry.queueLength());
        }
        entry.lastAccessNs = System.nanoTime();
        putHot(entry);
        store.put(entry);
        changed(entry);
        reloaded.remove(resource);
        arrivedAt.put(resource, System.nanoTime());
        stats.incrementAndGet(REMASTERS_IN);
        GrdMessages.master(message, self, version, resource);
        for (final int member : masteringNodes(view))
        {
            if (member != self && (member != source || renumbered))
            {
                send(member, GrdMessages.MASTER, message, GrdMessages.FIXED_LENGTH);
            }
        }
    }

    private void onMasterChange(final DirectBuffer b, final int at, final int size)
    {
        checkLength(size);
        masters.overrideResource(GrdMessages.resource(b, at), GrdMessages.newMaster(b, at), GrdMessages.id(b, at));
    }

    // ---------------------------------------------------------------- join

    /**
     * A starting directory masters nothing until every live member has answered its JOIN: a node that restarts
     * after its death gets its arcs of the ring back, and the survivors that mastered them meanwhile hold the
     * entries (who holds what); granting from an empty entry before those arrive would grant a block someone
     * holds EXCLUSIVE.
     */
    private boolean isJoining()
    {
        return !joinAwaited.isEmpty();
    }

    private int askToJoin(final long now)
    {
        if (now - joinDeadlineNs >= 0)
        {
            // mastering without a live member's answer could grant what it still holds entries for: keep waiting
            // (a member never heard from leaves the wait when it is declared absent)
            joinDeadlineNs = now + config.joinTimeout().toNanos();
            LOG.log(System.Logger.Level.WARNING, "node " + self + ": no answer to its join from node(s) " +
                joinAwaited + " for " + config.joinTimeout() + " (a member rebuilding after a death, or without a " +
                "directory?); still waiting, mastering nothing");
        }
        if (now - nextJoinNs < 0)
        {
            return 0;
        }
        // sent again until answered: a member whose directory has not started yet drops it
        nextJoinNs = now + config.retryInterval().toNanos();
        for (final int member : joinAwaited)
        {
            GrdMessages.request(message, GrdMessages.OP_JOIN, LockMode.NULL, 0, self, joinSession, 0);
            send(member, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
        }
        return 1;
    }

    /**
     * Members already dead when this directory starts: a survivor that rebuilds after one of those deaths may wait
     * for this node's reports, which it has none of (its directory was not running). And this node may master
     * some of what the dead node mastered, while the survivors' reports of it, sent when they saw the death, found
     * no directory here: it rebuilds as for a death it saw ({@link #rebuildMissed}).
     */
    private void deadAtStart()
    {
        for (final int member : view.states().keySet())
        {
            if (view.state(member) == dev.fusion.cluster.MemberState.DEAD)
            {
                for (final int peer : masteringNodes(view))
                {
                    if (peer != self)
                    {
                        GrdMessages.request(message, GrdMessages.OP_REPORTS_DONE, LockMode.NULL, 0, self, 0, member);
                        send(peer, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
                    }
                }
                rebuildMissed(member);
            }
        }
    }

    /**
     * A death whose reports this directory missed: it was not running then, so the survivors' reports, sent when
     * they saw the death, found no directory here. Nothing is granted until every member has reported again (its
     * answer to this node's join ends with a REPORTS_DONE for each death it knows, and so does its own rebuild if
     * it sees the death later).
     */
    private void rebuildMissed(final int deadNode)
    {
        final int suspects = suspectsToCheck(deadNode, null);
        final IntHashSet awaited = reportsAwaited.computeIfAbsent(deadNode, k -> new IntHashSet());
        for (final int member : masteringNodes(view))
        {
            if (member != self)
            {
                awaited.add(member);
            }
        }
        final IntHashSet early = earlyReports(deadNode);
        if (null != early)
        {
            awaited.removeAll(early);
        }
        seenDeaths.add(deadNode);
        nextRebuildWarnNs = System.nanoTime() + config.joinTimeout().toNanos();
        LOG.log(System.Logger.Level.INFO, "node " + self + ": node " + deadNode + " died before this directory " +
            "started; waiting for the members' reports (" + suspects + " of its resources to check)");
        maybeFinishRebuild(deadNode);
    }

    /**
     * A dead node's suspects that this node masters, checked as orphans once the reports are in: whether the dead
     * node mastered each one is not known here any more (its moves died with it), and recovering one it did not
     * hold changes nothing (redo older than the block is skipped).
     *
     * @param arcOf when set, only those that were on a left-out member's arcs (the rest were checked before).
     * @return how many.
     */
    private int suspectsToCheck(final int deadNode, final LeftOut arcOf)
    {
        final List<Long> mine = new ArrayList<>();
        try
        {
            for (final Long resource : recovery.suspects(deadNode))
            {
                if (masters.masterOf(resource) == self &&
                    (null == arcOf || masters.masterOf(resource, arcOf.ringBefore()) == arcOf.member()))
                {
                    recovering.add(resource);
                    mine.add(resource);
                }
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": recovery suspects of node " + deadNode +
                " unavailable", ex);
        }
        if (!mine.isEmpty())
        {
            orphansToCheck.computeIfAbsent(deadNode, k -> new ArrayList<>()).addAll(mine);
        }
        return mine.size();
    }

    /** A member's directory is starting: hand it what it masters now, report what this node holds of it, then say so. */
    private void onJoin(final int joiner, final long session)
    {
        if (joiner == self || !live(joiner) || !masters.ring().contains(joiner) || isRebuilding())
        {
            return; // asked again after the retry interval, by when the joiner is on the ring and reports are in
        }
        final boolean established = !isJoining();
        if (joinAwaited.remove(joiner) && joinAwaited.isEmpty())
        {
            finishJoin(); // a directory that is starting masters nothing this one needs
        }
        // a member still joining hands over too: entries it was handed may belong to the newcomer now
        if (!handOverTo(joiner))
        {
            return; // the rest (or an entry being recovered) goes when the joiner asks again
        }
        announceMovesTo(joiner);
        if (reportedJoin.get(joiner) != session)
        {
            reportedJoin.put(joiner, session);
            reportTo(joiner);
        }
        GrdMessages.request(message, GrdMessages.OP_JOIN_DONE, LockMode.NULL, 0, self, 0, established ? 1 : 0);
        send(joiner, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
    }

    /**
     * Reports to a joiner, once per join, what this node holds of the resources it masters now, what this node
     * gave each dead member of them, and that it has reported for every death it knows. Those reports may have
     * reached the joiner's node before its directory ran (dropped), or not at all (sent to a member never heard,
     * when the joiner was down); the joiner also rebuilds for the deaths it missed ({@link #rebuildMissed}) and
     * grants nothing until these are in. A duplicate of a report it did get sets the same holder again.
     */
    private void reportTo(final int joiner)
    {
        reportHolds(joiner);
        for (final int member : view.states().keySet())
        {
            if (view.state(member) != dev.fusion.cluster.MemberState.DEAD)
            {
                continue;
            }
            try
            {
                for (final Long resource : recovery.givenTo(member))
                {
                    if (masters.masterOf(resource) == joiner)
                    {
                        reportGiven(resource, member);
                    }
                }
            }
            catch (final RuntimeException ex)
            {
                LOG.log(System.Logger.Level.ERROR, "node " + self + ": resources given to node " + member +
                    " unavailable", ex);
            }
            if (!reportsDoneDeferred.contains(member))
            {
                // (a deferred one is sent to every member, the joiner included, once this node's reports are sure)
                GrdMessages.request(message, GrdMessages.OP_REPORTS_DONE, LockMode.NULL, 0, self, 0, member);
                send(joiner, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
            }
        }
    }

    /**
     * Tells the joiner of every resource this node masters through a move: it was not there when the moves were
     * announced, and would take the ring's word for them (granting from an empty entry what this node masters).
     */
    private void announceMovesTo(final int joiner)
    {
        masters.forEachMove((resource, version) ->
        {
            if (masters.masterOf(resource) == self)
            {
                GrdMessages.master(message, self, version, resource);
                send(joiner, GrdMessages.MASTER, message, GrdMessages.FIXED_LENGTH);
            }
        });
    }

    /** @return the ring without one member (what this node's map said before that member joined). */
    private MasterRing ringWithout(final int member)
    {
        final List<Integer> others = new ArrayList<>();
        for (final int node : masters.ring().nodes())
        {
            if (node != member)
            {
                others.add(node);
            }
        }
        return MasterRing.of(others, config.virtualNodes());
    }

    /**
     * Hands the joiner the entries this node mastered that the ring gives the joiner now (not those reloaded from
     * its store and out of date), at most {@link #HANDOVER_BATCH} per JOIN, so a join does not flood the joiner's
     * inbox (which queues what does not fit on the heap).
     *
     * @return false when some are left (the rest, or entries being recovered, go when the joiner asks again).
     */
    private boolean handOverTo(final int joiner)
    {
        final MasterRing without = ringWithout(joiner);
        // the store is scanned when a join starts, and once more to confirm when the list is used up, not at every
        // JOIN (sent again every retry interval while the answer waits): a scan decodes every stored entry
        org.agrona.collections.LongArrayList owed = owedByJoiner.remove(joiner);
        boolean fresh = false;
        if (null == owed)
        {
            owed = scanOwed(joiner, without);
            fresh = true;
        }
        int handed = 0;
        final org.agrona.collections.LongArrayList keep = new org.agrona.collections.LongArrayList();
        for (int i = 0; i < owed.size(); i++)
        {
            final long resource = owed.getLong(i);
            final DirectoryEntry entry = hot.containsKey(resource) ? hot.get(resource) : store.get(resource);
            if (null == entry || !owedTo(resource, joiner, without))
            {
                continue; // handed over already, or moved since
            }
            if (recovering.contains(resource) || handed == HANDOVER_BATCH)
            {
                keep.addLong(resource);
            }
            else
            {
                handOff(entry, joiner);
                handed++;
            }
        }
        if (keep.isEmpty() && !fresh)
        {
            keep.addAll(scanOwed(joiner, without)); // anything that became owed since the list was made
        }
        if (handed > 0 || !keep.isEmpty())
        {
            LOG.log(System.Logger.Level.INFO, "node " + self + ": handed node " + joiner + " " + handed +
                " entries it masters now" + (keep.isEmpty() ? "" : "; " + keep.size() + " follow when it asks again"));
        }
        if (keep.isEmpty())
        {
            return true;
        }
        owedByJoiner.put(joiner, keep);
        return false;
    }

    private org.agrona.collections.LongArrayList scanOwed(final int joiner, final MasterRing without)
    {
        final org.agrona.collections.LongArrayList owed = new org.agrona.collections.LongArrayList();
        for (final DirectoryEntry entry : hot.values())
        {
            if (owedTo(entry.resource(), joiner, without))
            {
                owed.addLong(entry.resource());
            }
        }
        store.forEach(entry ->
        {
            if (!hot.containsKey(entry.resource()) && owedTo(entry.resource(), joiner, without))
            {
                owed.addLong(entry.resource());
            }
        });
        return owed;
    }

    private boolean owedTo(final long resource, final int joiner, final MasterRing without)
    {
        return !reloaded.contains(resource) && masters.masterOf(resource, without) == self &&
            masters.masterOf(resource) == joiner;
    }

    private void onJoinDone(final int member, final boolean established)
    {
        joinedLiveCluster |= established;
        if (joinAwaited.remove(member) && joinAwaited.isEmpty())
        {
            finishJoin();
        }
    }

    private void finishJoin()
    {
        if (joinedLiveCluster && !reloaded.isEmpty())
        {
            // the cluster went on without this node: whoever holds one of these now got it from a survivor, whose
            // entry came back by hand-off; what is left describes holds that are gone
            int dropped = 0;
            for (final LongHashSet.LongIterator it = reloaded.iterator(); it.hasNext(); )
            {
                final long resource = it.nextValue();
                removeHot(resource);
                store.remove(resource);
                dropped++;
            }
            LOG.log(System.Logger.Level.INFO, "node " + self + ": dropped " + dropped +
                " out-of-date entries reloaded from its store");
            stats.set(HOT, hot.size());
        }
        reloaded.clear();
        LOG.log(System.Logger.Level.INFO, "node " + self + ": directory joined" +
            (isRebuilding() ? "; rebuilding after deaths it missed" : "; mastering"));
        checkSettledOrphans();
        releaseFrozen();
    }

    // ---------------------------------------------------------------- reconfiguration

    /**
     * Compares with the last view this agent saw, not the listener's previous one: a catch-up submitted when the
     * directory starts (a change between reading the view and registering the listener) is then harmless.
     */
    private void onViewChange(final MembershipView current)
    {
        final MembershipView previous = view;
        if (current.epoch() < previous.epoch())
        {
            return;
        }
        viewChanges.incrementAndGet(); // before the unconfirmed holds are read (reconfigure): see requestGrant
        view = current;
        final List<Integer> dead = new ArrayList<>();
        final List<Integer> absent = new ArrayList<>();
        for (final int member : previous.states().keySet())
        {
            final dev.fusion.cluster.MemberState was = previous.state(member);
            final dev.fusion.cluster.MemberState now = current.state(member);
            if (was == dev.fusion.cluster.MemberState.JOINING && now == dev.fusion.cluster.MemberState.DEAD)
            {
                absent.add(member);
            }
            else if (was != dev.fusion.cluster.MemberState.DEAD && now == dev.fusion.cluster.MemberState.DEAD)
            {
                dead.add(member);
                returnedAt.remove(member);
                owedByJoiner.remove(member);
            }
            else if ((was == dev.fusion.cluster.MemberState.JOINING || was == dev.fusion.cluster.MemberState.DEAD) &&
                now == dev.fusion.cluster.MemberState.ALIVE)
            {
                reportsEarly.remove(member); // a new incarnation: early reports were about an older one
                if (reportsAwaited.containsKey(member))
                {
                    returnedAt.put(member, System.nanoTime()); // see endRebuildsOfReturned
                }
            }
        }
        final Int2ObjectHashMap<List<Long>> orphans = new Int2ObjectHashMap<>();
        for (final int deadNode : dead)
        {
            orphans.put(deadNode, orphansOf(deadNode));
        }
        final List<Integer> ring = masteringNodes(current);
        final MasterRing ringBefore = masters.ring();
        if (!java.util.Arrays.equals(masters.ring().nodes(), ring.stream().mapToInt(Integer::intValue).toArray()))
        {
            masters.replaceRing(MasterRing.of(ring, config.virtualNodes()));
        }
        for (final int member : absent)
        {
            leaveOut(member, ringBefore, current);
        }
        for (final int deadNode : dead)
        {
            final List<Long> mine = new ArrayList<>();
            for (final long resource : orphans.get(deadNode))
            {
                if (masters.masterOf(resource) == self)
                {
                    recovering.add(resource); // frozen until the survivors' reports say whether anyone holds it
                    mine.add(resource);
                }
                else
                {
                    // its new master may not know the dead node mastered it (a move it was not told of yet)
                    givenAway.computeIfAbsent(deadNode, k -> new ArrayList<>()).add(resource);
                }
            }
            orphansToCheck.computeIfAbsent(deadNode, k -> new ArrayList<>()).addAll(mine);
            reconfigure(deadNode, current);
        }
        // after the deaths are rebuilt: a join that ends because a member it waited for died must find the
        // rebuild's freeze in place
        if (isJoining() && joinAwaited.removeIf(member -> !live(member)) && joinAwaited.isEmpty())
        {
            finishJoin();
        }
        // a rebuild may have waited for the reports of a member that died or was left out since
        for (final int deadNode : new ArrayList<>(reportsAwaited.keySet()))
        {
            maybeFinishRebuild(deadNode);
        }
        flushReportsDone();
        checkSettledOrphans(); // a rebuild may have ended because the dead node is back
        releaseFrozen();
    }

    /** @return whether a member of the view was never heard from here (JOINING: on the ring, maybe dead elsewhere). */
    private static boolean neverHeard(final MembershipView view)
    {
        for (final dev.fusion.cluster.MemberState state : view.states().values())
        {
            if (state == dev.fusion.cluster.MemberState.JOINING)
            {
                return true;
            }
        }
        return false;
    }

    /** The REPORTS_DONE held back while a member was never heard, once every member is heard or left out. */
    private void flushReportsDone()
    {
        if (reportsDoneDeferred.isEmpty() || neverHeard(view))
        {
            return;
        }
        for (final IntHashSet.IntIterator it = reportsDoneDeferred.iterator(); it.hasNext(); )
        {
            final int deadNode = it.nextValue();
            for (final int member : masteringNodes(view))
            {
                if (member != self)
                {
                    GrdMessages.request(message, GrdMessages.OP_REPORTS_DONE, LockMode.NULL, 0, self, 0, deadNode);
                    send(member, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
                }
            }
        }
        reportsDoneDeferred.clear();
    }

    /**
     * A member never heard from since this node started is declared dead (absent). It holds nothing this node
     * granted, and this node holds nothing it granted (a grant would have been heard). But it was on the ring:
     * reports sent to it at a death (this node's and the others') reached no directory, and its arcs now go to
     * the survivors, who would master them from empty entries. So this is rebuilt like a death: every survivor
     * reports its holds again to the masters of now and says so, nothing is granted until all have, and the
     * suspects of earlier deaths that were on its arcs are checked as orphans (what this node gave a dead node
     * among them is reported to their new masters). It may also have been alive elsewhere: its own suspects are
     * checked too. Requests sent to it go to the master known now.
     */
    private void leaveOut(final int member, final MasterRing ringBefore, final MembershipView current)
    {
        LOG.log(System.Logger.Level.INFO, "node " + self + ": node " + member + " never heard since this node " +
            "started: left off the ring; the members report again");
        suspectsToCheck(member, null);
        final LeftOut arc = new LeftOut(member, ringBefore);
        for (final int deadNode : current.states().keySet())
        {
            if (deadNode == member || current.state(deadNode) != dev.fusion.cluster.MemberState.DEAD)
            {
                continue;
            }
            suspectsToCheck(deadNode, arc);
            try
            {
                for (final Long resource : recovery.givenTo(deadNode))
                {
                    if (masters.masterOf(resource, ringBefore) == member)
                    {
                        reportGiven(resource, deadNode);
                    }
                }
            }
            catch (final RuntimeException ex)
            {
                LOG.log(System.Logger.Level.ERROR, "node " + self + ": resources given to node " + deadNode +
                    " unavailable", ex);
            }
        }
        reconfigure(member, current);
    }

    /** A resource a survivor gave the dead node: frozen and checked once the reports are in. */
    private void onGiven(final long resource, final int deadNode)
    {
        final boolean frozenAlready = recovering.contains(resource);
        final List<Long> orphans = orphansToCheck.computeIfAbsent(deadNode, k -> new ArrayList<>());
        if (!orphans.contains(resource))
        {
            orphans.add(resource);
            recovering.add(resource);
        }
        if (view.state(deadNode) == dev.fusion.cluster.MemberState.DEAD && !frozenAlready)
        {
            // late: this node's rebuild for that death may be over, so nothing else would check it (frozen for
            // good); checked now unless a rebuild or the join still waits for reports, which then checks it. Before
            // this node sees the death, the rebuild checks it once the reports are in
            checkSettledOrphans();
        }
    }

    /** The recovery handler's suspects for a dead node that the dead node mastered itself. */
    private List<Long> orphansOf(final int deadNode)
    {
        final List<Long> orphans = new ArrayList<>();
        // while this node joins, a member that has not answered may still master what the ring now gives this node
        final MasterRing before = joinAwaited.contains(deadNode) ? ringWithout(self) : null;
        try
        {
            for (final Long resource : recovery.suspects(deadNode))
            {
                if (masters.masterOf(resource) == deadNode ||
                    null != before && masters.masterOf(resource, before) == deadNode)
                {
                    orphans.add(resource);
                }
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": recovery suspects of node " + deadNode +
                " unavailable", ex);
        }
        return orphans;
    }

    /**
     * After the reports: an orphan nobody holds may have been EXCLUSIVE at the dead node, so it is recovered;
     * one a survivor holds was not (the modes are incompatible) and is released from the freeze.
     */
    private void checkOrphans(final int deadNode)
    {
        final List<Long> orphans = orphansToCheck.remove(deadNode);
        if (null == orphans)
        {
            return;
        }
        for (final long resource : orphans)
        {
            final DirectoryEntry entry = entry(resource);
            if (entry.holders().isEmpty())
            {
                startRecovery(resource, deadNode);
            }
            else
            {
                recovering.remove(resource);
            }
        }
        if (!orphans.isEmpty())
        {
            LOG.log(System.Logger.Level.INFO, "node " + self + ": checked " + orphans.size() +
                " resources node " + deadNode + " mastered and may have held");
        }
    }

    /**
     * Checks the orphans of every death this node has seen once no report is awaited any more (no rebuild, no
     * join): a report still on its way may say a survivor holds one, and recovering it then would overwrite the
     * survivor's newer image.
     */
    private void checkSettledOrphans()
    {
        if (isRebuilding() || isJoining())
        {
            return;
        }
        if (orphansToCheck.isEmpty())
        {
            seenDeaths.clear();
            return;
        }
        final int[] deadNodes = new int[orphansToCheck.size()];
        int n = 0;
        for (final Int2ObjectHashMap<List<Long>>.KeyIterator it = orphansToCheck.keySet().iterator(); it.hasNext(); )
        {
            deadNodes[n++] = it.nextInt();
        }
        for (int i = 0; i < n; i++)
        {
            // one whose death this node has not seen yet waits for that death's rebuild
            if (seenDeaths.contains(deadNodes[i]) || view.state(deadNodes[i]) == dev.fusion.cluster.MemberState.DEAD)
            {
                checkOrphans(deadNodes[i]);
            }
        }
        seenDeaths.clear();
    }

    /** Every configured member not declared dead masters resources: a JOINING one is expected shortly. */
    static List<Integer> masteringNodes(final MembershipView view)
    {
        final List<Integer> nodes = new ArrayList<>();
        view.states().forEach((id, state) ->
        {
            if (state != dev.fusion.cluster.MemberState.DEAD)
            {
                nodes.add(id);
            }
        });
        return nodes;
    }

    private void reconfigure(final int deadNode, final MembershipView current)
    {
        LOG.log(System.Logger.Level.INFO, "node " + self + ": reconfiguring the directory after node " + deadNode +
            " died (epoch " + current.epoch() + ")");
        for (final DirectoryEntry entry : new ArrayList<>(hot.values()))
        {
            if (masters.masterOf(entry.resource()) != self)
            {
                continue;
            }
            if (entry.removeNode(deadNode, this))
            {
                startRecovery(entry.resource(), deadNode);
            }
            store.put(entry);
            changed(entry);
        }
        final IntHashSet survivors = new IntHashSet();
        for (final int member : masteringNodes(current))
        {
            if (member != self)
            {
                survivors.add(member);
            }
        }
        final IntHashSet awaited = new IntHashSet();
        awaited.addAll(survivors);
        final IntHashSet early = earlyReports(deadNode);
        if (null != early)
        {
            awaited.removeAll(early);
        }
        reportsAwaited.put(deadNode, awaited);
        seenDeaths.add(deadNode);
        nextRebuildWarnNs = System.nanoTime() + config.joinTimeout().toNanos();
        reportHolds(ANY_MASTER);
        // resources this node gave the dead node, or knew the dead node mastered: their new masters check them like
        // the dead node's own (sent before this node's REPORTS_DONE, which the new master waits for)
        final List<Long> known = givenAway.remove(deadNode);
        if (null != known)
        {
            for (final long resource : known)
            {
                reportGiven(resource, deadNode);
            }
        }
        try
        {
            for (final Long resource : recovery.givenTo(deadNode))
            {
                reportGiven(resource, deadNode);
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": resources given to node " + deadNode +
                " unavailable", ex);
        }
        // every survivor is told, including those whose own reports arrived first; but not while a member this
        // node never heard is on its ring: reports this node sent it may have gone nowhere (the others may know
        // it dead), and are sent again to the masters of then when it is left out (see flushReportsDone)
        if (neverHeard(current))
        {
            reportsDoneDeferred.add(deadNode);
            LOG.log(System.Logger.Level.INFO, "node " + self + ": its reports after node " + deadNode + " died are " +
                "complete once the members it never heard are heard or left out");
        }
        else
        {
            for (final int member : survivors)
            {
                GrdMessages.request(message, GrdMessages.OP_REPORTS_DONE, LockMode.NULL, 0, self, 0, deadNode);
                send(member, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
            }
        }
        // A request may have been forwarded to the dead node by the master it was sent to, so send every
        // unanswered request again: a master still holding the original ignores the copy (same requester and
        // request id), and an answer to a copy already answered finds no pending request.
        for (final Pending p : new ArrayList<>(pending.values()))
        {
            route(p);
        }
        maybeFinishRebuild(deadNode);
    }

    /**
     * Reports this node's holds to their masters, or to one master only.
     *
     * @param onlyTo a master, or {@link #ANY_MASTER}.
     */
    private void reportHolds(final int onlyTo)
    {
        // a hold being released (or downgraded) is reported as what it becomes: the resource may already be
        // with another node, and a report of the old mode would keep the new master from recovering it
        final Long2ObjectHashMap<LockMode> giving = new Long2ObjectHashMap<>();
        for (final Pending p : pending.values())
        {
            if (p.op == GrdMessages.OP_RELEASE)
            {
                giving.put(p.resource, LockMode.NULL);
            }
            else if (p.op == GrdMessages.OP_DOWNGRADE)
            {
                giving.put(p.resource, p.mode);
            }
        }
        for (final Long2ObjectHashMap<LockMode>.EntryIterator it = holdings.entrySet().iterator(); it.hasNext(); )
        {
            it.next();
            final long resource = it.getLongKey();
            final LockMode mode = giving.containsKey(resource) ? giving.get(resource) : it.getValue();
            if (mode == LockMode.NULL || (onlyTo != ANY_MASTER && masters.masterOf(resource) != onlyTo))
            {
                continue;
            }
            report(resource, mode, GrdMessages.NO_GRANT);
        }
        // Holds used on an image that carried the grant, before the grant itself arrived: reported with the id of
        // the request they are held under (still pending here, and sent again at a reconfiguration), so the master
        // records that grant. Without it, the request's "fresh" flag (this node holds nothing else) would make the
        // master drop the reported hold as a stale one and grant it elsewhere while this node uses it.
        try
        {
            for (final java.util.Map.Entry<Long, UnconfirmedHold> e : recovery.unconfirmed().entrySet())
            {
                final long resource = e.getKey();
                if ((holdings.containsKey(resource) && null == pendingAcquire(resource)) ||
                    (onlyTo != ANY_MASTER && masters.masterOf(resource) != onlyTo))
                {
                    continue; // the grant arrived meanwhile: reported above
                }
                report(resource, e.getValue().mode(), e.getValue().requestId());
            }
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "node " + self + ": unconfirmed holds unavailable", ex);
        }
    }

    /** Tells a resource's master that a dead node may have held it (or checks it here when this node masters it). */
    private void reportGiven(final long resource, final int deadNode)
    {
        final int master = masters.masterOf(resource);
        if (master == self)
        {
            onGiven(resource, deadNode);
        }
        else
        {
            GrdMessages.request(message, GrdMessages.OP_REPORT_GIVEN, LockMode.NULL, 0, self, 0, resource);
            GrdMessages.extras(message, 0, deadNode);
            send(master, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
        }
    }

    /** Reports a hold to the resource's master; {@code grant} is the request it is held under, when known. */
    private void report(final long resource, final LockMode mode, final long grant)
    {
        final int master = masters.masterOf(resource);
        GrdMessages.request(message, GrdMessages.OP_REPORT, mode, 0, self, 0, resource);
        GrdMessages.extras(message, 0, grant);
        if (master == self)
        {
            final DirectoryEntry entry = entry(resource);
            entry.restoreHolder(self, mode, grant);
            changed(entry);
        }
        else
        {
            send(master, GrdMessages.REQUEST, message, GrdMessages.REQUEST_LENGTH);
        }
    }

    private Pending pendingAcquire(final long resource)
    {
        for (final Pending p : pending.values())
        {
            if (p.resource == resource && p.op == GrdMessages.OP_ACQUIRE)
            {
                return p;
            }
        }
        return null;
    }

    private void onReportsDone(final int reporter, final int deadNode)
    {
        final IntHashSet awaited = reportsAwaited.get(deadNode);
        if (null == awaited)
        {
            final dev.fusion.cluster.MemberState state = view.state(deadNode);
            if (null != state && state != dev.fusion.cluster.MemberState.DEAD)
            {
                // the reporter saw the death first (or left out a member this node has not heard yet, and will
                // leave out too): remember, so this node does not wait for it later; forgotten if it comes back
                reportsEarly.computeIfAbsent(deadNode, k -> new Long2LongHashMap(Long.MIN_VALUE))
                    .put(reporter, System.nanoTime());
            }
            // else late: this node rebuilt without it, nothing to wait for
            return;
        }
        awaited.remove(reporter);
        maybeFinishRebuild(deadNode);
        releaseFrozen();
    }

    /**
     * The members that said REPORTS_DONE for a death before this node saw it, unless they said it so long ago
     * that it cannot be about this death: every node sees a death within about the failure detector's dead
     * timeout of the others (a member never heard, within the absent timeout); older ones were about an earlier
     * incarnation (a node that restarted before this node heard it die), and would let a rebuild skip a member
     * whose reports are still on their way.
     */
    private IntHashSet earlyReports(final int deadNode)
    {
        final Long2LongHashMap early = reportsEarly.remove(deadNode);
        if (null == early)
        {
            return null;
        }
        final long now = System.nanoTime();
        final long windowNs = deathWindowNs();
        final IntHashSet fresh = new IntHashSet();
        early.longForEach((reporter, at) ->
        {
            if (now - at <= windowNs)
            {
                fresh.add((int)reporter);
            }
            else
            {
                LOG.log(System.Logger.Level.INFO, "node " + self + ": REPORTS_DONE for node " + deadNode +
                    " from node " + reporter + " is too old to be about this death; waiting for its own");
            }
        });
        return fresh;
    }

    /**
     * How far apart two nodes may see one death: the failure detector's dead timeout on either side (a member
     * never heard: the absent timeout), a REPORTS_DONE held back while a member is never heard, and 2 s for the
     * messages and the agents.
     */
    private long deathWindowNs()
    {
        final dev.fusion.cluster.ClusterConfig cluster = node.config();
        return Math.max(2 * cluster.deadTimeoutNs(), cluster.absentTimeoutNs()) + TimeUnit.SECONDS.toNanos(2);
    }

    /**
     * A node back (a new incarnation) before every member reported its death: a member that heard the new
     * incarnation before it saw the death never will see it, and never reports: it never heard the old one (it
     * started after the death; a member that did hear it sees it die before the new one is admitted), so it holds
     * nothing the old one granted. One that saw it has sent its reports and REPORTS_DONE within the window in
     * which deaths are seen apart (held back at most while a member is never heard); after that window the
     * rebuild ends without those that did not.
     */
    private void endRebuildsOfReturned(final long now)
    {
        final long graceNs = deathWindowNs();
        boolean ended = false;
        for (final Long2LongHashMap.KeyIterator it = returnedAt.keySet().iterator(); it.hasNext(); )
        {
            final long member = it.nextValue();
            if (now - returnedAt.get(member) >= graceNs)
            {
                it.remove();
                final IntHashSet missing = reportsAwaited.remove((int)member);
                if (null != missing)
                {
                    ended = true;
                    LOG.log(System.Logger.Level.INFO, "node " + self + ": node " + member + " is back; the rebuild " +
                        "after its death ends without the reports of " + missing + ", who saw it back first");
                }
            }
        }
        if (ended)
        {
            checkSettledOrphans();
            releaseFrozen();
        }
    }

    private void maybeFinishRebuild(final int deadNode)
    {
        final IntHashSet awaited = reportsAwaited.get(deadNode);
        if (null == awaited)
        {
            return;
        }
        awaited.removeIf(member -> !live(member));
        if (awaited.isEmpty())
        {
            reportsAwaited.remove(deadNode);
            LOG.log(System.Logger.Level.INFO, "node " + self + ": directory rebuilt after node " + deadNode + " died");
            checkSettledOrphans();
        }
    }

    /** While survivors' reports for a death are outstanding, nothing is granted on this master. */
    private boolean isRebuilding()
    {
        return !reportsAwaited.isEmpty();
    }

    private void startRecovery(final long resource, final int deadNode)
    {
        recovering.add(resource);
        final CompletableFuture<Void> done;
        try
        {
            done = recovery.recover(resource, deadNode);
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "recovery handler threw for " + ResourceId.toString(resource), ex);
            return;
        }
        done.whenComplete((ok, error) ->
        {
            if (null != error)
            {
                LOG.log(System.Logger.Level.ERROR, "recovery of " + ResourceId.toString(resource) + " failed; " +
                    "it stays frozen", error);
                return;
            }
            while (!submit(new Recovered(resource)))
            {
                Thread.onSpinWait();
            }
        });
    }

    private void onRecovered(final long resource)
    {
        recovering.remove(resource);
        stats.incrementAndGet(RECOVERIES);
        final DirectoryEntry entry = hot.get(resource);
        if (null != entry)
        {
            entry.recovered(this);
            store.put(entry);
            changed(entry);
        }
        if (!isRebuilding() && !isJoining())
        {
            releaseFrozen(resource);
        }
    }

    /** Requesters retry every retry interval while frozen: a copy of a request already waiting is not kept twice. */
    private void freeze(final Deferred d)
    {
        final ArrayDeque<Deferred> waiting = frozen.computeIfAbsent(d.resource(), k -> new ArrayDeque<>());
        for (final Deferred f : waiting)
        {
            if (f.requester() == d.requester() && f.requestId() == d.requestId() && f.op() == d.op())
            {
                return;
            }
        }
        waiting.add(d);
    }

    /**
     * Serves again what was frozen, unless a rebuild or join still holds everything: each resource's requests in
     * arrival order, those of resources still being recovered left waiting (a recovery releases its own).
     */
    private void releaseFrozen()
    {
        if (frozen.isEmpty() || isRebuilding() || isJoining())
        {
            return;
        }
        final long[] resources = new long[frozen.size()];
        int n = 0;
        for (final Long2ObjectHashMap<ArrayDeque<Deferred>>.KeyIterator it = frozen.keySet().iterator(); it.hasNext(); )
        {
            resources[n++] = it.nextLong();
        }
        for (final long resource : resources)
        {
            if (!recovering.contains(resource) || masters.masterOf(resource) != self)
            {
                releaseFrozen(resource);
            }
        }
    }

    private void releaseFrozen(final long resource)
    {
        final ArrayDeque<Deferred> waiting = frozen.remove(resource);
        if (null == waiting)
        {
            return;
        }
        for (final Deferred d : waiting)
        {
            serve(d.requester(), d.requestId(), d.resource(), d.op(), d.mode(), d.hops(), d.flags(), d.grant());
        }
    }

    // ---------------------------------------------------------------- sending

    private void send(final int peer, final int type, final DirectBuffer buffer, final int length)
    {
        if (!backlog.isEmpty() || !trySend(peer, type, buffer, length))
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(0, bytes);
            backlog.add(new Outbound(peer, type, bytes));
        }
    }

    private boolean trySend(final int peer, final int type, final DirectBuffer buffer, final int length)
    {
        if (!live(peer))
        {
            return true;
        }
        return node.send(peer, type, Priority.HIGH, buffer, 0, length);
    }

    private int flushBacklog()
    {
        int sent = 0;
        while (!backlog.isEmpty())
        {
            final Outbound o = backlog.peek();
            if (!trySend(o.peer(), o.type(), new UnsafeBuffer(o.bytes()), o.bytes().length))
            {
                break;
            }
            backlog.poll();
            sent++;
        }
        return sent;
    }

    /** Configured members not declared dead master resources and may ask for them; JOINING ones included. */
    private boolean live(final int nodeId)
    {
        final dev.fusion.cluster.MemberState state = view.state(nodeId);
        return null != state && state != dev.fusion.cluster.MemberState.DEAD;
    }

    private static void checkLength(final int size)
    {
        if (size != GrdMessages.FIXED_LENGTH)
        {
            throw new IllegalArgumentException("length " + size + ", expected " + GrdMessages.FIXED_LENGTH);
        }
    }

    @Override
    public void onClose()
    {
        for (final Pending p : pending.values())
        {
            p.fail(new GrdException(RejectReason.CLOSED, p.resource, p.mode));
        }
        pending.clear();
        Command c;
        while (null != (c = commands.poll()))
        {
            if (c instanceof Submit s)
            {
                s.pending().fail(
                    new GrdException(RejectReason.CLOSED, s.pending().resource, s.pending().mode));
            }
        }
    }
}
