package dev.fusion.cluster.transport;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.Member;
import dev.fusion.cluster.Priority;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.nio.ByteBuffer;

/**
 * Everything this node keeps for one peer: a control and a bulk publication to it, a send queue per priority
 * (application threads write, the agent reads), the open batch and batch controller of each batched priority,
 * and a frame sequence per priority.
 */
final class PeerChannel implements AutoCloseable
{
    static final int ENQUEUE_TIME_LENGTH = Long.BYTES;

    final Member member;
    final ManyToOneRingBuffer[] queues = new ManyToOneRingBuffer[Priority.values().length];
    final OutboundBatch[] batches = new OutboundBatch[Priority.values().length];
    final BatchSizeController[] controllers = new BatchSizeController[Priority.values().length];
    final long[][] enqueueTimes = new long[Priority.values().length][];
    final long[] sequences = new long[Priority.values().length];
    final UnsafeBuffer criticalFrame;

    private final Aeron aeron;
    private final String controlChannel;
    private final String bulkChannel;
    private ExclusivePublication control;
    private ExclusivePublication bulk;

    volatile boolean dead;
    /**
     * The bulk stream to this peer is busy (a backlog, back pressure, or a high send rate): bulk messages are worth
     * compressing. Written by the transport agent, read by sending threads.
     */
    volatile boolean bulkBusy;
    /** The transport agent's own: this cycle sealed bulk frames, and one of them left a backlog behind it. */
    boolean bulkSealed;
    /** When the agent last sealed a bulk frame for this peer (see TransportAgent's idle check). */
    long lastBulkSealNs;
    boolean bulkBacklog;

    PeerChannel(
        final Member member,
        final ClusterConfig config,
        final Aeron aeron,
        final FrameCompressor compressor,
        final long nowNs)
    {
        this.member = member;
        this.aeron = aeron;
        controlChannel = channel(member.endpoint(), config.controlTermLength(), config.mtu());
        bulkChannel = channel(member.bulkEndpoint(), config.bulkTermLength(), config.mtu());
        control = aeron.addExclusivePublication(controlChannel, TransportAgent.CONTROL_STREAM_ID);
        bulk = aeron.addExclusivePublication(bulkChannel, TransportAgent.BULK_STREAM_ID);
        criticalFrame = new UnsafeBuffer(new byte[FrameHeader.LENGTH + FrameHeader.MESSAGE_HEADER_LENGTH +
            config.maxControlMessageLength()]);
        for (final Priority p : Priority.values())
        {
            final int capacity = p.stream() == Priority.Stream.CONTROL ? config.controlQueueBytes() : config.bulkQueueBytes();
            queues[p.ordinal()] = new ManyToOneRingBuffer(new UnsafeBuffer(
                ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH)));
            if (p.batched())
            {
                final int maxMessage = p.stream() == Priority.Stream.CONTROL ?
                    config.maxControlMessageLength() : config.maxMessageLength();
                batches[p.ordinal()] = new OutboundBatch(config.maxBatchBytes(), maxMessage, compressor);
                controllers[p.ordinal()] = new BatchSizeController(config.batchMin(), config.batchMax(),
                    config.batchBudgetNs(p), config.linkCapacityBytesPerSecond(), nowNs);
                enqueueTimes[p.ordinal()] = new long[config.batchMax()];
            }
        }
    }

    static String channel(final String endpoint, final int termLength, final int mtu)
    {
        return "aeron:udp?endpoint=" + endpoint + "|term-length=" + termLength + "|mtu=" + mtu;
    }

    int id()
    {
        return member.id();
    }

    ExclusivePublication publication(final Priority.Stream stream)
    {
        return stream == Priority.Stream.CONTROL ? control : bulk;
    }

    /** A publication that reported CLOSED or MAX_POSITION_EXCEEDED cannot be used again: make a new one. */
    void recreate(final Priority.Stream stream)
    {
        if (stream == Priority.Stream.CONTROL)
        {
            CloseHelper.quietClose(control);
            control = aeron.addExclusivePublication(controlChannel, TransportAgent.CONTROL_STREAM_ID);
        }
        else
        {
            CloseHelper.quietClose(bulk);
            bulk = aeron.addExclusivePublication(bulkChannel, TransportAgent.BULK_STREAM_ID);
        }
    }

    /** Tests: replaces a stream's publication (to drive one into CLOSED or MAX_POSITION_EXCEEDED). */
    void use(final Priority.Stream stream, final ExclusivePublication publication)
    {
        if (stream == Priority.Stream.CONTROL)
        {
            CloseHelper.quietClose(control);
            control = publication;
        }
        else
        {
            CloseHelper.quietClose(bulk);
            bulk = publication;
        }
    }

    @Override
    public void close()
    {
        CloseHelper.closeAll(control, bulk);
    }
}
