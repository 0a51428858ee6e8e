package dev.fusion.cluster.transport;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.DropCause;
import dev.fusion.cluster.Member;
import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import dev.fusion.cluster.Priority;
import dev.fusion.cluster.membership.FailureDetector;
import dev.fusion.cluster.membership.Membership;
import dev.fusion.cluster.membership.QuorumMembership;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The single writer of a node's transport. A duty cycle has two halves: {@link #receive} polls the control
 * stream before the bulk stream (control traffic is always served first), beats the heart and runs the failure
 * detector; {@link #send} sends queued CRITICAL messages at once and turns the HIGH, NORMAL and LOW queues into
 * adaptively sized (and, when worth it, compressed) batch frames. Application threads only write to the
 * per-peer queues through {@link #offer}.
 */
public final class TransportAgent implements Agent
{
    /** Stream id of the control stream (CRITICAL, HIGH). */
    public static final int CONTROL_STREAM_ID = 1001;
    /** Stream id of the bulk stream (NORMAL, LOW). */
    public static final int BULK_STREAM_ID = 1002;
    /** Reserved message type of a heartbeat. */
    public static final int HEARTBEAT_TYPE = 1;

    private static final Priority[] BATCHED = {Priority.HIGH, Priority.NORMAL, Priority.LOW};
    private static final int COMPRESSION_POOL = 16;
    private static final int CONTROL_FRAGMENT_LIMIT = 64;
    /**
     * Bulk bytes one receive half takes (in whole fragments, at least one): the control stream is polled again
     * only after them, so the budget is in bytes, not in fragments, whose size follows the MTU (32 at 1408).
     */
    private static final int BULK_BYTES_PER_POLL = 32 * 1408;
    private static final int CRITICAL_DRAIN_LIMIT = 64;
    /**
     * Work one duty cycle may do per (peer, priority): bounding the bytes a drain sends keeps the wait of a
     * CRITICAL message for the next cycle to about one bulk frame's copy and compression, while small
     * unbatched or lightly batched messages still go many to a cycle.
     */
    private static final int MAX_FRAMES_PER_DRAIN = 256;
    private static final int CONTROL_DRAIN_BATCHES = 4;
    private static final long DETECTOR_PERIOD_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long DROP_LOG_INTERVAL_NS = TimeUnit.SECONDS.toNanos(5);
    /** Above this share of the link's capacity the bulk stream counts as busy, and is compressed. */
    private static final double BUSY_LINK_SHARE = 0.5;
    /**
     * A bulk stream that sealed nothing for this long, with nothing queued or held back, is idle again, whatever
     * its last rate estimate said: the estimate only moves when messages arrive, so after a burst the first pages
     * would still be compressed.
     */
    private static final long BUSY_IDLE_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final ClusterConfig config;
    private final int self;
    /** Written on the agent thread only: a node that rejoins after its eviction takes a new one. */
    private volatile int incarnation;
    private volatile int nextIncarnation;
    private final TransportCounters counters;
    private final MetricsRecorder metrics;
    private final NanoClock nanoClock;
    private final EpochNanoClock epochClock;
    private final FrameCompressor compressor;
    /**
     * Large bulk messages are compressed by the thread that sends them, with buffers and LZ4 state taken from this
     * pool and given back: bounded by how many threads compress at once, not by how many ever did.
     */
    private final ManyToManyConcurrentArrayQueue<MessageCompression> compressions =
        new ManyToManyConcurrentArrayQueue<>(COMPRESSION_POOL);
    private volatile boolean closed;
    private final Membership membership;
    private final FrameReceiver receiver;
    private final DropLog dropLog;
    private final Consumer<MembershipView> viewListener;
    private final AgentInvoker driverInvoker;
    private final AgentInvoker clientInvoker;
    private final Subscription controlSubscription;
    private final Subscription bulkSubscription;
    private final FragmentAssembler controlAssembler;
    private final FragmentAssembler bulkAssembler;
    private final PeerChannel[] peers;
    private final Int2ObjectHashMap<PeerChannel> peersById = new Int2ObjectHashMap<>();
    private final FrameHeader header = new FrameHeader();
    private final BufferClaim claim = new BufferClaim();
    private final ControlledMessageHandler criticalSender = this::onCritical;
    private final ControlledMessageHandler appender = this::onAppend;

    private final int bulkFragmentLimit;
    private long nowNs;
    private long nextHeartbeatNs;
    private long nextDetectorPollNs;
    private PeerChannel current;
    private Priority currentPriority;
    private boolean appendFull;
    private int appendBytes;

    /**
     * Adds the subscriptions and the publications to every peer; blocks until the media driver has them.
     *
     * @param config       the node's config.
     * @param aeron        a connected client.
     * @param driverInvoker the embedded driver's duty cycle when it runs on this agent's thread, else null.
     * @param clientInvoker the Aeron client conductor's duty cycle when it runs on this agent's thread, else null.
     * @param incarnation  this process's incarnation, carried by every frame.
     * @param handlers     the message handlers.
     * @param counters     where to count.
     * @param metrics      where to record latencies and batch sizes.
     * @param nanoClock    monotonic time.
     * @param epochClock   wall-clock time for one-way latency.
     * @param viewListener told of each new membership view, on the agent thread.
     * @param leaseExpiryNs until when this node holds its lease, when the config has a quorum; else null.
     */
    public TransportAgent(
        final ClusterConfig config,
        final Aeron aeron,
        final AgentInvoker driverInvoker,
        final AgentInvoker clientInvoker,
        final int incarnation,
        final Handlers handlers,
        final TransportCounters counters,
        final MetricsRecorder metrics,
        final NanoClock nanoClock,
        final EpochNanoClock epochClock,
        final Consumer<MembershipView> viewListener,
        final LongSupplier leaseExpiryNs)
    {
        this.bulkFragmentLimit = Math.max(1, BULK_BYTES_PER_POLL / config.mtu());
        this.config = config;
        this.self = config.nodeId();
        this.incarnation = incarnation;
        this.nextIncarnation = incarnation;
        this.counters = counters;
        this.metrics = metrics;
        this.nanoClock = nanoClock;
        this.epochClock = epochClock;
        this.viewListener = viewListener;
        this.driverInvoker = driverInvoker;
        this.clientInvoker = clientInvoker;
        this.compressor = new FrameCompressor(
            config.compressionThreshold(), config.compressionMinSaving(), config.compressionAcceleration());
        this.dropLog = new DropLog(counters, DROP_LOG_INTERVAL_NS, self);
        this.nowNs = nanoClock.nanoTime();

        final int[] peerIds = config.members().keySet().stream().mapToInt(Integer::intValue)
            .filter(id -> id != self).toArray();
        this.membership = config.quorumMembership() ?
            new QuorumMembership(self, incarnation, config.members().keySet().stream().mapToInt(Integer::intValue)
                .toArray(), leaseExpiryNs, this::onViewChange) :
            new FailureDetector(self, peerIds, config.suspectTimeoutNs(), config.deadTimeoutNs(),
                config.absentTimeoutNs(), this::onViewChange);
        this.receiver = new FrameReceiver(
            config, membership, handlers, counters, metrics, dropLog, compressor, epochClock);

        final String listenControl = "aeron:udp?endpoint=" + config.self().endpoint();
        final String listenBulk = "aeron:udp?endpoint=" + config.self().bulkEndpoint();
        Subscription control = null;
        Subscription bulk = null;
        final PeerChannel[] channels = new PeerChannel[peerIds.length];
        try
        {
            control = aeron.addSubscription(listenControl, CONTROL_STREAM_ID);
            bulk = aeron.addSubscription(listenBulk, BULK_STREAM_ID);
            for (int i = 0; i < peerIds.length; i++)
            {
                final Member member = config.members().get(peerIds[i]);
                channels[i] = new PeerChannel(member, config, aeron, compressor, nowNs);
                peersById.put(member.id(), channels[i]);
            }
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(channels);
            CloseHelper.quietCloseAll(control, bulk);
            compressor.close();
            throw ex;
        }
        this.controlSubscription = control;
        this.bulkSubscription = bulk;
        this.controlAssembler = new FragmentAssembler(receiver);
        this.bulkAssembler = new FragmentAssembler(receiver);
        this.peers = channels;
        counters.membershipEpoch.setRelease(membership.view().epoch());
    }

    @Override
    public String roleName()
    {
        return "fusion-transport-" + self;
    }

    /** @return the membership view as of the last change. */
    public MembershipView view()
    {
        return membership.view();
    }

    /**
     * Any thread: from the next duty cycle on, frames carry this incarnation and membership starts over from its
     * join (quorum membership only; see {@link #incarnation()} for when it is in effect).
     *
     * @param newIncarnation the new incarnation.
     */
    public void rejoinAs(final int newIncarnation)
    {
        nextIncarnation = newIncarnation;
    }

    /** @return the incarnation the agent's frames carry (read from another thread: as of a recent duty cycle). */
    public int incarnation()
    {
        return incarnation;
    }

    /** @return where views come from: the failure detector, or the quorum's {@link QuorumMembership}. */
    public Membership membership()
    {
        return membership;
    }

    /**
     * Any thread, lock-free: whether this node may act as a member now (always, unless it has a quorum and its
     * lease has run out or it was evicted).
     *
     * @param nowNs the monotonic time.
     * @return whether it holds its lease.
     */
    public boolean holdsLease(final long nowNs)
    {
        return membership.holdsLease(nowNs);
    }

    /** Tests: the channel to a peer. */
    PeerChannel peer(final int peerId)
    {
        return peersById.get(peerId);
    }

    /**
     * Queues a message for a peer; called by application threads.
     *
     * @return true when queued; false when the peer's queue for that priority is full or the peer is dead.
     * @throws IllegalArgumentException for an unknown peer, a reserved type or an oversize payload.
     */
    public boolean offer(
        final int peerId, final int type, final Priority priority, final DirectBuffer payload, final int offset,
        final int length)
    {
        final PeerChannel peer = peersById.get(peerId);
        if (null == peer)
        {
            throw new IllegalArgumentException(peerId == self ?
                "cannot send to this node itself (" + self + ")" :
                "unknown node id " + peerId + "; members are " + config.members().keySet());
        }
        if (type < ClusterConfig.FIRST_USER_MESSAGE_TYPE || type > ClusterConfig.MAX_MESSAGE_TYPE)
        {
            throw new IllegalArgumentException("message type " + type + " out of range " +
                ClusterConfig.FIRST_USER_MESSAGE_TYPE + ".." + ClusterConfig.MAX_MESSAGE_TYPE);
        }
        final int max = priority.stream() == Priority.Stream.CONTROL ?
            config.maxControlMessageLength() : config.maxMessageLength();
        if (length < 0 || length > max)
        {
            throw new IllegalArgumentException("payload of " + length + " bytes out of range 0.." + max +
                " for priority " + priority + " (maxMessageLength)");
        }
        if (peer.dead || closed)
        {
            return false;
        }
        if (priority.stream() == Priority.Stream.BULK && compressor.shouldTry(length) &&
            (peer.bulkBusy || config.compressIdleLink()))
        {
            return offerCompressed(peer.queues[priority.ordinal()], type, payload, offset, length);
        }
        return enqueue(peer.queues[priority.ordinal()], type, payload, offset, length);
    }

    /** On the sending thread: compresses into pooled buffers, then queues the compressed or, if not worth it, raw. */
    private boolean offerCompressed(
        final ManyToOneRingBuffer queue, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        MessageCompression compression = compressions.poll();
        if (null == compression)
        {
            compression = new MessageCompression(
                config.compressionThreshold(), config.compressionMinSaving(), config.compressionAcceleration());
        }
        try
        {
            final int compressedLength = compression.compress(payload, offset, length);
            if (closed)
            {
                return false; // closed meanwhile: its counters may be gone
            }
            if (compressedLength >= 0)
            {
                return enqueue(queue, type | FrameHeader.COMPRESSED_MESSAGE, compression.compressed(), 0,
                    compressedLength);
            }
            counters.compressionSkipped.increment();
            return enqueue(queue, type, payload, offset, length);
        }
        finally
        {
            giveBack(compression);
        }
    }

    private void giveBack(final MessageCompression compression)
    {
        if (closed || !compressions.offer(compression))
        {
            compression.close();
        }
        else if (closed)
        {
            closePooled(); // onClose may have swept the pool before this one went back
        }
    }

    private void closePooled()
    {
        MessageCompression pooled;
        while (null != (pooled = compressions.poll()))
        {
            pooled.close();
        }
    }

    private boolean enqueue(
        final ManyToOneRingBuffer queue, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        final int index = queue.tryClaim(type, PeerChannel.ENQUEUE_TIME_LENGTH + length);
        if (index < 0)
        {
            counters.onSendQueueFull();
            return false;
        }
        final MutableDirectBuffer buffer = queue.buffer();
        buffer.putLong(index, nanoClock.nanoTime());
        buffer.putBytes(index + PeerChannel.ENQUEUE_TIME_LENGTH, payload, offset, length);
        queue.commit(index);
        return true;
    }

    @Override
    public int doWork()
    {
        return receive() + send();
    }

    /**
     * The first half of a duty cycle: runs the media driver's and the client conductor's duty when they live on
     * this thread, polls the control stream and then the bulk stream (handlers run here), beats the heart and
     * runs the failure detector. A node runs its attached agents and {@link #send} before and after it, so what
     * they queue, in reply to a message received in this cycle or not, leaves in this cycle.
     *
     * @return work done.
     */
    public int receive()
    {
        final int next = nextIncarnation;
        if (next != incarnation && membership instanceof QuorumMembership quorum)
        {
            for (final PeerChannel peer : peers)
            {
                discard(peer, DropCause.SELF_FENCED, "queued by incarnation " + Integer.toHexString(incarnation) +
                    ", which the quorum declared dead");
            }
            quorum.rejoin(next);
            incarnation = next; // last: the node starts the new incarnation's join once it reads this
        }
        int work = null != driverInvoker ? driverInvoker.invoke() : 0;
        work += null != clientInvoker ? clientInvoker.invoke() : 0;
        nowNs = nanoClock.nanoTime();
        receiver.nowNs(nowNs);
        work += controlSubscription.poll(controlAssembler, CONTROL_FRAGMENT_LIMIT);
        work += membershipDuty();
        work += bulkSubscription.poll(bulkAssembler, bulkFragmentLimit);
        return work;
    }

    /**
     * The second half of a duty cycle: sends the queued CRITICAL messages one by one, turns the HIGH, NORMAL and
     * LOW queues into batch frames, and, when the media driver runs on this thread and something was offered,
     * runs its duty once more so the frames go on the wire now rather than a cycle later.
     *
     * @return work done.
     */
    public int send()
    {
        nowNs = nanoClock.nanoTime();
        if (!membership.holdsLease(nowNs))
        {
            return 0; // fenced: what is queued waits for the lease to be renewed, and is fenced by peers if never
        }
        int work = 0;
        for (final PeerChannel peer : peers)
        {
            work += peer.dead ? discard(peer) : sendCritical(peer);
        }
        for (final Priority priority : BATCHED)
        {
            for (final PeerChannel peer : peers)
            {
                if (!peer.dead)
                {
                    work += drainBatched(peer, priority);
                }
            }
        }
        for (final PeerChannel peer : peers)
        {
            if (peer.bulkSealed)
            {
                peer.lastBulkSealNs = nowNs;
                updateBulkBusy(peer);
            }
            else if (peer.bulkBusy && nowNs - peer.lastBulkSealNs > BUSY_IDLE_NS && bulkDrained(peer))
            {
                peer.bulkBusy = false;
            }
        }
        if (work > 0 && null != driverInvoker)
        {
            driverInvoker.invoke();
        }
        return work;
    }

    private int sendCritical(final PeerChannel peer)
    {
        current = peer;
        return peer.queues[Priority.CRITICAL.ordinal()].controlledRead(criticalSender, CRITICAL_DRAIN_LIMIT);
    }

    private ControlledMessageHandler.Action onCritical(
        final int type, final MutableDirectBuffer buffer, final int index, final int length)
    {
        final long enqueueNs = buffer.getLong(index);
        final int payloadLength = length - PeerChannel.ENQUEUE_TIME_LENGTH;
        if (sendSingle(current, type, buffer, index + PeerChannel.ENQUEUE_TIME_LENGTH, payloadLength))
        {
            counters.messagesSent(Priority.CRITICAL).incrementRelease();
            metrics.recordQueueingDelay(Priority.CRITICAL, nanoClock.nanoTime() - enqueueNs);
            return ControlledMessageHandler.Action.CONTINUE;
        }
        return ControlledMessageHandler.Action.ABORT;
    }

    /** Sends one CRITICAL message in a frame of its own: claimed in place when it fits a single MTU. */
    private boolean sendSingle(
        final PeerChannel peer, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        final ExclusivePublication publication = peer.publication(Priority.Stream.CONTROL);
        final int rawLength = FrameHeader.MESSAGE_HEADER_LENGTH + length;
        final int frameLength = FrameHeader.LENGTH + rawLength;
        final long sequence = peer.sequences[Priority.CRITICAL.ordinal()] + 1;
        final long result;
        if (frameLength <= publication.maxPayloadLength())
        {
            result = publication.tryClaim(frameLength, claim);
            if (result > 0)
            {
                writeSingle(claim.buffer(), claim.offset(), type, payload, offset, length, sequence);
                claim.commit();
            }
        }
        else
        {
            writeSingle(peer.criticalFrame, 0, type, payload, offset, length, sequence);
            result = publication.offer(peer.criticalFrame, 0, frameLength);
        }
        if (result > 0)
        {
            peer.sequences[Priority.CRITICAL.ordinal()] = sequence;
            counters.framesSent.incrementRelease();
            counters.bytesSentRaw.getAndAddRelease(rawLength);
            counters.bytesSentWire.getAndAddRelease(frameLength);
            return true;
        }
        onOfferFailure(peer, Priority.Stream.CONTROL, result);
        return false;
    }

    private void writeSingle(
        final MutableDirectBuffer buffer,
        final int at,
        final int type,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final long sequence)
    {
        final int rawLength = FrameHeader.MESSAGE_HEADER_LENGTH + length;
        header.wrap(buffer, at).write(0, Priority.CRITICAL.ordinal(), self, 1, view().epoch(), incarnation,
            FrameHeader.LENGTH + rawLength, rawLength, sequence, epochClock.nanoTime());
        FrameHeader.putMessageHeader(buffer, at + FrameHeader.LENGTH, type, length);
        if (length > 0)
        {
            buffer.putBytes(at + FrameHeader.LENGTH + FrameHeader.MESSAGE_HEADER_LENGTH, payload, offset, length);
        }
    }

    private int membershipDuty()
    {
        int work = 0;
        if (nowNs - nextHeartbeatNs >= 0 && (!(membership instanceof QuorumMembership quorum) || quorum.installed()))
        {
            nextHeartbeatNs = nowNs + config.heartbeatIntervalNs();
            for (final PeerChannel peer : peers)
            {
                sendSingle(peer, HEARTBEAT_TYPE, peer.criticalFrame, 0, 0);
            }
            work++;
        }
        if (nowNs - nextDetectorPollNs >= 0)
        {
            nextDetectorPollNs = nowNs + DETECTOR_PERIOD_NS;
            work += membership.poll(nowNs);
        }
        return work;
    }

    /**
     * Whether the bulk stream to a peer is busy, after a cycle that took messages from its queues: a frame sealed
     * with more queued behind it, back pressure, or a send rate above half the link's capacity (a quarter to stay
     * busy).
     */
    private void updateBulkBusy(final PeerChannel peer)
    {
        peer.bulkSealed = false;
        double bytesPerSecond = 0;
        boolean backPressured = false;
        for (final Priority priority : BATCHED)
        {
            if (priority.stream() == Priority.Stream.BULK)
            {
                bytesPerSecond += peer.controllers[priority.ordinal()].byteRatePerSecond();
                backPressured |= peer.batches[priority.ordinal()].backPressured;
            }
        }
        // hysteresis: busy from half the capacity, idle again below a quarter, so a stream does not flip-flop
        final double share = peer.bulkBusy ? BUSY_LINK_SHARE / 2 : BUSY_LINK_SHARE;
        final boolean busy = peer.bulkBacklog || backPressured ||
            bytesPerSecond > share * config.linkCapacityBytesPerSecond();
        peer.bulkBacklog = false;
        if (busy != peer.bulkBusy)
        {
            peer.bulkBusy = busy;
        }
    }

    /** Nothing queued or waiting for the publication on the peer's bulk stream (back pressure is not idleness). */
    private static boolean bulkDrained(final PeerChannel peer)
    {
        for (final Priority priority : BATCHED)
        {
            if (priority.stream() == Priority.Stream.BULK &&
                (peer.batches[priority.ordinal()].isSealed() || peer.queues[priority.ordinal()].size() > 0))
            {
                return false;
            }
        }
        return true;
    }

    private int drainBatched(final PeerChannel peer, final Priority priority)
    {
        final OutboundBatch batch = peer.batches[priority.ordinal()];
        if (batch.isSealed() && !sendSealed(peer, priority, batch))
        {
            return 0;
        }
        final RingBuffer queue = peer.queues[priority.ordinal()];
        final BatchSizeController controller = peer.controllers[priority.ordinal()];
        current = peer;
        currentPriority = priority;
        int work = 0;
        final int byteBudget = priority.stream() == Priority.Stream.CONTROL ?
            CONTROL_DRAIN_BATCHES * config.maxBatchBytes() : config.maxBatchBytes();
        int bytes = 0;
        for (int frames = 0; frames < MAX_FRAMES_PER_DRAIN && bytes < byteBudget; frames++)
        {
            appendFull = false;
            appendBytes = 0;
            final int limit = Math.max(1, controller.target() - batch.count);
            final int read = queue.controlledRead(appender, limit);
            if (read > 0)
            {
                controller.onArrivals(read, appendBytes, nowNs);
                work += read;
            }
            if (batch.isEmpty())
            {
                return work;
            }
            final boolean drained = !appendFull && read < limit;
            final BatchSizeController.Reason reason = appendFull ? BatchSizeController.Reason.FULL :
                controller.flushReason(batch.count, batch.oldestEnqueueNs, nowNs, drained);
            if (null == reason)
            {
                return work;
            }
            if (priority.stream() == Priority.Stream.BULK)
            {
                peer.bulkSealed = true;
                peer.bulkBacklog |= queue.size() > 0; // more waits behind this frame
            }
            seal(peer, priority, batch, reason, !drained);
            work++;
            bytes += batch.sealedLength;
            if (!sendSealed(peer, priority, batch) || drained)
            {
                return work;
            }
        }
        return work;
    }

    private ControlledMessageHandler.Action onAppend(
        final int type, final MutableDirectBuffer buffer, final int index, final int length)
    {
        final OutboundBatch batch = current.batches[currentPriority.ordinal()];
        final int payloadLength = length - PeerChannel.ENQUEUE_TIME_LENGTH;
        if (!batch.fits(payloadLength) || batch.count >= current.enqueueTimes[currentPriority.ordinal()].length)
        {
            appendFull = true;
            return ControlledMessageHandler.Action.ABORT;
        }
        final long enqueueNs = buffer.getLong(index);
        current.enqueueTimes[currentPriority.ordinal()][batch.count] = enqueueNs;
        batch.append(type, buffer, index + PeerChannel.ENQUEUE_TIME_LENGTH, payloadLength, enqueueNs);
        if ((type & FrameHeader.COMPRESSED_MESSAGE) != 0)
        {
            // counted here, on the single writer of these counters: the raw bytes the sender compressed away
            batch.precompressed++;
            counters.messagesCompressed.incrementRelease();
            counters.bytesSentRaw.getAndAddRelease(
                buffer.getInt(index + PeerChannel.ENQUEUE_TIME_LENGTH, ByteOrder.LITTLE_ENDIAN) -
                payloadLength);
        }
        appendBytes += payloadLength;
        return ControlledMessageHandler.Action.CONTINUE;
    }

    private void seal(
        final PeerChannel peer,
        final Priority priority,
        final OutboundBatch batch,
        final BatchSizeController.Reason reason,
        final boolean backlog)
    {
        final long sequence = ++peer.sequences[priority.ordinal()];
        final int rawLength = batch.payloadLength;
        final long epoch = view().epoch();
        if (0 == batch.precompressed && compressor.shouldTry(rawLength) &&
            (priority.stream() == Priority.Stream.CONTROL || peer.bulkBusy || config.compressIdleLink()))
        {
            final int compressedLength = compressor.compress(
                batch.frame.byteArray(), FrameHeader.LENGTH, rawLength, batch.compressedFrame.byteArray(), FrameHeader.LENGTH);
            if (compressedLength >= 0)
            {
                header.wrap(batch.compressedFrame, 0).write(FrameHeader.FLAG_COMPRESSED, priority.ordinal(), self,
                    batch.count, epoch, incarnation, FrameHeader.LENGTH + compressedLength, rawLength, sequence,
                    epochClock.nanoTime());
                counters.framesCompressed.incrementRelease();
                counters.bytesSentRaw.getAndAddRelease(rawLength);
                batch.seal(batch.compressedFrame, FrameHeader.LENGTH + compressedLength, reason, backlog);
                return;
            }
            counters.compressionSkipped.increment(); // application threads count here too
        }
        header.wrap(batch.frame, 0).write(0, priority.ordinal(), self, batch.count, epoch, incarnation,
            FrameHeader.LENGTH + rawLength, rawLength, sequence, epochClock.nanoTime());
        counters.bytesSentRaw.getAndAddRelease(rawLength);
        batch.seal(batch.frame, FrameHeader.LENGTH + rawLength, reason, backlog);
    }

    private boolean sendSealed(final PeerChannel peer, final Priority priority, final OutboundBatch batch)
    {
        final long result = peer.publication(priority.stream()).offer(batch.sealed, 0, batch.sealedLength);
        if (result > 0)
        {
            final int count = batch.sealedCount;
            counters.framesSent.incrementRelease();
            counters.bytesSentWire.getAndAddRelease(batch.sealedLength);
            counters.messagesSent(priority).getAndAddRelease(count);
            metrics.recordBatchSize(count);
            final long sentNs = nanoClock.nanoTime();
            final long[] enqueueTimes = peer.enqueueTimes[priority.ordinal()];
            for (int i = 0; i < count; i++)
            {
                metrics.recordQueueingDelay(priority, sentNs - enqueueTimes[i]);
            }
            peer.controllers[priority.ordinal()].onFlush(
                batch.sealedReason, count, batch.sealedBacklog, batch.backPressured);
            batch.sent();
            return true;
        }
        if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
        {
            batch.backPressured = true;
        }
        onOfferFailure(peer, priority.stream(), result);
        return false;
    }

    /** Every non-success result of offer/tryClaim leaves the frame pending; a dead publication is replaced. */
    private void onOfferFailure(final PeerChannel peer, final Priority.Stream stream, final long result)
    {
        if (result == Publication.BACK_PRESSURED)
        {
            counters.backPressured.incrementRelease();
        }
        else if (result == Publication.ADMIN_ACTION)
        {
            counters.adminAction.incrementRelease();
        }
        else if (result == Publication.NOT_CONNECTED)
        {
            counters.notConnected.incrementRelease();
        }
        else if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            counters.publicationsRecreated.incrementRelease();
            System.getLogger("dev.fusion.cluster.transport").log(System.Logger.Level.WARNING,
                "node " + self + ": " + stream + " publication to node " + peer.id() + " returned " +
                (result == Publication.CLOSED ? "CLOSED" : "MAX_POSITION_EXCEEDED") + "; recreating it");
            peer.recreate(stream);
        }
    }

    /** A dead peer's queued and batched messages are discarded, and counted. */
    private int discard(final PeerChannel peer)
    {
        return discard(peer, DropCause.PEER_DEAD, "declared dead");
    }

    private int discard(final PeerChannel peer, final DropCause cause, final String why)
    {
        int dropped = 0;
        for (final Priority priority : Priority.values())
        {
            final OutboundBatch batch = peer.batches[priority.ordinal()];
            if (null != batch)
            {
                dropped += batch.count + batch.sealedCount;
                batch.discard();
            }
            dropped += peer.queues[priority.ordinal()].read((type, buffer, index, length) -> { }, Integer.MAX_VALUE);
        }
        if (dropped > 0)
        {
            final int count = dropped;
            dropLog.drop(cause, count, nowNs, () -> count + " outbound message(s) for node " + peer.id() + ", " + why);
        }
        return dropped;
    }

    private void onViewChange(final MembershipView view)
    {
        counters.membershipEpoch.setRelease(view.epoch());
        for (final PeerChannel peer : peers)
        {
            peer.dead = view.state(peer.id()) == MemberState.DEAD;
        }
        viewListener.accept(view);
    }

    @Override
    public void onClose()
    {
        CloseHelper.quietCloseAll(peers);
        CloseHelper.quietCloseAll(controlSubscription, bulkSubscription);
        closed = true;
        compressor.close();
        closePooled(); // those in use are closed by their threads as they give them back
    }
}
