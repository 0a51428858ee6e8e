package dev.fusion.replication;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.Priority;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The subscribing side: tells the publisher its applied watermark, receives the stream, checks that every
 * transaction follows the previous one it received (a gap means a message was dropped: it resubscribes from
 * what it has rather than apply past a hole), and feeds a {@link ParallelApplier}. The transport thread only
 * copies messages into a bounded queue; a receiver thread decodes and submits them. It resubscribes when the
 * publisher (re)joins the view, and while nothing arrives with a backoff from 100 ms to 5 s, and acknowledges
 * received and applied positions periodically.
 */
public final class Subscriber implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(Subscriber.class.getName());
    private static final long ACK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long RESUBSCRIBE_MIN_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long RESUBSCRIBE_MAX_NS = TimeUnit.SECONDS.toNanos(5);
    /** The largest transaction accepted in parts (one memory mapping); a larger one is dropped and logged. */
    private static final long MAX_TRANSACTION_BYTES = 1L << 30;
    /** Default size above which a transaction arriving in parts is spilled to a file instead of the heap. */
    public static final long DEFAULT_SPILL_THRESHOLD = 64L << 20;
    /** Default largest snapshot a full sync accepts: it bounds the chunk count a chunk header may announce. */
    public static final long DEFAULT_MAX_SNAPSHOT_BYTES = 1L << 40;
    /** A snapshot transfer that received nothing for this long asks again for the chunks it lacks. */
    private static final long CHUNK_QUIET_NS = TimeUnit.MILLISECONDS.toNanos(250);
    /** Quiet intervals in a row after which a transfer is given up and a new full sync asked for. */
    private static final int CHUNK_QUIET_ROUNDS = 20;
    /** Chunks asked for and not yet received, at most (each one message in the receive queue). */
    private static final int MAX_CHUNK_WINDOW = 64;
    private static final long FULL_SYNC_RETRY_MIN_NS = TimeUnit.SECONDS.toNanos(5);
    private static final long FULL_SYNC_RETRY_MAX_NS = TimeUnit.SECONDS.toNanos(60);
    private static final long RESTART_MIN_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long RESTART_MAX_NS = TimeUnit.SECONDS.toNanos(10);
    /** A receiver that ran this long before it failed restarts after the shortest back-off again. */
    private static final long RESTART_RESET_NS = TimeUnit.SECONDS.toNanos(60);
    private static final long BAD_CHUNK_LOG_NS = TimeUnit.SECONDS.toNanos(1);

    private final ClusterNode node;
    private volatile int publisher;
    private final WriteGuard guard;
    private volatile boolean promoted;
    /** The newest publisher epoch seen: streams of older epochs are rejected. */
    private volatile long epoch;
    private final AtomicLong fencedMessages = new AtomicLong();
    private final ParallelApplier applier;
    private final BlockingQueue<Incoming> queue;
    private final int queueCapacity;
    private final SnapshotSink snapshots;
    // the snapshot transfer (receiver thread only): chunks go to a file as they arrive
    private java.nio.channels.FileChannel chunkFile;
    private Path chunkPath;
    private final java.util.BitSet chunksHave = new java.util.BitSet();
    private long chunksId;
    /** The transfer last given up: its late chunks must not start it again. */
    private long abandonedId;
    private long chunksPosition;
    private int chunksCount;
    private int chunksMissing;
    /** Chunks 0..chunksAsked-1 were asked for (the first window by FULL_SYNC, the rest by RESEND). */
    private int chunksAsked;
    private long lastChunkNs;
    private int quietRounds;
    private final int chunkWindow;
    private final java.util.zip.CRC32 chunkCrc = new java.util.zip.CRC32();
    private final UnsafeBuffer chunkRequest = new UnsafeBuffer(new byte[StreamMessages.RESEND_LENGTH]);
    private volatile boolean transferring;
    private volatile long maxSnapshotBytes = DEFAULT_MAX_SNAPSHOT_BYTES;
    private boolean fullSyncAsked;
    private long fullSyncRequestedNs;
    private long fullSyncRetryNs = FULL_SYNC_RETRY_MIN_NS;
    private long lastBadChunkLogNs;
    private long badChunksLogged;
    private final AtomicLong receiverFailures = new AtomicLong();
    private volatile Throwable lastReceiverFailure;
    private final Thread receiver;
    private final AtomicLong gaps = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong largeTransactions = new AtomicLong();
    private final AtomicLong malformed = new AtomicLong();
    /** A transaction in parts is assembled on the transport thread; only whole ones are queued. */
    private final org.agrona.ExpandableArrayBuffer assembly = new org.agrona.ExpandableArrayBuffer(1 << 16);
    private int assemblyLength;
    private int assemblyNext = -1;
    private final AtomicLong fullSyncs = new AtomicLong();
    private final AtomicLong badChunks = new AtomicLong();
    private volatile long lastReceived;
    /** Received and not yet applied: {position, source commit ms, encoded bytes}, oldest first (lag figures). */
    private final java.util.concurrent.ConcurrentLinkedQueue<long[]> pending =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile long lastHeardMs;
    private volatile long lastReceivedCommitMs;
    private volatile long lastReceivedAtMs;
    private final AtomicLong receivedBytes = new AtomicLong();
    private volatile boolean resubscribe = true;
    private volatile boolean fullSyncNeeded;
    /** When the transport last handed over a message (the receiver may be busy applying meanwhile). */
    private volatile long lastArrivalNs;
    /** The epoch of the publisher that asked for the full sync. */
    private volatile long snapshotEpoch;
    private volatile boolean running = true;

    /**
     * @param node      the subscriber's cluster node.
     * @param publisher the publisher's node id.
     * @param applier   applies what arrives; its start watermark is where the stream resumes.
     * @param queueSize transactions buffered between the transport and the applier.
     */
    public Subscriber(final ClusterNode node, final int publisher, final ParallelApplier applier, final int queueSize)
    {
        this(node, publisher, applier, queueSize, null);
    }

    /** A message from the transport, copied. */
    private record Incoming(int type, byte[] bytes, java.nio.ByteBuffer spilled)
    {
        Incoming(final int type, final byte[] bytes)
        {
            this(type, bytes, null);
        }
    }

    // spilling of large transactions (the transport's thread assembles parts)
    private volatile long spillThreshold = DEFAULT_SPILL_THRESHOLD;
    private volatile Path spillDirectory = Path.of(System.getProperty("java.io.tmpdir"));
    private final AtomicLong spilledTransactions = new AtomicLong();
    private java.nio.channels.FileChannel spill;
    private Path spillFile;
    private final byte[] spillScratch = new byte[64 << 10];

    /**
     * Where and above which size a transaction arriving in parts is assembled in a file instead of the heap; it is
     * then mapped, decoded change by change as it is applied (never whole on the heap), applied alone as a barrier
     * (one worker), counted, and its file deleted as soon as it is mapped.
     *
     * @param directory      where spill files go (created if missing).
     * @param thresholdBytes the size above which a transaction spills (>= 64 KiB).
     * @return this subscriber.
     */
    public Subscriber spillLargeTransactions(final Path directory, final long thresholdBytes)
    {
        if (thresholdBytes < 64 << 10 || thresholdBytes > MAX_TRANSACTION_BYTES)
        {
            throw new IllegalArgumentException("invalid spill threshold: " + thresholdBytes + " bytes (accepted: " +
                (64 << 10) + ".." + MAX_TRANSACTION_BYTES + ")");
        }
        try
        {
            java.nio.file.Files.createDirectories(directory);
        }
        catch (final java.io.IOException ex)
        {
            throw new IllegalArgumentException("spill directory " + directory + " cannot be created: " + ex, ex);
        }
        this.spillDirectory = directory;
        this.spillThreshold = thresholdBytes;
        return this;
    }

    /** @return transactions spilled to disk on arrival (see {@link #spillLargeTransactions}). */
    public long spilledTransactions()
    {
        return spilledTransactions.get();
    }

    private void discardSpill()
    {
        if (null != spill)
        {
            closeAndDelete(spill, spillFile, "spill file");
            spill = null;
        }
    }

    /** Appends a part to the spill file, opening it (with what was assembled so far) first. */
    private void spillPart(final DirectBuffer buffer, final int offset, final int bytes) throws java.io.IOException
    {
        if (null == spill)
        {
            spillFile = java.nio.file.Files.createTempFile(spillDirectory, "fusion-spill-" + node.nodeId() + "-",
                ".txn");
            spillFile.toFile().deleteOnExit(); // a transaction cut off by a close leaves no file behind the process
            spill = java.nio.channels.FileChannel.open(spillFile, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.READ);
            write(java.nio.ByteBuffer.wrap(assembly.byteArray(), 0, assemblyLength)); // what came before the spill
        }
        for (int at = 0; at < bytes; at += spillScratch.length)
        {
            final int n = Math.min(spillScratch.length, bytes - at);
            buffer.getBytes(offset + at, spillScratch, 0, n);
            write(java.nio.ByteBuffer.wrap(spillScratch, 0, n));
        }
    }

    private void write(final java.nio.ByteBuffer b) throws java.io.IOException
    {
        while (b.hasRemaining())
        {
            spill.write(b);
        }
    }

    /**
     * @param node      the subscriber's cluster node.
     * @param publisher the publisher's node id.
     * @param applier   applies what arrives; its start watermark is where the stream resumes.
     * @param queueSize transactions buffered between the transport and the applier.
     * @param snapshots loads a full sync, or null to only report that one is needed.
     */
    public Subscriber(final ClusterNode node, final int publisher, final ParallelApplier applier, final int queueSize,
        final SnapshotSink snapshots)
    {
        this(node, publisher, applier, queueSize, snapshots, 0);
    }

    /**
     * A subscriber whose state comes from a known publisher epoch, e.g. a former publisher rejoining as a replica
     * of the node promoted in its place (pass its old {@link Publisher#epoch()}): if its state goes past the
     * position where the newer epoch took over, it may hold transactions the new history never had, and the
     * publisher answers with a full sync instead of a replay.
     *
     * @param node      the subscriber's cluster node.
     * @param publisher the publisher's node id.
     * @param applier   applies what arrives; its start watermark is where the stream resumes.
     * @param queueSize transactions buffered between the transport and the applier.
     * @param snapshots loads a full sync, or null to only report that one is needed.
     * @param epoch     the publisher epoch the applied state comes from; 0 when unknown (the position is trusted).
     */
    public Subscriber(final ClusterNode node, final int publisher, final ParallelApplier applier, final int queueSize,
        final SnapshotSink snapshots, final long epoch)
    {
        if (epoch < 0)
        {
            throw new IllegalArgumentException("invalid epoch: " + epoch + " (accepted: >= 0, 0 = unknown)");
        }
        this.epoch = epoch;
        this.snapshots = snapshots;
        this.node = node;
        this.publisher = publisher;
        this.guard = new WriteGuard(node.nodeId(), publisher);
        this.applier = applier;
        this.queue = new ArrayBlockingQueue<>(queueSize);
        this.queueCapacity = queueSize;
        this.chunkWindow = Math.max(1, Math.min(MAX_CHUNK_WINDOW, queueSize / 2));
        this.lastReceived = applier.watermark();
        final dev.fusion.cluster.MessageHandler enqueue = (source, type, buffer, offset, length) ->
        {
            final byte[] copy = new byte[length];
            buffer.getBytes(offset, copy);
            lastArrivalNs = System.nanoTime();
            if (promoted || source != this.publisher || !queue.offer(new Incoming(type, copy)))
            {
                dropped.incrementAndGet();
            }
        };
        node.registerHandler(StreamMessages.TXN, enqueue);
        node.registerHandler(StreamMessages.TXN_PART, (source, type, buffer, offset, length) ->
        {
            if (promoted || !running)
            {
                discardSpill(); // closed or promoted: no transaction in parts will complete here any more
                dropped.incrementAndGet();
                return;
            }
            if (source != this.publisher || length < StreamMessages.PART_HEADER)
            {
                dropped.incrementAndGet();
                return;
            }
            final int index = buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN);
            final int count = buffer.getInt(offset + 4, ByteOrder.LITTLE_ENDIAN);
            if (index == 0)
            {
                assemblyLength = 0;
                assemblyNext = 0;
                discardSpill();
            }
            final int bytes = length - StreamMessages.PART_HEADER;
            if (index != assemblyNext || count < 1 || index >= count ||
                (long)assemblyLength + bytes > MAX_TRANSACTION_BYTES)
            {
                if ((long)assemblyLength + bytes > MAX_TRANSACTION_BYTES)
                {
                    LOG.log(System.Logger.Level.ERROR, "node " + node.nodeId() + ": a transaction larger than " +
                        MAX_TRANSACTION_BYTES + " bytes was dropped: it cannot be applied here");
                }
                assemblyNext = -1;
                discardSpill();
                dropped.incrementAndGet();
                return;
            }
            if (null != spill || (long)assemblyLength + bytes > spillThreshold)
            {
                try
                {
                    spillPart(buffer, offset + StreamMessages.PART_HEADER, bytes);
                }
                catch (final java.io.IOException ex)
                {
                    // dropped: the gap makes this subscriber ask again from what it has
                    LOG.log(System.Logger.Level.ERROR, "node " + node.nodeId() + ": spilling a large transaction " +
                        "to " + spillDirectory + " failed: " + ex);
                    assemblyNext = -1;
                    discardSpill();
                    dropped.incrementAndGet();
                    return;
                }
            }
            else
            {
                assembly.putBytes(assemblyLength, buffer, offset + StreamMessages.PART_HEADER, bytes);
            }
            assemblyLength += bytes;
            assemblyNext++;
            if (assemblyNext == count)
            {
                assemblyNext = -1;
                largeTransactions.incrementAndGet();
                Incoming whole;
                if (null != spill)
                {
                    try
                    {
                        whole = new Incoming(StreamMessages.TXN, null,
                            spill.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, assemblyLength));
                        spilledTransactions.incrementAndGet();
                    }
                    catch (final java.io.IOException ex)
                    {
                        LOG.log(System.Logger.Level.ERROR, "node " + node.nodeId() + ": mapping spill file " +
                            spillFile + " failed: " + ex);
                        whole = null;
                    }
                    discardSpill(); // the mapping keeps the pages until it is collected
                }
                else
                {
                    final byte[] copy = new byte[assemblyLength];
                    assembly.getBytes(0, copy);
                    whole = new Incoming(StreamMessages.TXN, copy);
                }
                if (null == whole || !queue.offer(whole))
                {
                    dropped.incrementAndGet();
                }
            }
        });
        node.registerHandler(StreamMessages.CHUNK, enqueue);
        node.registerHandler(StreamMessages.NOT_RETAINED, (source, type, buffer, offset, length) ->
        {
            if (source != this.publisher)
            {
                dropped.incrementAndGet();
                return;
            }
            if (length >= 16)
            {
                snapshotEpoch = buffer.getLong(offset + 8, ByteOrder.LITTLE_ENDIAN);
            }
            fullSyncNeeded = true;
            LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": the publisher no longer retains " +
                "what follows position " + lastReceived + ": " + (null == snapshots ?
                "a full sync is needed (no SnapshotSink configured)" : "starting a full sync"));
        });
        node.addMembershipListener((previous, current) ->
        {
            final int p = this.publisher;
            if (current.contains(p) && !previous.contains(p))
            {
                resubscribe = true;
            }
        });
        receiver = new Thread(this::receive, "fusion-replication-receiver-" + node.nodeId());
        receiver.setDaemon(true);
        receiver.start();
    }

    /**
     * Runs the receiver; a failure is counted, kept for {@link #lastReceiverFailure()} and logged, and the receiver
     * starts again after a back-off (100 ms doubling to 10 s; reset once it ran a minute), resubscribing from what it
     * has and dropping a snapshot transfer in progress.
     */
    private void receive()
    {
        long backoffNs = RESTART_MIN_NS;
        try
        {
            while (running)
            {
                final long startedNs = System.nanoTime();
                try
                {
                    receiveUntilFailure();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    return;
                }
                catch (final RuntimeException | java.io.IOException ex)
                {
                    if (System.nanoTime() - startedNs > RESTART_RESET_NS)
                    {
                        backoffNs = RESTART_MIN_NS;
                    }
                    final long failures = receiverFailures.incrementAndGet();
                    lastReceiverFailure = ex;
                    LOG.log(System.Logger.Level.ERROR, "node " + node.nodeId() + ": replication receiver failed (" +
                        failures + " failures so far); it restarts in " + TimeUnit.NANOSECONDS.toMillis(backoffNs) +
                        " ms", ex);
                    discardTransfer();
                    fullSyncAsked = false;
                    resubscribe = true;
                    final long until = System.nanoTime() + backoffNs;
                    while (running && System.nanoTime() - until < 0)
                    {
                        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
                    }
                    backoffNs = Math.min(RESTART_MAX_NS, backoffNs * 2);
                }
            }
        }
        finally
        {
            discardTransfer();
        }
    }

    private void receiveUntilFailure() throws InterruptedException, java.io.IOException
    {
        final UnsafeBuffer view = new UnsafeBuffer(new byte[0]);
        final UnsafeBuffer control = new UnsafeBuffer(new byte[24]);
        long receivedCount = 0;
        long ackedCount = 0;
        long nextAck = 0;
        long lastSubscribe = 0;
        long lastDataNs = 0;
        long idleResubscribeNs = RESUBSCRIBE_MIN_NS;
        while (running)
        {
            final long now = System.nanoTime();
            // resubscribe on a gap, when the publisher rejoins, or when nothing came for a while (a lost
            // SUBSCRIBE or a publisher that restarted unnoticed); never merely because we are caught up, nor
            // because the applier kept this thread busy while data kept arriving (a resubscription drops
            // what is queued and in flight)
            if (!fullSyncNeeded && (resubscribe ||
                (now - lastSubscribe > idleResubscribeNs && queue.isEmpty() &&
                    now - Math.max(lastDataNs, lastArrivalNs) > idleResubscribeNs)))
            {
                // while nothing comes, ask less and less often (100 ms doubling to 5 s); data resets it
                idleResubscribeNs = resubscribe ? RESUBSCRIBE_MIN_NS :
                    Math.min(RESUBSCRIBE_MAX_NS, idleResubscribeNs * 2);
                resubscribe = false;
                lastSubscribe = now;
                queue.clear();
                receivedCount = 0;
                ackedCount = 0;
                control.putLong(0, lastReceived, ByteOrder.LITTLE_ENDIAN);
                control.putInt(8, queueCapacity, ByteOrder.LITTLE_ENDIAN);
                control.putLong(12, epoch, ByteOrder.LITTLE_ENDIAN);
                node.send(publisher, StreamMessages.SUBSCRIBE, Priority.HIGH, control, 0, 20);
            }
            if (now - nextAck >= 0 || receivedCount - ackedCount >= queueCapacity / 4)
            {
                nextAck = now + ACK_INTERVAL_NS;
                dropApplied();
                control.putLong(0, lastReceived, ByteOrder.LITTLE_ENDIAN);
                control.putLong(8, applier.watermark(), ByteOrder.LITTLE_ENDIAN);
                control.putLong(16, receivedCount, ByteOrder.LITTLE_ENDIAN);
                if (node.send(publisher, StreamMessages.ACK, Priority.HIGH, control, 0, 24))
                {
                    ackedCount = receivedCount;
                }
            }
            if (fullSyncNeeded && null != snapshots)
            {
                askForChunks(now, control);
            }
            final Incoming incoming = queue.poll(10, TimeUnit.MILLISECONDS);
            if (null != incoming)
            {
                lastHeardMs = System.currentTimeMillis();
            }
            if (null == incoming)
            {
                continue;
            }
            if (incoming.type() == StreamMessages.CHUNK)
            {
                onChunk(incoming.bytes(), now);
                continue;
            }
            lastDataNs = now;
            idleResubscribeNs = RESUBSCRIBE_MIN_NS;
            receivedCount++;
            final byte[] bytes = incoming.bytes();
            final boolean spilled = null != incoming.spilled();
            // a spilled transaction keeps its own view: its changes are decoded from it as they are applied
            final UnsafeBuffer source = spilled ? new UnsafeBuffer(incoming.spilled()) : view;
            if (!spilled)
            {
                view.wrap(bytes);
            }
            final int messageLength = spilled ? source.capacity() : bytes.length;
            final long previous;
            final long txnEpoch;
            final Transaction txn;
            try
            {
                if (messageLength < 16)
                {
                    throw new MalformedTransactionException(0, "shorter than the epoch and previous-position fields");
                }
                txnEpoch = source.getLong(0, ByteOrder.LITTLE_ENDIAN);
                previous = source.getLong(8, ByteOrder.LITTLE_ENDIAN);
                txn = spilled ? TransactionCodec.decodeLazily(source, 16, messageLength - 16) :
                    TransactionCodec.decode(source, 16, messageLength - 16);
            }
            catch (final MalformedTransactionException ex)
            {
                // counted and logged; asking again from what we have heals a corrupted or forged message
                malformed.incrementAndGet();
                resubscribe = true;
                LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": dropped a malformed " +
                    "transaction from the publisher: " + ex.getMessage());
                continue;
            }
            if (txnEpoch < epoch)
            {
                // a publisher that was replaced by a promotion: its stream is fenced
                fencedMessages.incrementAndGet();
                continue;
            }
            epoch = txnEpoch;
            if (txn.position() <= lastReceived || fullSyncNeeded)
            {
                continue;
            }
            if (previous != lastReceived)
            {
                gaps.incrementAndGet();
                resubscribe = true;
                continue;
            }
            final long nowMs = System.currentTimeMillis();
            pending.add(new long[]{txn.position(), txn.commitTimeMs(), messageLength, nowMs});
            receivedBytes.addAndGet(messageLength);
            lastReceivedCommitMs = txn.commitTimeMs();
            lastReceivedAtMs = nowMs;
            applier.submit(txn);
            lastReceived = txn.position();
        }
    }

    /**
     * During a full sync: asks for the snapshot when no transfer runs (again only after a back-off of 5 s doubling
     * to 60 s, never while chunks arrive), and when a transfer has received nothing for a quiet interval, asks again
     * for the chunks it lacks; after {@link #CHUNK_QUIET_ROUNDS} quiet intervals in a row it gives the transfer up.
     */
    private void askForChunks(final long now, final UnsafeBuffer control)
    {
        if (transferring)
        {
            if (now - lastChunkNs > CHUNK_QUIET_NS)
            {
                lastChunkNs = now;
                if (++quietRounds > CHUNK_QUIET_ROUNDS)
                {
                    LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": snapshot " + chunksId +
                        " stalled with " + chunksMissing + " of " + chunksCount + " chunks missing: asking for a new " +
                        "full sync");
                    abandonedId = chunksId;
                    discardTransfer();
                    fullSyncAsked = false;
                }
                else
                {
                    askAgainForMissing();
                }
            }
        }
        else if (!fullSyncAsked || now - fullSyncRequestedNs > fullSyncRetryNs)
        {
            if (fullSyncAsked)
            {
                fullSyncRetryNs = Math.min(FULL_SYNC_RETRY_MAX_NS, fullSyncRetryNs * 2);
            }
            control.putInt(0, chunkWindow, ByteOrder.LITTLE_ENDIAN);
            if (node.send(publisher, StreamMessages.FULL_SYNC, Priority.HIGH, control, 0,
                StreamMessages.FULL_SYNC_LENGTH))
            {
                fullSyncAsked = true;
                fullSyncRequestedNs = now;
            }
        }
    }

    /** Asks for up to a window of the chunks asked for earlier that never arrived, in runs. */
    private void askAgainForMissing()
    {
        int budget = chunkWindow;
        int from = chunksHave.nextClearBit(0);
        while (budget > 0 && from < chunksAsked)
        {
            final int nextHeld = chunksHave.nextSetBit(from);
            final int to = Math.min(Math.min(chunksAsked, from + budget), nextHeld < 0 ? chunksAsked : nextHeld);
            requestChunks(from, to);
            budget -= to - from;
            from = chunksHave.nextClearBit(to);
        }
    }

    private void requestChunks(final int from, final int to)
    {
        chunkRequest.putLong(0, chunksId, ByteOrder.LITTLE_ENDIAN);
        chunkRequest.putInt(8, from, ByteOrder.LITTLE_ENDIAN);
        chunkRequest.putInt(12, to, ByteOrder.LITTLE_ENDIAN);
        node.send(publisher, StreamMessages.RESEND, Priority.HIGH, chunkRequest, 0, StreamMessages.RESEND_LENGTH);
    }

    /**
     * Checks a chunk (its header fields bounded and, with its data, under the CRC), writes it to the transfer's file
     * at its place, asks for the next window as the current one fills, and loads the snapshot once complete. A chunk
     * that fails a check is dropped and counted: the transfer asks for it again once it goes quiet.
     */
    private void onChunk(final byte[] bytes, final long now) throws InterruptedException, java.io.IOException
    {
        if (!fullSyncNeeded || null == snapshots)
        {
            return;
        }
        if (bytes.length < StreamMessages.CHUNK_HEADER)
        {
            badChunk("shorter than its header: " + bytes.length + " bytes", now);
            return;
        }
        final UnsafeBuffer chunk = new UnsafeBuffer(bytes);
        final long id = chunk.getLong(0, ByteOrder.LITTLE_ENDIAN);
        final long position = chunk.getLong(8, ByteOrder.LITTLE_ENDIAN);
        final int index = chunk.getInt(16, ByteOrder.LITTLE_ENDIAN);
        final int count = chunk.getInt(20, ByteOrder.LITTLE_ENDIAN);
        final int size = chunk.getInt(24, ByteOrder.LITTLE_ENDIAN);
        final int crc = chunk.getInt(StreamMessages.CHUNK_CHECKED_HEADER, ByteOrder.LITTLE_ENDIAN);
        final long maxCount = (maxSnapshotBytes + StreamMessages.CHUNK_BYTES - 1) / StreamMessages.CHUNK_BYTES;
        if (size < 0 || size > StreamMessages.CHUNK_BYTES || size != bytes.length - StreamMessages.CHUNK_HEADER)
        {
            badChunk("size " + size + " in a " + bytes.length + "-byte message (accepted: 0.." +
                StreamMessages.CHUNK_BYTES + ", the data's length)", now);
            return;
        }
        if (count < 1 || count > maxCount)
        {
            badChunk("count " + count + " (accepted: 1.." + maxCount + ", from the largest snapshot accepted, " +
                maxSnapshotBytes + " bytes)", now);
            return;
        }
        if (index < 0 || index >= count || (index < count - 1 && size != StreamMessages.CHUNK_BYTES))
        {
            badChunk("index " + index + " of " + count + " with " + size + " bytes", now);
            return;
        }
        if (StreamMessages.chunkCrc(bytes, chunkCrc, size) != crc)
        {
            badChunk("CRC mismatch (chunk " + index + " of " + count + " as its header says)", now);
            return;
        }
        if (transferring && id == chunksId && (count != chunksCount || position != chunksPosition))
        {
            badChunk("count " + count + " and position " + position + " differ from the transfer's " +
                chunksCount + " and " + chunksPosition, now);
            return;
        }
        if (!transferring || id != chunksId)
        {
            if (id == abandonedId)
            {
                return;
            }
            startTransfer(id, position, count);
        }
        lastChunkNs = now;
        quietRounds = 0;
        if (chunksHave.get(index))
        {
            return;
        }
        final java.nio.ByteBuffer data = java.nio.ByteBuffer.wrap(bytes, StreamMessages.CHUNK_HEADER, size);
        final long at = (long)index * StreamMessages.CHUNK_BYTES;
        while (data.hasRemaining())
        {
            chunkFile.write(data, at + data.position() - StreamMessages.CHUNK_HEADER);
        }
        chunksHave.set(index);
        chunksMissing--;
        if (chunksMissing > 0)
        {
            final int inFlight = chunksAsked - (chunksCount - chunksMissing);
            if (chunksAsked < chunksCount && inFlight <= chunkWindow / 2)
            {
                final int to = (int)Math.min(chunksCount, (long)chunksAsked + chunkWindow - Math.max(0, inFlight));
                requestChunks(chunksAsked, to);
                chunksAsked = to;
            }
            return;
        }
        loadSnapshot();
    }

    private void startTransfer(final long id, final long position, final int count) throws java.io.IOException
    {
        discardTransfer();
        chunkPath = java.nio.file.Files.createTempFile(spillDirectory, "fusion-snapshot-" + node.nodeId() + "-",
            ".part");
        chunkPath.toFile().deleteOnExit();
        chunkFile = java.nio.channels.FileChannel.open(chunkPath, java.nio.file.StandardOpenOption.WRITE,
            java.nio.file.StandardOpenOption.READ);
        chunksId = id;
        chunksPosition = position;
        chunksCount = count;
        chunksMissing = count;
        chunksAsked = Math.min(count, chunkWindow); // the publisher sends the first window unasked
        chunksHave.clear();
        quietRounds = 0;
        fullSyncRetryNs = FULL_SYNC_RETRY_MIN_NS;
        transferring = true;
        LOG.log(System.Logger.Level.INFO, "node " + node.nodeId() + ": receiving snapshot " + id + " at position " +
            position + " in " + count + " chunks into " + chunkPath);
    }

    /** Loads a complete transfer from its file once what was received before it is applied. */
    private void loadSnapshot() throws InterruptedException, java.io.IOException
    {
        while (applier.watermark() != lastReceived && null == applier.failure())
        {
            Thread.sleep(1);
        }
        final long position = chunksPosition;
        try (java.io.InputStream in = new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(chunkPath),
            64 << 10))
        {
            snapshots.load(in, position);
        }
        discardTransfer();
        applier.resetTo(position);
        lastReceived = position;
        // the state is now the publisher's history: resubscribe as one of its epoch
        epoch = Math.max(epoch, snapshotEpoch);
        fullSyncNeeded = false;
        fullSyncAsked = false;
        fullSyncs.incrementAndGet();
        resubscribe = true;
        LOG.log(System.Logger.Level.INFO, "node " + node.nodeId() + ": full sync loaded at position " + position);
    }

    private void closeAndDelete(final java.nio.channels.FileChannel channel, final Path file, final String what)
    {
        try
        {
            channel.close();
            java.nio.file.Files.deleteIfExists(file);
        }
        catch (final java.io.IOException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": " + what + " " + file +
                " not deleted: " + ex);
        }
    }

    /** Closes and deletes the transfer's file, if any (receiver thread). */
    private void discardTransfer()
    {
        transferring = false;
        if (null == chunkFile)
        {
            return;
        }
        closeAndDelete(chunkFile, chunkPath, "snapshot file");
        chunkFile = null;
        chunksHave.clear();
    }

    /** Counts a dropped chunk and logs it, at most once a second (with how many were not logged). */
    private void badChunk(final String reason, final long now)
    {
        final long bad = badChunks.incrementAndGet();
        if (0 == badChunksLogged || now - lastBadChunkLogNs > BAD_CHUNK_LOG_NS)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + node.nodeId() + ": dropped a snapshot chunk: " + reason +
                " (" + (bad - badChunksLogged - 1) + " more dropped since the last report)");
            lastBadChunkLogNs = now;
            badChunksLogged = bad;
        }
    }

    /** @return the publisher's node id. */
    public int publisher()
    {
        return publisher;
    }

    /** @return this subscriber's node. */
    public ClusterNode node()
    {
        return node;
    }

    /** @return the applier this subscriber feeds. */
    public ParallelApplier applier()
    {
        return applier;
    }

    /** @return the position of the last transaction received (in order). */
    public long receivedPosition()
    {
        return lastReceived;
    }

    /** @return bytes of transactions received so far. */
    public long receivedBytes()
    {
        return receivedBytes.get();
    }

    /** @return when the last stream message arrived, epoch ms (0 before any). */
    public long lastHeardMs()
    {
        return lastHeardMs;
    }

    /** @return the source commit time of the last transaction received, epoch ms. */
    public long lastReceivedCommitMs()
    {
        return lastReceivedCommitMs;
    }

    /** @return when the last transaction was received, epoch ms. */
    public long lastReceivedAtMs()
    {
        return lastReceivedAtMs;
    }

    /** @return transactions waiting in the receive queue (before the applier). */
    public int queueDepth()
    {
        return queue.size();
    }

    /** @return whether a full sync is needed or running. */
    public boolean syncing()
    {
        return fullSyncNeeded || transferring;
    }

    /**
     * The receiver (the only thread that takes from {@link #pending}) drops what the applier has applied, at each
     * ACK tick: with no lag monitor reading {@link #unapplied()} the queue would otherwise grow by one entry per
     * transaction for good.
     */
    private void dropApplied()
    {
        final long watermark = applier.watermark();
        long[] head;
        while (null != (head = pending.peek()) && head[0] <= watermark)
        {
            pending.poll();
        }
    }

    /** @return entries kept for the lag figures (tests: O(n)). */
    int retainedForLag()
    {
        return pending.size();
    }

    /**
     * Received and not yet applied, oldest first (what the applier applied since the receiver's last ACK tick is
     * skipped).
     *
     * @return {count, bytes, oldest source commit ms (0 when none), when the oldest was received (epoch ms)}.
     */
    public long[] unapplied()
    {
        final long watermark = applier.watermark();
        long count = 0;
        long bytes = 0;
        long oldest = 0;
        long oldestReceived = 0;
        for (final long[] p : pending)
        {
            if (p[0] > watermark)
            {
                if (0 == count)
                {
                    oldest = p[1];
                    oldestReceived = p[3];
                }
                count++;
                bytes += p[2];
            }
        }
        return new long[]{count, bytes, oldest, oldestReceived};
    }

    /** @return stream messages that did not decode (dropped, counted, followed by a resubscription). */
    public long malformed()
    {
        return malformed.get();
    }

    /** @return transactions received in parts because they were larger than one message. */
    public long largeTransactions()
    {
        return largeTransactions.get();
    }

    /** @return full syncs completed. */
    public long fullSyncs()
    {
        return fullSyncs.get();
    }

    /**
     * @return snapshot chunks dropped because a header field was out of bounds or the CRC over header and data did
     * not match (each is asked for again when the transfer goes quiet).
     */
    public long badChunks()
    {
        return badChunks.get();
    }

    /** @return times the receiver thread failed and was restarted (see {@link #lastReceiverFailure()}). */
    public long receiverFailures()
    {
        return receiverFailures.get();
    }

    /** @return the last failure of the receiver thread, or null when it never failed. */
    public Throwable lastReceiverFailure()
    {
        return lastReceiverFailure;
    }

    /**
     * Bounds the snapshot a full sync accepts: a chunk announcing more chunks than this size needs is dropped.
     *
     * @param bytes the largest snapshot, 32 KiB .. 64 TiB (default 1 TiB).
     * @return this subscriber.
     */
    public Subscriber maxSnapshotBytes(final long bytes)
    {
        final long max = (long)StreamMessages.CHUNK_BYTES * Integer.MAX_VALUE;
        if (bytes < StreamMessages.CHUNK_BYTES || bytes > max)
        {
            throw new IllegalArgumentException("invalid largest snapshot: " + bytes + " bytes (accepted: " +
                StreamMessages.CHUNK_BYTES + ".." + max + ")");
        }
        this.maxSnapshotBytes = bytes;
        return this;
    }

    /** @return the last position received and handed to the applier. */
    public long received()
    {
        return lastReceived;
    }

    /** @return gaps detected (each triggered a resubscription). */
    public long gaps()
    {
        return gaps.get();
    }

    /** @return messages dropped because the receive queue was full (each then shows up as a gap). */
    public long dropped()
    {
        return dropped.get();
    }

    /** @return true when the publisher said it no longer has what this subscriber needs. */
    public boolean fullSyncNeeded()
    {
        return fullSyncNeeded;
    }

    @Override
    public void close() throws InterruptedException
    {
        running = false;
        receiver.join(5000);
    }

    /** @return the newest publisher epoch this subscriber has seen. */
    public long epoch()
    {
        return epoch;
    }

    /** @return stream messages rejected because they came from an older publisher epoch. */
    public long fencedMessages()
    {
        return fencedMessages.get();
    }

    /** @return the guard the engine calls before local writes: read-only while this node is a replica. */
    public WriteGuard writeGuard()
    {
        return guard;
    }

    /**
     * Follows another publisher (after a promotion elsewhere): resubscribes to it from what this node has. The
     * new publisher must have everything this node received; a node ahead of it would have to resync.
     *
     * @param newPublisher the promoted node.
     */
    public void follow(final int newPublisher)
    {
        publisher = newPublisher;
        guard.replicaOf(newPublisher);
        resubscribe = true;
        LOG.log(System.Logger.Level.INFO, "node " + node.nodeId() + ": now follows node " + newPublisher +
            " from position " + lastReceived);
    }

    /**
     * Turns this replica into the publisher: once everything it received is applied, it stops following, starts a
     * publisher whose stream continues after its applied watermark, and allows local writes. With a membership quorum the
     * promotion is the quorum's decision ({@link dev.fusion.cluster.ClusterNode#claimPrimary}): granted only once the
     * old primary is declared dead, and it takes the next primary epoch, so two replicas promoted at once cannot
     * both publish. Stream messages from
     * the old publisher are dropped from then on (the other replicas {@link #follow} this node, so the old
     * publisher, if it comes back, finds no one accepting its stream; it rejoins as a subscriber through a resync).
     *
     * @param log          the new publisher's replication log (empty or ending at or below the watermark).
     * @param tailCapacity transactions kept in memory for live subscribers.
     * @param timeoutMs    how long to wait for what was received to be applied.
     * @return the new publisher.
     * @throws IllegalStateException when the old publisher is still alive in this node's view, the quorum refuses
     *                               the promotion, or what was received is not applied in time.
     * @throws InterruptedException  when interrupted while waiting.
     */
    public Publisher promote(final ReplicationLog log, final int tailCapacity, final long timeoutMs)
        throws InterruptedException
    {
        return promote(log, tailCapacity, timeoutMs, null);
    }

    /**
     * Promotes this replica, as {@link #promote(ReplicationLog, int, long)}, with a snapshot source so the new
     * publisher can full-sync subscribers it cannot replay to (new ones, and the old publisher rejoining).
     *
     * @param log          the new publisher's replication log.
     * @param tailCapacity transactions kept in memory for live subscribers.
     * @param timeoutMs    how long to wait for what was received to be applied.
     * @param snapshots    the engine's snapshot writer, or null.
     * @return the new publisher.
     * @throws InterruptedException when interrupted while waiting.
     */
    public Publisher promote(final ReplicationLog log, final int tailCapacity, final long timeoutMs,
        final SnapshotSource snapshots) throws InterruptedException
    {
        final dev.fusion.cluster.MemberState old = node.view().state(publisher);
        if (old == dev.fusion.cluster.MemberState.ALIVE)
        {
            throw new IllegalStateException("node " + publisher + " is still alive: stop it (or wait until it is " +
                "declared dead) before promoting node " + node.nodeId());
        }
        if (node.config().quorumMembership())
        {
            node.claimPrimary(timeoutMs); // the quorum's decision, before this node stops following
        }
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!queue.isEmpty() || applier.watermark() != lastReceived)
        {
            if (System.nanoTime() - deadline > 0 || null != applier.failure())
            {
                throw new IllegalStateException("node " + node.nodeId() + " has not applied what it received (" +
                    applier.watermark() + " of " + lastReceived + "): not promoted");
            }
            Thread.sleep(1);
        }
        promoted = true;
        running = false;
        receiver.join(5000);
        final Publisher newPublisher = new Publisher(node, log, tailCapacity, snapshots, applier.watermark(),
            Math.max(1, epoch) + 1);
        guard.promoted();
        LOG.log(System.Logger.Level.INFO, "node " + node.nodeId() + " promoted: publishes after position " +
            applier.watermark() + " (was a replica of node " + publisher + ")");
        return newPublisher;
    }
}
