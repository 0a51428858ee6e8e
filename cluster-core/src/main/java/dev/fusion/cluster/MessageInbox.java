package dev.fusion.cluster;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Received messages on their way to a module's agent: the transport thread copies each one in (never blocking,
 * never allocating), the agent drains them in its own duty cycle. A many-to-one ring buffer that keeps each
 * message's type and source node. A lossless inbox (for messages nobody sends again, such as a directory's
 * hand-offs and reconfiguration reports) queues what does not fit on the heap instead of refusing it, in order:
 * from the first message that does not fit until the agent has emptied the heap queue, every message goes there
 * (a flag switched under a lock, on this slow path only), and the agent takes from it only once the ring is empty.
 */
public final class MessageInbox
{
    private static final int SOURCE_LENGTH = 4;

    private final ManyToOneRingBuffer ring;
    private MessageHandler handler;
    private final org.agrona.concurrent.MessageHandler reader = this::onRecord;
    private final ConcurrentLinkedQueue<Overflowed> overflow;
    private final AtomicLong overflowed = new AtomicLong();
    /** Bytes waiting on the heap, and the most a lossless inbox lets wait there before it refuses (a bound). */
    private final AtomicLong overflowBytes = new AtomicLong();
    private final long maxOverflowBytes;
    /** True from the first message that did not fit until the agent finds the heap queue empty (under the lock). */
    private volatile boolean overflowing;
    private final Object overflowLock = new Object();

    private record Overflowed(int source, int type, UnsafeBuffer bytes)
    {
    }

    /**
     * @param capacityBytes the ring's size, a power of two.
     */
    public MessageInbox(final int capacityBytes)
    {
        this(capacityBytes, 0);
    }

    /**
     * @param capacityBytes    the ring's size, a power of two.
     * @param maxOverflowBytes how many bytes of messages that do not fit may wait on the heap (0: none, the inbox
     *                         refuses them); beyond it the inbox refuses too, so an agent that has stopped keeping
     *                         up cannot exhaust the heap.
     */
    public MessageInbox(final int capacityBytes, final long maxOverflowBytes)
    {
        ring = new ManyToOneRingBuffer(new UnsafeBuffer(
            ByteBuffer.allocateDirect(capacityBytes + RingBufferDescriptor.TRAILER_LENGTH)));
        overflow = maxOverflowBytes > 0 ? new ConcurrentLinkedQueue<>() : null;
        this.maxOverflowBytes = maxOverflowBytes;
    }

    /** @return messages that did not fit in the ring and were queued on the heap (lossless inboxes). */
    public long overflowed()
    {
        return overflowed.get();
    }

    /**
     * Any thread (the transport's): copies a message in.
     *
     * @return false when the inbox is full (the caller counts the drop; the sender's retry covers it); a lossless
     * inbox takes the message unless its heap queue is at its bound.
     */
    public boolean offer(final int source, final int type, final DirectBuffer buffer, final int offset, final int length)
    {
        if (overflowing)
        {
            synchronized (overflowLock)
            {
                if (overflowing)
                {
                    return queue(source, type, buffer, offset, length); // behind what already waits there
                }
            }
        }
        final int index = ring.tryClaim(type, SOURCE_LENGTH + length);
        if (index < 0)
        {
            if (null == overflow)
            {
                return false;
            }
            synchronized (overflowLock)
            {
                overflowing = true;
                return queue(source, type, buffer, offset, length);
            }
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
        int n = ring.read(reader, limit);
        if (overflowing && n < limit && ring.size() == 0)
        {
            // nothing older is left in the ring, and nothing newer goes there while overflowing
            while (n < limit)
            {
                final Overflowed o = overflow.poll();
                if (null == o)
                {
                    synchronized (overflowLock)
                    {
                        if (overflow.isEmpty())
                        {
                            overflowing = false;
                        }
                    }
                    break;
                }
                overflowBytes.addAndGet(-o.bytes().capacity());
                handler.onMessage(o.source(), o.type(), o.bytes(), 0, o.bytes().capacity());
                n++;
            }
        }
        return n;
    }

    private boolean queue(final int source, final int type, final DirectBuffer buffer, final int offset,
        final int length)
    {
        if (overflowBytes.get() + length > maxOverflowBytes)
        {
            return false; // at the bound: refused like a full ring (the caller counts and logs the drop)
        }
        overflowBytes.addAndGet(length);
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[length]);
        copy.putBytes(0, buffer, offset, length);
        overflow.add(new Overflowed(source, type, copy));
        overflowed.incrementAndGet();
        return true;
    }

    private void onRecord(final int type, final MutableDirectBuffer buffer, final int index, final int length)
    {
        handler.onMessage(buffer.getInt(index, ByteOrder.LITTLE_ENDIAN), type, buffer, index + SOURCE_LENGTH,
            length - SOURCE_LENGTH);
    }
}
