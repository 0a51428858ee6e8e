package dev.fusion.cluster;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Received messages on their way to a module's agent: the transport thread copies each one in (never blocking,
 * never allocating), the agent drains them in its own duty cycle. A many-to-one ring buffer that keeps each
 * message's type and source node.
 */
public final class MessageInbox
{
    private static final int SOURCE_LENGTH = 4;

    private final ManyToOneRingBuffer ring;
    private MessageHandler handler;
    private final org.agrona.concurrent.MessageHandler reader = this::onRecord;

    /**
     * @param capacityBytes the ring's size, a power of two.
     */
    public MessageInbox(final int capacityBytes)
    {
        ring = new ManyToOneRingBuffer(new UnsafeBuffer(
            ByteBuffer.allocateDirect(capacityBytes + RingBufferDescriptor.TRAILER_LENGTH)));
    }

    /**
     * Any thread (the transport's): copies a message in.
     *
     * @return false when the inbox is full (the caller counts the drop; the sender's retry covers it).
     */
    public boolean offer(final int source, final int type, final DirectBuffer buffer, final int offset, final int length)
    {
        final int index = ring.tryClaim(type, SOURCE_LENGTH + length);
        if (index < 0)
        {
            return false;
        }
        final MutableDirectBuffer b = ring.buffer();
        b.putInt(index, source, ByteOrder.LITTLE_ENDIAN);
        b.putBytes(index + SOURCE_LENGTH, buffer, offset, length);
        ring.commit(index);
        return true;
    }

    /**
     * The agent's thread only: hands up to {@code limit} messages to {@code handler}.
     *
     * @return how many were handed over.
     */
    public int drain(final MessageHandler handler, final int limit)
    {
        this.handler = handler;
        return ring.read(reader, limit);
    }

    private void onRecord(final int type, final MutableDirectBuffer buffer, final int index, final int length)
    {
        handler.onMessage(buffer.getInt(index, ByteOrder.LITTLE_ENDIAN), type, buffer, index + SOURCE_LENGTH,
            length - SOURCE_LENGTH);
    }
}
