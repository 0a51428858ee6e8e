package dev.fusion.cluster.transport;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The open batch of one (peer, priority): messages copied behind a frame header, then sealed into a frame
 * (compressed when worth it) that stays pending until the publication takes it. Owned by the transport agent.
 */
final class OutboundBatch
{
    final UnsafeBuffer frame;
    final UnsafeBuffer compressedFrame;
    private final int maxBatchBytes;

    int payloadLength;
    int count;
    /** Messages already compressed by their senders: such a batch is not compressed again. */
    int precompressed;
    long oldestEnqueueNs;

    DirectBuffer sealed;
    int sealedLength;
    int sealedCount;
    BatchSizeController.Reason sealedReason;
    boolean sealedBacklog;
    boolean backPressured;

    OutboundBatch(final int maxBatchBytes, final int maxMessageLength, final FrameCompressor compressor)
    {
        this.maxBatchBytes = maxBatchBytes;
        final int payloadCapacity = Math.max(maxBatchBytes, maxMessageLength + FrameHeader.MESSAGE_HEADER_LENGTH);
        frame = new UnsafeBuffer(new byte[FrameHeader.LENGTH + payloadCapacity]);
        compressedFrame = new UnsafeBuffer(
            new byte[FrameHeader.LENGTH + compressor.maxCompressedLength(payloadCapacity)]);
    }

    boolean isEmpty()
    {
        return count == 0;
    }

    boolean isSealed()
    {
        return null != sealed;
    }

    /** A message always fits an empty batch; otherwise the batch stays within its byte limit. */
    boolean fits(final int length)
    {
        return count == 0 ||
            (payloadLength + FrameHeader.MESSAGE_HEADER_LENGTH + length <= maxBatchBytes && count < 0xFFFF);
    }

    void append(final int type, final DirectBuffer src, final int offset, final int length, final long enqueueNs)
    {
        final int at = FrameHeader.LENGTH + payloadLength;
        FrameHeader.putMessageHeader(frame, at, type, length);
        frame.putBytes(at + FrameHeader.MESSAGE_HEADER_LENGTH, src, offset, length);
        payloadLength += FrameHeader.MESSAGE_HEADER_LENGTH + length;
        if (count++ == 0)
        {
            oldestEnqueueNs = enqueueNs;
        }
    }

    void seal(
        final DirectBuffer buffer,
        final int length,
        final BatchSizeController.Reason reason,
        final boolean backlog)
    {
        sealed = buffer;
        sealedLength = length;
        sealedCount = count;
        sealedReason = reason;
        sealedBacklog = backlog;
        payloadLength = 0;
        count = 0;
        precompressed = 0;
    }

    void sent()
    {
        sealed = null;
        sealedLength = 0;
        sealedCount = 0;
        backPressured = false;
    }

    void discard()
    {
        sent();
        payloadLength = 0;
        count = 0;
        precompressed = 0;
    }
}
