package dev.fusion.cluster;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterNodeMessagingTest
{
    private static final int SEQUENCED = 100;
    private static final int BLOB = 101;
    private static LocalCluster cluster;
    /** (receiver, sender, priority) -> sequence numbers in arrival order. */
    private static final Map<String, List<Long>> ARRIVALS = new ConcurrentHashMap<>();
    private static final Map<String, byte[]> BLOBS = new ConcurrentHashMap<>();

    @BeforeAll
    static void startCluster()
    {
        cluster = LocalCluster.start(3, b -> b.compressIdleLink(true)); // the tests below send lone pages
        for (final ClusterNode node : cluster.nodes())
        {
            node.registerHandler(SEQUENCED, (source, type, buffer, offset, length) ->
            {
                final int priority = buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN);
                final long sequence = buffer.getLong(offset + 4, ByteOrder.LITTLE_ENDIAN);
                ARRIVALS.computeIfAbsent(node.nodeId() + "<-" + source + "/" + Priority.fromOrdinal(priority),
                    k -> new CopyOnWriteArrayList<>()).add(sequence);
            });
            node.registerHandler(BLOB, (source, type, buffer, offset, length) ->
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                BLOBS.put(node.nodeId() + "<-" + source + "#" + Arrays.hashCode(bytes) + "/" + length, bytes);
            });
        }
        cluster.awaitFullView(Duration.ofSeconds(20));
    }

    @AfterAll
    static void stopCluster()
    {
        cluster.close();
    }

    @Test
    void anAttachedAgentThatThrowsOnEveryCycleDoesNotStopTheNodeSending() throws Exception
    {
        final int type = 102;
        final AtomicInteger arrived = new AtomicInteger();
        cluster.node(2).registerHandler(type, (source, t, buffer, offset, length) -> arrived.incrementAndGet());
        final java.util.concurrent.atomic.AtomicBoolean failing = new java.util.concurrent.atomic.AtomicBoolean(true);
        final org.agrona.concurrent.Agent faulty = new org.agrona.concurrent.Agent()
        {
            @Override
            public int doWork()
            {
                if (failing.get())
                {
                    throw new IllegalStateException("a faulty attached agent");
                }
                return 0;
            }

            @Override
            public String roleName()
            {
                return "faulty";
            }
        };
        final ClusterNode one = cluster.node(1);
        final long errorsBefore = one.agentErrors();
        one.attach(faulty);
        try
        {
            final UnsafeBuffer message = new UnsafeBuffer(new byte[16]);
            for (final Priority priority : Priority.values())
            {
                for (int i = 0; i < 10; i++)
                {
                    while (!one.send(2, type, priority, message, 0, message.capacity()))
                    {
                        Thread.yield();
                    }
                }
            }
            LocalCluster.await(() -> arrived.get() == 40, Duration.ofSeconds(10), "all 40 messages arrive");
            // and it goes on receiving and beating its heart: nobody declares it dead
            final AtomicInteger back = new AtomicInteger();
            one.registerHandler(type, (source, t, buffer, offset, length) -> back.incrementAndGet());
            Thread.sleep(java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(one.config().deadTimeoutNs()) + 500);
            assertThat(cluster.node(2).view().members()).contains(1);
            assertThat(cluster.node(2).send(1, type, Priority.HIGH, message, 0, message.capacity())).isTrue();
            LocalCluster.await(() -> back.get() == 1, Duration.ofSeconds(10), "node 1 still receives");
            assertThat(failing.get()).isTrue();
            assertThat(one.agentErrors() - errorsBefore).as("it threw all along").isPositive();
        }
        finally
        {
            failing.set(false);
            one.detach(faulty);
        }
    }

    @Test
    void everyPriorityArrivesInOrderFromEveryPeer() throws Exception
    {
        final int perStream = 2_000;
        final List<Thread> senders = new ArrayList<>();
        for (final ClusterNode node : cluster.nodes())
        {
            for (final Priority priority : Priority.values())
            {
                final Thread t = new Thread(() -> sendSequence(node, priority, perStream));
                senders.add(t);
                t.start();
            }
        }
        for (final Thread t : senders)
        {
            t.join();
        }
        LocalCluster.await(() -> ARRIVALS.size() == 3 * 2 * 4 &&
            ARRIVALS.values().stream().allMatch(l -> l.size() == perStream), Duration.ofSeconds(60),
            "all sequenced messages, have " + ARRIVALS.keySet());
        ARRIVALS.forEach((key, sequences) ->
        {
            final List<Long> expected = new ArrayList<>();
            for (long i = 0; i < perStream; i++)
            {
                expected.add(i);
            }
            assertThat(sequences).as(key).containsExactlyElementsOf(expected);
        });
        final TransportMetrics metrics = cluster.node(1).metrics();
        assertThat(metrics.counter("messages_sent_high")).isGreaterThanOrEqualTo(2L * perStream);
        assertThat(metrics.batchSize().getTotalCount()).isPositive();
        assertThat(metrics.queueingDelayNs(Priority.NORMAL).getTotalCount()).isGreaterThanOrEqualTo(2L * perStream);
        assertThat(metrics.drops().values()).allMatch(v -> v == 0);
    }

    private static void sendSequence(final ClusterNode node, final Priority priority, final int count)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128]);
        for (final ClusterNode peer : cluster.nodes())
        {
            if (peer == node)
            {
                continue;
            }
            for (long i = 0; i < count; i++)
            {
                buffer.putInt(0, priority.ordinal(), ByteOrder.LITTLE_ENDIAN);
                buffer.putLong(4, i, ByteOrder.LITTLE_ENDIAN);
                while (!node.send(peer.nodeId(), SEQUENCED, priority, buffer, 0, buffer.capacity()))
                {
                    Thread.onSpinWait();
                    Thread.yield();
                }
            }
        }
    }

    @Test
    void compressibleAndIncompressiblePayloadsRoundTripByteExact()
    {
        final Random random = new Random(42);
        final List<byte[]> sent = new ArrayList<>();
        final byte[] incompressible = new byte[16 * 1024];
        random.nextBytes(incompressible);
        sent.add(incompressible);
        sent.add(pageLike(8192, random));
        sent.add(pageLike(60_000, random));
        sent.add(new byte[0]);
        sent.add(new byte[]{1, 2, 3});
        final long compressedBefore = cluster.node(2).metrics().counter("messages_compressed");
        final long skippedBefore = cluster.node(2).metrics().counter("compression_skipped");
        for (final byte[] payload : sent)
        {
            final DirectBuffer buffer = new UnsafeBuffer(payload);
            assertThat(cluster.node(2).send(3, BLOB, Priority.NORMAL, buffer, 0, payload.length)).isTrue();
        }
        LocalCluster.await(() -> sent.stream().allMatch(p ->
            BLOBS.containsKey("3<-2#" + Arrays.hashCode(p) + "/" + p.length)), Duration.ofSeconds(30), "blobs");
        for (final byte[] payload : sent)
        {
            assertThat(BLOBS.get("3<-2#" + Arrays.hashCode(payload) + "/" + payload.length)).isEqualTo(payload);
        }
        final TransportMetrics metrics = cluster.node(2).metrics();
        // the two compressible pages were compressed by the sending thread, the random one was sent raw
        assertThat(metrics.counter("messages_compressed")).isEqualTo(compressedBefore + 2);
        assertThat(metrics.counter("compression_skipped")).isGreaterThan(skippedBefore);
    }

    @Test
    void smallCompressibleMessagesAreCompressedAsABatch()
    {
        final Random random = new Random(7);
        final long framesBefore = cluster.node(1).metrics().counter("frames_compressed");
        final List<byte[]> sent = new ArrayList<>();
        // each message is below the threshold, so only a batch of them can be compressed; bursts until one
        // batch filled past the threshold (the first message of a burst may go alone)
        for (int burst = 0; burst < 20 && cluster.node(1).metrics().counter("frames_compressed") == framesBefore;
            burst++)
        {
            for (int i = 0; i < 200; i++)
            {
                final byte[] payload = pageLike(300, random);
                sent.add(payload);
                while (!cluster.node(1).send(3, BLOB, Priority.LOW, new UnsafeBuffer(payload), 0, payload.length))
                {
                    Thread.yield();
                }
            }
            LocalCluster.await(() -> sent.stream().allMatch(p ->
                BLOBS.containsKey("3<-1#" + Arrays.hashCode(p) + "/" + p.length)), Duration.ofSeconds(30), "rows");
        }
        assertThat(cluster.node(1).metrics().counter("frames_compressed")).isGreaterThan(framesBefore);
        for (final byte[] payload : sent)
        {
            assertThat(BLOBS.get("3<-1#" + Arrays.hashCode(payload) + "/" + payload.length)).isEqualTo(payload);
        }
    }

    /** Rows of text with repeated column values, like a heap page of a table. */
    static byte[] pageLike(final int size, final Random random)
    {
        final StringBuilder sb = new StringBuilder(size);
        int row = 0;
        while (sb.length() < size)
        {
            sb.append(String.format("%08d|customer-%05d|%s|%10.2f|2026-11-%02d|", row++, random.nextInt(5000),
                random.nextBoolean() ? "ACTIVE" : "CLOSED", random.nextDouble() * 10000, 1 + random.nextInt(28)));
        }
        return Arrays.copyOf(sb.toString().getBytes(), size);
    }

    @Test
    void countersAreAeronCountersThatAeronStatCanRead()
    {
        final Map<String, Long> labels = new ConcurrentHashMap<>();
        try (io.aeron.Aeron reader = io.aeron.Aeron.connect(
            new io.aeron.Aeron.Context().aeronDirectoryName(cluster.node(1).aeronDirectory())))
        {
            final org.agrona.concurrent.status.CountersReader counters = reader.countersReader();
            counters.forEach((counterId, typeId, keyBuffer, label) ->
            {
                if (typeId == ClusterNode.COUNTER_TYPE_ID)
                {
                    labels.put(label, counters.getCounterValue(counterId));
                }
            });
        }
        assertThat(labels).containsKeys("fusion node 1: frames_sent", "fusion node 1: drops_malformed",
            "fusion node 1: membership_epoch", "fusion node 1: messages_sent_critical");
        assertThat(labels.get("fusion node 1: frames_sent")).isPositive();
        assertThat(labels.get("fusion node 1: membership_epoch")).isEqualTo(cluster.node(1).view().epoch());
    }

    @Test
    void rejectsBadSendsWithClearErrors()
    {
        final ClusterNode node = cluster.node(1);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16]);
        assertThatThrownBy(() -> node.send(9, SEQUENCED, Priority.HIGH, buffer, 0, 16))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown node id 9");
        assertThatThrownBy(() -> node.send(1, SEQUENCED, Priority.HIGH, buffer, 0, 16))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("itself");
        assertThatThrownBy(() -> node.send(2, 3, Priority.HIGH, buffer, 0, 16))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("message type 3");
        final UnsafeBuffer big = new UnsafeBuffer(new byte[(64 << 10) + 1]);
        assertThatThrownBy(() -> node.send(2, BLOB, Priority.NORMAL, big, 0, big.capacity()))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxMessageLength");
        assertThatThrownBy(() -> node.registerHandler(SEQUENCED, (s, t, b, o, l) -> { }))
            .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has a handler");
    }

    @Test
    void handlerExceptionsAreCountedAndTheAgentKeepsRunning()
    {
        final int throwing = 102;
        final AtomicInteger calls = new AtomicInteger();
        cluster.node(3).registerHandler(throwing, (s, t, b, o, l) ->
        {
            calls.incrementAndGet();
            throw new IllegalStateException("boom");
        });
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        assertThat(cluster.node(1).send(3, throwing, Priority.HIGH, buffer, 0, 8)).isTrue();
        LocalCluster.await(() -> cluster.node(3).metrics().drops(DropCause.HANDLER_ERROR) >= 1,
            Duration.ofSeconds(10), "handler error to be counted");
        assertThat(calls.get()).isEqualTo(1);
        final byte[] after = {7, 7, 7};
        assertThat(cluster.node(1).send(3, BLOB, Priority.HIGH, new UnsafeBuffer(after), 0, 3)).isTrue();
        LocalCluster.await(() -> BLOBS.containsKey("3<-1#" + Arrays.hashCode(after) + "/3"),
            Duration.ofSeconds(10), "a message after the failing handler");
    }

    @Test
    void aHandlerGivenBackDropsItsTypeUntilAnotherIsRegistered()
    {
        final int type = 103;
        final AtomicInteger first = new AtomicInteger();
        final AtomicInteger second = new AtomicInteger();
        final MessageHandler handler = (s, t, b, o, l) -> first.incrementAndGet();
        cluster.node(2).registerHandler(type, handler);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        assertThat(cluster.node(1).send(2, type, Priority.HIGH, buffer, 0, 8)).isTrue();
        LocalCluster.await(() -> first.get() == 1, Duration.ofSeconds(10), "the first handler");

        assertThat(cluster.node(2).unregisterHandler(type, (s, t, b, o, l) -> { })).as("not its handler").isFalse();
        assertThat(cluster.node(2).unregisterHandler(type, handler)).isTrue();
        final long unknownBefore = cluster.node(2).metrics().drops(DropCause.UNKNOWN_TYPE);
        assertThat(cluster.node(1).send(2, type, Priority.HIGH, buffer, 0, 8)).isTrue();
        LocalCluster.await(() -> cluster.node(2).metrics().drops(DropCause.UNKNOWN_TYPE) == unknownBefore + 1,
            Duration.ofSeconds(10), "a message of a type without a handler to be dropped and counted");

        cluster.node(2).registerHandler(type, (s, t, b, o, l) -> second.incrementAndGet());
        assertThat(cluster.node(1).send(2, type, Priority.HIGH, buffer, 0, 8)).isTrue();
        LocalCluster.await(() -> second.get() == 1, Duration.ofSeconds(10), "the handler registered again");
        assertThat(first.get()).isEqualTo(1);
    }
}
