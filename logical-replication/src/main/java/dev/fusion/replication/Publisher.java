package dev.fusion.replication;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.Primary;
import dev.fusion.cluster.Priority;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The publishing side of logical replication. The engine calls {@link #publish} from its commit path, in
 * commit order: the transaction is appended to the durable {@link ReplicationLog} and kept in a bounded
 * in-memory tail. A sender thread streams to every subscriber from where it said it is: from the tail when it
 * is recent enough, else by replaying the log (partial resync); when even the log no longer holds it, the
 * subscriber is told a full sync is needed. Flow control is by credit: a subscriber says how many transactions
 * it can buffer and acknowledges how many it has taken, and the sender never has more than that in flight; a
 * full transport queue also makes it wait. Either way it resumes from the last transaction that went out.
 */
public final class Publisher implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(Publisher.class.getName());

    private final ClusterNode node;
    private final ReplicationLog log;
    private final int tailCapacity;
    private final ConcurrentSkipListMap<Long, Published> tail = new ConcurrentSkipListMap<>();
    private long lastPublished;
    private final Map<Integer, Subscription> subscribers = new ConcurrentHashMap<>();
    private final long epoch;
    private final boolean quorum;
    /** The position this epoch's history continues after (where the promoted node took over; 0 for the first). */
    private final long epochStart;
    private volatile boolean fenced;
    /** Synchronous commits waiting, per policy, in position order (so a walk stops at each queue's first unmet). */
    private final Map<CommitPolicy, java.util.concurrent.ConcurrentLinkedQueue<Waiter>> waiters =
        new ConcurrentHashMap<>();
    private final java.util.concurrent.ScheduledExecutorService timer =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r ->
        {
            final Thread t = new Thread(r, "fusion-commit-timer");
            t.setDaemon(true);
            return t;
        });
    private final Thread sender;
    private final SnapshotSource snapshots;
    private final Map<Long, Snapshot> snapshotFiles = new ConcurrentHashMap<>();
    private final java.util.concurrent.ExecutorService snapshotThread;
    /** Subscribers whose snapshot is being taken: a repeated FULL_SYNC meanwhile is not a new request. */
    private final Set<Integer> snapshotting = ConcurrentHashMap.newKeySet();
    /** One chunk message (snapshot thread only). */
    private final UnsafeBuffer chunk = new UnsafeBuffer(new byte[StreamMessages.CHUNK_HEADER + StreamMessages.CHUNK_BYTES]);
    private final java.nio.ByteBuffer chunkData = java.nio.ByteBuffer.wrap(chunk.byteArray());
    private final java.util.zip.CRC32 chunkCrc = new java.util.zip.CRC32();
    private final java.util.concurrent.atomic.AtomicLong largeTransactions = new java.util.concurrent.atomic.AtomicLong();
    private volatile long tailFloor;
    private volatile boolean running = true;

    /**
     * A snapshot file kept for chunk requests until its subscriber has loaded it (or asks for another): the position
     * it reflects, its size and its chunk count.
     */
    private record Snapshot(java.nio.file.Path file, long position, int subscriber, long size, int count)
    {
    }

    /** A transaction in the in-memory tail, with the position published just before it. */
    private record Published(Transaction txn, long previous)
    {
    }

    /**
     * A subscription request the sender thread has yet to apply: where the subscriber resumes, and whether its
     * state went on in an older epoch past where this one took over (then only a full sync reconciles it). One
     * value, so the sender never applies the position of one request with the verdict of another.
     */
    private record Resubscribe(long from, boolean diverged)
    {
    }

    /** What the publisher knows of one subscriber. */
    static final class Subscription
    {
        final int node;
        final java.util.concurrent.atomic.AtomicReference<Resubscribe> resubscribe =
            new java.util.concurrent.atomic.AtomicReference<>();
        volatile long sentUpTo;
        volatile long received;
        volatile int window = Integer.MAX_VALUE;
        /**
         * Positions sent and not yet reported received, oldest first (sender thread only): the credit. Counting
         * by position, not by the subscriber's count, makes a stale acknowledgement harmless: one from before a
         * resubscription reports a position at or below where the new subscription starts, and frees nothing.
         */
        final org.agrona.collections.LongArrayQueue unacked = new org.agrona.collections.LongArrayQueue();
        volatile long applied;
        volatile boolean needsFullSync;

        Subscription(final int node, final Resubscribe first, final int window)
        {
            this.node = node;
            this.window = window; // before the sender can see it: a default window would let a burst through
            this.sentUpTo = first.from();
            this.applied = first.from();
            this.resubscribe.set(first); // before the sender can see it: a diverged subscriber gets no replay
        }
    }

    /**
     * @param node         the publisher's cluster node.
     * @param log          its replication log (opened; the publisher does not close it).
     * @param tailCapacity transactions kept in memory for live subscribers.
     */
    public Publisher(final ClusterNode node, final ReplicationLog log, final int tailCapacity)
    {
        this(node, log, tailCapacity, null);
    }

    /**
     * @param node         the publisher's cluster node.
     * @param log          its replication log (opened; the publisher does not close it).
     * @param tailCapacity transactions kept in memory for live subscribers.
     * @param snapshots    the engine's snapshot writer for full syncs, or null when it has none.
     */
    public Publisher(final ClusterNode node, final ReplicationLog log, final int tailCapacity,
        final SnapshotSource snapshots)
    {
        this(node, log, tailCapacity, snapshots, 0, 1);
    }

    /**
     * A publisher whose stream continues after {@code startAfter} (a promoted replica's applied watermark).
     *
     * @param node         the publisher's cluster node.
     * @param log          its replication log (opened; empty or ending at or below {@code startAfter}).
     * @param tailCapacity transactions kept in memory for live subscribers.
     * @param snapshots    full syncs, or null.
     * @param startAfter   the position the stream continues after.
     * @param epoch        this publisher's epoch without a membership quorum (1 for the first; a promotion takes
     *                     the next): subscribers reject a stream of an older epoch, and a subscriber of a newer one
     *                     fences this publisher. With a quorum the node claims the primary role from it instead
     *                     ({@link ClusterNode#claimPrimary}) and publishes under the epoch the quorum commits.
     * @throws IllegalStateException with a quorum, when another primary is alive or the node holds no lease.
     */
    public Publisher(final ClusterNode node, final ReplicationLog log, final int tailCapacity,
        final SnapshotSource snapshots, final long startAfter, final long epoch)
    {
        if (epoch < 1)
        {
            throw new IllegalArgumentException("invalid epoch: " + epoch + " (accepted: >= 1)");
        }
        this.quorum = node.config().quorumMembership();
        this.epoch = quorum ? claimPrimary(node) : epoch;
        this.epochStart = startAfter;
        this.snapshots = snapshots;
        this.snapshotThread = java.util.concurrent.Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, "fusion-replication-snapshot-" + node.nodeId());
            t.setDaemon(true);
            return t;
        });
        this.node = node;
        this.log = log;
        this.tailCapacity = tailCapacity;
        this.tailFloor = Math.max(log.lastPosition(), startAfter);
        this.lastPublished = Math.max(log.lastPosition(), startAfter);
        this.sender = new Thread(this::send, "fusion-replication-sender-" + node.nodeId());
        this.sender.setDaemon(true);
        node.registerHandler(StreamMessages.SUBSCRIBE, (source, type, buffer, offset, length) ->
        {
            if (length != 20)
            {
                LOG.log(System.Logger.Level.WARNING, "bad SUBSCRIBE from node " + source + ": " + length + " bytes");
                return;
            }
            final long from = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            final int window = buffer.getInt(offset + 8, ByteOrder.LITTLE_ENDIAN);
            final long subscriberEpoch = buffer.getLong(offset + 12, ByteOrder.LITTLE_ENDIAN);
            if (subscriberEpoch > epoch)
            {
                if (!fenced)
                {
                    LOG.log(System.Logger.Level.ERROR, "node " + node.nodeId() + ": node " + source + " follows " +
                        "epoch " + subscriberEpoch + ", this publisher's is " + epoch + ": another node was " +
                        "promoted; this one is fenced and must rejoin as a subscriber (through a resync)");
                }
                fenced = true;
                return;
            }
            final boolean diverged = subscriberEpoch > 0 && subscriberEpoch < epoch && from > epochStart;
            final Resubscribe request = new Resubscribe(from, diverged);
            // the sender thread applies a resubscription itself, so it never races with its own progress
            final Subscription subscription = subscribers.computeIfAbsent(source,
                id -> new Subscription(id, request, Math.max(1, window)));
            if (diverged)
            {
                // e.g. the old publisher rejoining: what it committed after epochStart never reached the node
                // promoted in its place, which has published other transactions at those positions since
                LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": node " + source + " resumes after " +
                    "position " + from + " of epoch " + subscriberEpoch + ", past position " + epochStart + " where " +
                    "epoch " + epoch + " took over: its state may hold transactions this history never had; it " +
                    "needs a full sync");
            }
            subscription.window = Math.max(1, window);
            subscription.resubscribe.set(request);
            if (!snapshotFiles.isEmpty() && running)
            {
                // subscribing after a snapshot's position: it is loaded, its file no longer needed
                snapshotThread.execute(() -> dropSnapshots(source, from));
            }
            LockSupport.unpark(sender);
            LOG.log(System.Logger.Level.INFO, "node " + source + " subscribes after position " + from);
        });
        node.registerHandler(StreamMessages.ACK, (source, type, buffer, offset, length) ->
        {
            final Subscription s = subscribers.get(source);
            if (length != 24)
            {
                LOG.log(System.Logger.Level.WARNING, "bad ACK from node " + source + ": " + length + " bytes");
            }
            else if (null != s)
            {
                s.received = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
                s.applied = buffer.getLong(offset + 8, ByteOrder.LITTLE_ENDIAN);
                LockSupport.unpark(sender);
                if (!waiters.isEmpty())
                {
                    checkWaiters(false);
                }
            }
        });
        node.registerHandler(StreamMessages.FULL_SYNC, (source, type, buffer, offset, length) ->
        {
            final int window = length == StreamMessages.FULL_SYNC_LENGTH ?
                buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN) : 0;
            if (window < 1)
            {
                LOG.log(System.Logger.Level.WARNING, "bad FULL_SYNC from node " + source + ": " + length + " bytes");
            }
            else if (running && snapshotting.add(source))
            {
                snapshotThread.execute(() -> sendSnapshot(source, window));
            }
        });
        node.registerHandler(StreamMessages.RESEND, (source, type, buffer, offset, length) ->
        {
            if (length != StreamMessages.RESEND_LENGTH)
            {
                LOG.log(System.Logger.Level.WARNING, "bad RESEND from node " + source + ": " + length + " bytes");
                return;
            }
            final long id = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            final int from = buffer.getInt(offset + 8, ByteOrder.LITTLE_ENDIAN);
            final int to = buffer.getInt(offset + 12, ByteOrder.LITTLE_ENDIAN);
            if (running && from >= 0 && from < to)
            {
                snapshotThread.execute(() -> sendChunks(source, id, from, to));
            }
        });
        sender.start();
    }

    /**
     * Takes a snapshot into a file and sends its first window of CRC-checked chunks; the subscriber asks for the
     * rest as it takes them (and again for any that never arrived). Runs on the snapshot thread.
     */
    private void sendSnapshot(final int subscriber, final int window)
    {
        try
        {
            if (null == snapshots)
            {
                LOG.log(System.Logger.Level.ERROR, "node " + subscriber + " asked for a full sync, but this " +
                    "publisher has no SnapshotSource");
                return;
            }
            dropSnapshots(subscriber, Long.MAX_VALUE); // asked again: the chunks of an older one are not wanted
            final java.nio.file.Path file = java.nio.file.Files.createTempFile("fusion-snapshot-", ".bin");
            final long position;
            try (java.io.OutputStream out = new java.io.BufferedOutputStream(java.nio.file.Files.newOutputStream(file)))
            {
                position = snapshots.write(out);
            }
            final long size = java.nio.file.Files.size(file);
            final long chunks = Math.max(1, (size + StreamMessages.CHUNK_BYTES - 1) / StreamMessages.CHUNK_BYTES);
            if (chunks > Integer.MAX_VALUE)
            {
                java.nio.file.Files.deleteIfExists(file);
                throw new java.io.IOException("a snapshot of " + size + " bytes needs more than " + Integer.MAX_VALUE +
                    " chunks");
            }
            final long id = System.nanoTime();
            final Snapshot snapshot = new Snapshot(file, position, subscriber, size, (int)chunks);
            snapshotFiles.put(id, snapshot);
            LOG.log(System.Logger.Level.INFO, "full sync of node " + subscriber + ": snapshot at position " +
                position + ", " + size + " bytes in " + chunks + " chunks");
            sendChunks(subscriber, id, snapshot, 0, Math.min(window, snapshot.count()));
        }
        catch (final java.io.IOException | RuntimeException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "full sync of node " + subscriber + " failed", ex);
        }
        finally
        {
            snapshotting.remove(subscriber);
        }
    }

    /** On the snapshot thread: deletes a subscriber's snapshot files taken at or before a position. */
    private void dropSnapshots(final int subscriber, final long upTo)
    {
        snapshotFiles.entrySet().removeIf(e ->
        {
            final Snapshot snapshot = e.getValue();
            if (snapshot.subscriber() != subscriber || snapshot.position() > upTo)
            {
                return false;
            }
            try
            {
                java.nio.file.Files.deleteIfExists(snapshot.file());
            }
            catch (final java.io.IOException ex)
            {
                LOG.log(System.Logger.Level.WARNING, "could not delete snapshot file " + snapshot.file(), ex);
            }
            return true;
        });
    }

    /** @return snapshot files kept for chunk resends (each until its subscriber has loaded it). */
    public int snapshotsKept()
    {
        return snapshotFiles.size();
    }

    /** On the snapshot thread: sends the chunks a subscriber asked for, if the snapshot is still kept. */
    private void sendChunks(final int subscriber, final long id, final int from, final int to)
    {
        final Snapshot snapshot = snapshotFiles.get(id);
        if (null == snapshot || snapshot.subscriber() != subscriber)
        {
            return; // replaced by a newer one: the subscriber gives up on this one and asks for a full sync again
        }
        try
        {
            sendChunks(subscriber, id, snapshot, from, Math.min(to, snapshot.count()));
        }
        catch (final java.io.IOException ex)
        {
            LOG.log(System.Logger.Level.ERROR, "sending chunks " + from + ".." + (to - 1) + " of snapshot " + id +
                " to node " + subscriber + " failed", ex);
        }
    }

    private void sendChunks(final int subscriber, final long id, final Snapshot snapshot, final int from,
        final int to) throws java.io.IOException
    {
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(snapshot.file()))
        {
            for (int index = from; index < to; index++)
            {
                final long at = (long)index * StreamMessages.CHUNK_BYTES;
                final int size = (int)Math.min(StreamMessages.CHUNK_BYTES, snapshot.size() - at);
                final java.nio.ByteBuffer data = chunkData;
                data.limit(StreamMessages.CHUNK_HEADER + size).position(StreamMessages.CHUNK_HEADER);
                while (data.hasRemaining())
                {
                    if (channel.read(data, at + data.position() - StreamMessages.CHUNK_HEADER) < 0)
                    {
                        throw new java.io.EOFException("snapshot file " + snapshot.file() + " ends before " +
                            snapshot.size() + " bytes");
                    }
                }
                StreamMessages.putChunkHeader(chunk, chunkCrc, id, snapshot.position(), index, snapshot.count(), size);
                while (!node.send(subscriber, StreamMessages.CHUNK, Priority.NORMAL, chunk, 0,
                    StreamMessages.CHUNK_HEADER + size))
                {
                    if (!running || !node.view().contains(subscriber))
                    {
                        return; // the subscriber asks again for what it lacks
                    }
                    LockSupport.parkNanos(100_000);
                }
            }
        }
    }

    /**
     * Throws unless this node may publish now: it holds its lease and, with a membership quorum, the quorum's
     * newest view still names it the primary of this publisher's epoch. A primary cut off from the quorum refuses
     * writes before the majority may promote another, and once another is promoted it refuses them for good. Two
     * local reads; no message.
     *
     * @throws IllegalStateException when it may not.
     */
    public void checkLease()
    {
        if (!node.hasLease())
        {
            throw new IllegalStateException("node " + node.nodeId() + " holds no lease from the membership quorum " +
                "(cut off from a majority of the voters, or declared dead): it publishes nothing");
        }
        if (quorum)
        {
            final Primary primary = node.primary();
            if (!primary.is(node.nodeId(), epoch))
            {
                throw new IllegalStateException("node " + node.nodeId() + " is no longer the primary: the quorum " +
                    "committed node " + primary.nodeId() + " as the primary of epoch " + primary.epoch() + ", this " +
                    "publisher's epoch is " + epoch + "; it publishes nothing and must rejoin as a subscriber");
            }
        }
    }

    private static long claimPrimary(final ClusterNode node)
    {
        final long timeoutMs = 2 * TimeUnit.NANOSECONDS.toMillis(node.config().leaseNs());
        try
        {
            if (!node.awaitLease(timeoutMs))
            {
                throw new IllegalStateException("node " + node.nodeId() + " holds no lease after " + timeoutMs +
                    " ms: it cannot become the primary");
            }
            return node.claimPrimary(timeoutMs);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while node " + node.nodeId() + " claimed the primary role",
                ex);
        }
    }

    /**
     * Called by the engine after a commit, in commit order (one thread at a time).
     *
     * @param txn the committed transaction.
     * @throws IllegalStateException when this node holds no lease from the membership quorum (cut off from a
     *                               majority, paused past its lease, or declared dead): it may no longer act as
     *                               the primary, and nothing is published.
     */
    public void publish(final Transaction txn)
    {
        checkLease();
        log.append(txn);
        tail.put(txn.position(), new Published(txn, lastPublished));
        lastPublished = txn.position();
        while (tail.size() > tailCapacity)
        {
            tailFloor = tail.pollFirstEntry().getKey();
        }
        LockSupport.unpark(sender);
    }

    /**
     * Publishes and waits, asynchronously, for the subscribers the policy requires to acknowledge it.
     *
     * @param txn    the committed transaction (in commit order, one thread at a time, like {@link #publish}).
     * @param policy the level, the ack point, the timeout and the configured subscribers.
     * @return completes when the level is met or the timeout passes (never exceptionally), on a transport or
     * timer thread.
     */
    public java.util.concurrent.CompletableFuture<CommitResult> publish(final Transaction txn,
        final CommitPolicy policy)
    {
        publish(txn);
        final Waiter w = new Waiter(txn.position(), policy, System.nanoTime());
        if (policy.level() == CommitLevel.ASYNC)
        {
            w.future.complete(new CommitResult(CommitOutcome.TARGET_ACHIEVED, txn.position(), Set.of(), 0));
            return w.future;
        }
        waiters.computeIfAbsent(policy, k -> new java.util.concurrent.ConcurrentLinkedQueue<>()).add(w);
        checkWaiters(false);
        if (!w.future.isDone())
        {
            timer.schedule(() -> finish(w, true), policy.timeout().toNanos(), TimeUnit.NANOSECONDS);
        }
        return w.future;
    }

    /** A synchronous commit waiting for acknowledgements. */
    private static final class Waiter
    {
        final long position;
        final CommitPolicy policy;
        final long startNs;
        final java.util.concurrent.CompletableFuture<CommitResult> future =
            new java.util.concurrent.CompletableFuture<>();

        Waiter(final long position, final CommitPolicy policy, final long startNs)
        {
            this.position = position;
            this.policy = policy;
            this.startNs = startNs;
        }
    }

    /**
     * Completes the waiters whose level is met, oldest first. Each policy's waiters are in position order and a
     * subscriber's acknowledged position only grows, so once one waiter of a policy is not met, no later one of that
     * policy is: each queue is walked from its head to its first unmet waiter, and a commit or an ACK costs
     * O(policies + completed) rather than O(waiters) (thousands when a required subscriber is slow; this runs on the
     * transport thread for ACKs). Waiters completed by their timeout leave when they reach the head (the timeout is
     * the policy's, so they time out in order).
     */
    private void checkWaiters(final boolean timedOut)
    {
        for (final java.util.concurrent.ConcurrentLinkedQueue<Waiter> queue : waiters.values())
        {
            Waiter w;
            while (null != (w = queue.peek()))
            {
                if (!w.future.isDone() && !finish(w, timedOut))
                {
                    break;
                }
                queue.remove(w); // the head, unless a concurrent walk took it first
            }
        }
    }

    /**
     * Completes a waiter when its level is met, or at its timeout with what it has.
     *
     * @return whether it is complete (the caller removes it; one that timed out is removed by the next walk).
     */
    private boolean finish(final Waiter w, final boolean timedOut)
    {
        if (w.future.isDone())
        {
            return true;
        }
        final Set<Integer> acked = new java.util.TreeSet<>();
        boolean anySubscribed = false;
        for (final int id : w.policy.subscribers())
        {
            final Subscription s = subscribers.get(id);
            if (null == s)
            {
                continue;
            }
            anySubscribed = true;
            final long covered = w.policy.ackPoint() == AckPoint.RECEIVED ? s.received : s.applied;
            if (covered >= w.position)
            {
                acked.add(id);
            }
        }
        final CommitOutcome outcome;
        if (acked.size() >= w.policy.target() && w.policy.target() > 0)
        {
            outcome = w.policy.level() == CommitLevel.QUORUM ? CommitOutcome.QUORUM_ACHIEVED :
                CommitOutcome.TARGET_ACHIEVED;
        }
        else if (!timedOut)
        {
            return false;
        }
        else if (!anySubscribed)
        {
            outcome = CommitOutcome.NO_REPLICATION;
        }
        else if (acked.size() >= w.policy.quorumSize() && w.policy.level() != CommitLevel.ONE)
        {
            outcome = CommitOutcome.QUORUM_ACHIEVED;
        }
        else
        {
            outcome = CommitOutcome.BELOW_QUORUM;
        }
        w.future.complete(new CommitResult(outcome, w.position, Set.copyOf(acked),
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - w.startNs)));
        return true;
    }

    /** @return the last position published. */
    public long position()
    {
        return log.lastPosition();
    }

    /**
     * Waits until the log holds every transaction up to {@code position} on disk: at once with
     * {@link Durability#OS}; with {@link Durability#FSYNC}, threads that published in turn and then wait share
     * fsyncs (group commit). {@link #publish} itself does not wait, so the engine's commit threads can publish one
     * at a time in commit order and wait together.
     *
     * @param position a published position.
     */
    public void awaitDurable(final long position)
    {
        log.awaitDurable(position);
    }

    /**
     * Forces the log to disk.
     *
     * @return a position every transaction up to which is on disk now.
     */
    public long sync()
    {
        final long position = log.lastPosition();
        log.sync();
        return position;
    }

    /**
     * @param subscriber a subscriber's node id.
     * @return the watermark it last acknowledged as applied, or -1 when unknown.
     */
    public long appliedBy(final int subscriber)
    {
        final Subscription s = subscribers.get(subscriber);
        return null == s ? -1 : s.applied;
    }

    /**
     * What the publisher knows of each subscriber, from their acknowledgements: the cluster-wide lag view.
     *
     * @return by subscriber node id: {sent up to, received (acknowledged), applied (acknowledged), full sync needed 0/1}.
     */
    public java.util.Map<Integer, long[]> subscriptions()
    {
        final java.util.Map<Integer, long[]> view = new java.util.TreeMap<>();
        subscribers.forEach((id, s) -> view.put(id, new long[]{s.sentUpTo, s.received, s.applied,
            s.needsFullSync ? 1 : 0}));
        return view;
    }

    /** @return this publisher's epoch. */
    public long epoch()
    {
        return epoch;
    }

    /** @return whether a subscriber of a newer epoch was seen: another node was promoted in this one's place. */
    public boolean fenced()
    {
        return fenced;
    }

    /** @return this publisher's node. */
    public ClusterNode node()
    {
        return node;
    }

    private void send()
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(4096);
        while (running)
        {
            boolean progressed = false;
            for (final Subscription s : subscribers.values())
            {
                try
                {
                    progressed |= serve(s, buffer);
                }
                catch (final RuntimeException ex)
                {
                    LOG.log(System.Logger.Level.ERROR, "streaming to node " + s.node + " failed; retrying", ex);
                    LockSupport.parkNanos(100_000_000);
                }
            }
            if (!progressed)
            {
                LockSupport.parkNanos(200_000);
            }
        }
    }

    /** Applies a pending resubscription, then streams to one subscriber if it is behind. */
    private boolean serve(final Subscription s, final ExpandableArrayBuffer buffer)
    {
        final Resubscribe request = s.resubscribe.getAndSet(null);
        if (null != request)
        {
            s.sentUpTo = request.from();
            s.unacked.clear();
            s.needsFullSync = false;
            if (request.diverged())
            {
                s.needsFullSync = true;
                notRetained(s.node, epochStart);
                return false;
            }
        }
        if (!node.view().contains(s.node) || s.needsFullSync || s.sentUpTo >= log.lastPosition() || !hasCredit(s))
        {
            return false; // no credit: a replay would read the log only to stop at its first record
        }
        return catchUp(s, buffer);
    }

    /** @return whether the subscriber's queue has room for another transaction (acknowledged ones dropped). */
    private static boolean hasCredit(final Subscription s)
    {
        if (s.unacked.size() >= s.window)
        {
            final long received = s.received;
            while (!s.unacked.isEmpty() && s.unacked.peekLong() <= received)
            {
                s.unacked.pollLong();
            }
        }
        return s.unacked.size() < s.window;
    }

    /** Streams to one subscriber until it is current or its queue is full. */
    private boolean catchUp(final Subscription s, final ExpandableArrayBuffer buffer)
    {
        final long from = s.sentUpTo;
        try
        {
            boolean continuous = from >= tailFloor;
            if (continuous)
            {
                // the tail may lose its oldest entries while this iterates: every entry sent must follow the
                // last one sent exactly, else fall back to the log, which is contiguous
                for (final Published p : tail.tailMap(from, false).values())
                {
                    if (p.previous() != s.sentUpTo)
                    {
                        continuous = false;
                        break;
                    }
                    if (!sendOne(s, p.txn(), buffer))
                    {
                        break;
                    }
                }
            }
            if (!continuous)
            {
                log.replay(s.sentUpTo, txn ->
                {
                    if (!sendOne(s, txn, buffer))
                    {
                        throw new Backpressure();
                    }
                });
            }
        }
        catch (final Backpressure ignore)
        {
            // resume from s.sentUpTo next round
        }
        catch (final NotRetainedException ex)
        {
            s.needsFullSync = true;
            notRetained(s.node, ex.retainedAfter());
            LOG.log(System.Logger.Level.WARNING, "node " + s.node + ": " + ex.getMessage());
        }
        return s.sentUpTo != from;
    }

    /** Tells a subscriber it needs a full sync; the epoch goes with it, so the snapshot's history is known. */
    private void notRetained(final int subscriber, final long retainedAfter)
    {
        final UnsafeBuffer message = new UnsafeBuffer(new byte[16]);
        message.putLong(0, retainedAfter, ByteOrder.LITTLE_ENDIAN);
        message.putLong(8, epoch, ByteOrder.LITTLE_ENDIAN);
        node.send(subscriber, StreamMessages.NOT_RETAINED, Priority.HIGH, message, 0, 16);
    }

    private boolean sendOne(final Subscription s, final Transaction txn, final ExpandableArrayBuffer buffer)
    {
        if (txn.position() <= s.sentUpTo)
        {
            return true;
        }
        if (!hasCredit(s))
        {
            return false;
        }
        buffer.putLong(0, epoch, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(8, s.sentUpTo, ByteOrder.LITTLE_ENDIAN);
        final int length = 16 + TransactionCodec.encode(txn, buffer, 16);
        final int maxMessage = node.config().maxMessageLength();
        if (length <= maxMessage)
        {
            if (!node.send(s.node, StreamMessages.TXN, Priority.NORMAL, buffer, 0, length))
            {
                return false;
            }
        }
        else if (!sendParts(s.node, buffer, length, maxMessage - StreamMessages.PART_HEADER))
        {
            return false;
        }
        else
        {
            largeTransactions.incrementAndGet();
        }
        s.sentUpTo = txn.position();
        s.unacked.addLong(txn.position());
        return true;
    }

    /**
     * Sends a transaction too large for one message as parts, all or nothing: parts go only when the
     * subscriber's queue for this priority has room, checked part by part; a part refused mid-way makes the
     * whole transaction go again later (the subscriber drops an incomplete one).
     */
    private boolean sendParts(final int subscriber, final ExpandableArrayBuffer payload, final int length,
        final int partBytes)
    {
        final int count = (length + partBytes - 1) / partBytes;
        final ExpandableArrayBuffer part = new ExpandableArrayBuffer(partBytes + StreamMessages.PART_HEADER);
        for (int index = 0; index < count; index++)
        {
            final int offset = index * partBytes;
            final int bytes = Math.min(partBytes, length - offset);
            part.putInt(0, index, ByteOrder.LITTLE_ENDIAN);
            part.putInt(4, count, ByteOrder.LITTLE_ENDIAN);
            part.putBytes(StreamMessages.PART_HEADER, payload, offset, bytes);
            while (!node.send(subscriber, StreamMessages.TXN_PART, Priority.NORMAL, part, 0,
                StreamMessages.PART_HEADER + bytes))
            {
                if (!running || !node.view().contains(subscriber))
                {
                    return false;
                }
                LockSupport.parkNanos(50_000);
            }
        }
        return true;
    }

    /** @return transactions sent in parts because they were larger than one message. */
    public long largeTransactions()
    {
        return largeTransactions.get();
    }

    /** Unwinds a replay when the subscriber's queue is full. */
    private static final class Backpressure extends RuntimeException
    {
        Backpressure()
        {
            super(null, null, false, false);
        }
    }

    @Override
    public void close() throws InterruptedException
    {
        running = false;
        LockSupport.unpark(sender);
        sender.join(5000);
        snapshotThread.shutdownNow();
        timer.shutdownNow();
        checkWaiters(true); // nothing more will be acknowledged here: report what was
        for (final Snapshot snapshot : snapshotFiles.values())
        {
            try
            {
                java.nio.file.Files.deleteIfExists(snapshot.file());
            }
            catch (final java.io.IOException ignore)
            {
                // a temp file
            }
        }
    }
}
