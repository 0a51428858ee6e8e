package dev.fusion.cluster.transport;

import dev.fusion.cluster.DropCause;
import dev.fusion.cluster.Priority;
import org.agrona.concurrent.status.AtomicCounter;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The transport's counters. The node allocates them as Aeron counters, so {@code AeronStat} shows them next to
 * the driver's own; tests may allocate them from a plain counters manager. Written by the transport agent
 * (single writer), except {@link #sendQueueFull}, which application threads increment.
 */
public final class TransportCounters implements AutoCloseable
{
    private final Map<String, AtomicCounter> byName = new LinkedHashMap<>();
    private final AtomicCounter[] messagesSent = new AtomicCounter[Priority.values().length];
    private final AtomicCounter[] messagesReceived = new AtomicCounter[Priority.values().length];
    private final EnumMap<DropCause, AtomicCounter> drops = new EnumMap<>(DropCause.class);

    final AtomicCounter framesSent;
    final AtomicCounter framesReceived;
    final AtomicCounter bytesSentRaw;
    final AtomicCounter bytesSentWire;
    final AtomicCounter bytesReceivedWire;
    final AtomicCounter framesCompressed;
    final AtomicCounter messagesCompressed;
    final AtomicCounter compressionSkipped;
    final AtomicCounter backPressured;
    final AtomicCounter adminAction;
    final AtomicCounter notConnected;
    final AtomicCounter publicationsRecreated;
    final AtomicCounter sendQueueFull;
    final AtomicCounter membershipEpoch;

    /**
     * @param allocator makes a counter for a label.
     */
    public TransportCounters(final Function<String, AtomicCounter> allocator)
    {
        for (final Priority p : Priority.values())
        {
            final String name = p.name().toLowerCase();
            messagesSent[p.ordinal()] = add(allocator, "messages_sent_" + name);
            messagesReceived[p.ordinal()] = add(allocator, "messages_received_" + name);
        }
        framesSent = add(allocator, "frames_sent");
        framesReceived = add(allocator, "frames_received");
        bytesSentRaw = add(allocator, "bytes_sent_raw");
        bytesSentWire = add(allocator, "bytes_sent_wire");
        bytesReceivedWire = add(allocator, "bytes_received_wire");
        framesCompressed = add(allocator, "frames_compressed");
        messagesCompressed = add(allocator, "messages_compressed");
        compressionSkipped = add(allocator, "compression_skipped");
        backPressured = add(allocator, "offer_back_pressured");
        adminAction = add(allocator, "offer_admin_action");
        notConnected = add(allocator, "offer_not_connected");
        publicationsRecreated = add(allocator, "publications_recreated");
        sendQueueFull = add(allocator, "send_queue_full");
        membershipEpoch = add(allocator, "membership_epoch");
        for (final DropCause cause : DropCause.values())
        {
            drops.put(cause, add(allocator, "drops_" + cause.name().toLowerCase()));
        }
    }

    private AtomicCounter add(final Function<String, AtomicCounter> allocator, final String name)
    {
        final AtomicCounter counter = allocator.apply(name);
        byName.put(name, counter);
        return counter;
    }

    AtomicCounter messagesSent(final Priority priority)
    {
        return messagesSent[priority.ordinal()];
    }

    AtomicCounter messagesReceived(final Priority priority)
    {
        return messagesReceived[priority.ordinal()];
    }

    AtomicCounter drops(final DropCause cause)
    {
        return drops.get(cause);
    }

    /** Counts a message an application thread could not queue. */
    public void onSendQueueFull()
    {
        sendQueueFull.increment();
    }

    /** @return every counter's current value by name. */
    public Map<String, Long> values()
    {
        final Map<String, Long> values = new LinkedHashMap<>();
        byName.forEach((name, counter) -> values.put(name, counter.get()));
        return values;
    }

    /** @return drop counts by cause. */
    public Map<DropCause, Long> dropValues()
    {
        final Map<DropCause, Long> values = new EnumMap<>(DropCause.class);
        drops.forEach((cause, counter) -> values.put(cause, counter.get()));
        return values;
    }

    @Override
    public void close()
    {
        byName.values().forEach(AtomicCounter::close);
    }
}
