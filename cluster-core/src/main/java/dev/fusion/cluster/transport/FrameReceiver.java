package dev.fusion.cluster.transport;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.DropCause;
import dev.fusion.cluster.MessageHandler;
import dev.fusion.cluster.ReceiveFilter;
import dev.fusion.cluster.Priority;
import dev.fusion.cluster.membership.Membership;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Validates each reassembled frame, decompresses it when flagged, and delivers its messages to the registered
 * handlers. A frame that fails any check is dropped whole, counted by cause and logged (rate-limited); a
 * handler that throws is counted too. Nothing here throws back into the agent.
 */
final class FrameReceiver implements FragmentHandler
{
    private final int self;
    private final ClusterConfig config;
    private final int maxRawLength;
    private final Membership membership;
    private final Handlers handlers;
    private final TransportCounters counters;
    private final MetricsRecorder metrics;
    private final DropLog dropLog;
    private final FrameCompressor compressor;
    private final EpochNanoClock epochClock;
    private final FrameHeader header = new FrameHeader();
    private final UnsafeBuffer decompressed;
    /** A message its sender compressed, inflated; handlers read it before the next one is. */
    private final UnsafeBuffer inflated;
    private long nowNs;

    FrameReceiver(
        final ClusterConfig config,
        final Membership membership,
        final Handlers handlers,
        final TransportCounters counters,
        final MetricsRecorder metrics,
        final DropLog dropLog,
        final FrameCompressor compressor,
        final EpochNanoClock epochClock)
    {
        this.self = config.nodeId();
        this.config = config;
        this.maxRawLength = Math.max(config.maxBatchBytes(), config.maxMessageLength() + FrameHeader.MESSAGE_HEADER_LENGTH);
        this.membership = membership;
        this.handlers = handlers;
        this.counters = counters;
        this.metrics = metrics;
        this.dropLog = dropLog;
        this.compressor = compressor;
        this.epochClock = epochClock;
        this.decompressed = new UnsafeBuffer(new byte[maxRawLength]);
        this.inflated = new UnsafeBuffer(new byte[config.maxMessageLength()]);
    }

    void nowNs(final long nowNs)
    {
        this.nowNs = nowNs;
    }

    @Override
    public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header aeronHeader)
    {
        counters.bytesReceivedWire.getAndAddRelease(length);
        if (length < FrameHeader.LENGTH)
        {
            dropLog.drop(DropCause.TRUNCATED, 1, nowNs, () -> length + " bytes, shorter than a frame header");
            return;
        }
        final FrameHeader h = header.wrap(buffer, offset);
        final int version = h.version();
        if (version != FrameHeader.VERSION)
        {
            dropLog.drop(DropCause.UNKNOWN_VERSION, 1, nowNs, () -> "version " + version);
            return;
        }
        final int frameLength = h.frameLength();
        if (frameLength != length)
        {
            final DropCause cause = frameLength > length ? DropCause.TRUNCATED : DropCause.MALFORMED;
            dropLog.drop(cause, 1, nowNs, () -> "header declares " + frameLength + " bytes, frame has " + length);
            return;
        }
        final int flags = h.flags();
        final Priority priority = Priority.fromOrdinal(h.priority());
        if ((flags & ~FrameHeader.KNOWN_FLAGS) != 0 || null == priority || h.reserved() != 0)
        {
            dropLog.drop(DropCause.MALFORMED, 1, nowNs,
                () -> "flags " + flags + ", priority " + h.priority() + ", reserved " + h.reserved());
            return;
        }
        final int source = h.sourceNode();
        if (source == self || !config.members().containsKey(source))
        {
            dropLog.drop(DropCause.UNKNOWN_NODE, 1, nowNs, () -> "source node " + source);
            return;
        }
        final int rawLength = h.rawLength();
        if (rawLength > maxRawLength)
        {
            dropLog.drop(DropCause.OVERSIZE, 1, nowNs,
                () -> "from node " + source + ": " + rawLength + " bytes > limit " + maxRawLength);
            return;
        }
        final int wireLength = length - FrameHeader.LENGTH;
        final boolean compressed = (flags & FrameHeader.FLAG_COMPRESSED) != 0;
        if (rawLength < 0 || (!compressed && rawLength != wireLength))
        {
            dropLog.drop(DropCause.MALFORMED, 1, nowNs,
                () -> "from node " + source + ": raw length " + rawLength + ", payload " + wireLength);
            return;
        }
        if (membership.onFrame(source, h.incarnation(), h.epoch(), nowNs) == Membership.FENCED)
        {
            dropLog.drop(DropCause.FENCED, 1, nowNs, () -> "from node " + source + " incarnation " +
                Integer.toHexString(h.incarnation()) + " at epoch " + Integer.toUnsignedLong(h.epoch()) +
                ", not a live member, or sent before it joined");
            return;
        }
        final int count = h.messageCount();
        final long sendTimeNs = h.sendTimeNs();
        DirectBuffer payload = buffer;
        int payloadOffset = offset + FrameHeader.LENGTH;
        if (compressed)
        {
            if (!compressor.decompress(buffer, payloadOffset, wireLength, decompressed.byteArray(), rawLength))
            {
                dropLog.drop(DropCause.MALFORMED, 1, nowNs,
                    () -> "from node " + source + ": payload does not decompress to " + rawLength + " bytes");
                return;
            }
            payload = decompressed;
            payloadOffset = 0;
        }
        if (!wellFormed(payload, payloadOffset, rawLength, count))
        {
            dropLog.drop(DropCause.MALFORMED, 1, nowNs,
                () -> "from node " + source + ": " + count + " messages do not fill " + rawLength + " bytes");
            return;
        }
        counters.framesReceived.incrementRelease();
        counters.messagesReceived(priority).getAndAddRelease(count);
        metrics.recordOneWayLatency(priority, epochClock.nanoTime() - sendTimeNs);
        deliver(source, payload, payloadOffset, count);
    }

    private static boolean wellFormed(final DirectBuffer payload, final int offset, final int length, final int count)
    {
        if (count == 0)
        {
            return false;
        }
        int at = offset;
        final int end = offset + length;
        for (int i = 0; i < count; i++)
        {
            if (end - at < FrameHeader.MESSAGE_HEADER_LENGTH)
            {
                return false;
            }
            final int messageLength = FrameHeader.messageLength(payload, at);
            at += FrameHeader.MESSAGE_HEADER_LENGTH;
            if (messageLength < 0 || messageLength > end - at)
            {
                return false;
            }
            at += messageLength;
        }
        return at == end;
    }

    private void deliver(final int source, final DirectBuffer payload, final int offset, final int count)
    {
        int at = offset;
        for (int i = 0; i < count; i++)
        {
            final int type = FrameHeader.messageType(payload, at);
            final int length = FrameHeader.messageLength(payload, at);
            at += FrameHeader.MESSAGE_HEADER_LENGTH;
            if ((type & FrameHeader.COMPRESSED_MESSAGE) != 0)
            {
                inflateAndDispatch(source, type & ~FrameHeader.COMPRESSED_MESSAGE, payload, at, length);
            }
            else if (type != TransportAgent.HEARTBEAT_TYPE)
            {
                dispatch(source, type, payload, at, length);
            }
            at += length;
        }
    }

    private void inflateAndDispatch(
        final int source, final int type, final DirectBuffer payload, final int at, final int length)
    {
        final int rawLength = length >= MessageCompression.PREFIX ? payload.getInt(at, ByteOrder.LITTLE_ENDIAN) : -1;
        if (rawLength <= 0 || rawLength > inflated.capacity() || !compressor.decompress(
            payload, at + MessageCompression.PREFIX, length - MessageCompression.PREFIX, inflated.byteArray(), rawLength))
        {
            dropLog.drop(DropCause.MALFORMED, 1, nowNs, () -> "from node " + source + ": compressed message of type " +
                type + " (" + length + " bytes) does not inflate to its declared " + rawLength + " bytes");
            return;
        }
        dispatch(source, type, inflated, 0, rawLength);
    }

    private void dispatch(final int source, final int type, final DirectBuffer payload, final int at, final int length)
    {
        final MessageHandler handler = handlers.get(type);
        if (null == handler)
        {
            dropLog.drop(DropCause.UNKNOWN_TYPE, 1, nowNs, () -> "type " + type + " from node " + source);
            return;
        }
        final ReceiveFilter filter = handlers.filter();
        if (null != filter && !filter.accept(source, type, payload, at, length))
        {
            dropLog.drop(DropCause.INJECTED, 1, nowNs, () -> "type " + type + " from node " + source);
            return;
        }
        try
        {
            handler.onMessage(source, type, payload, at, length);
        }
        catch (final RuntimeException | AssertionError ex)
        {
            dropLog.drop(DropCause.HANDLER_ERROR, 1, nowNs,
                () -> "handler of type " + type + " threw " + ex);
        }
    }
}
