package dev.fusion.cluster;

import dev.fusion.cluster.transport.FrameHeader;
import dev.fusion.cluster.transport.TransportAgent;
import io.aeron.Aeron;
import io.aeron.Publication;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Raw bytes injected on node 1's control stream: every bad frame is dropped, counted by cause, and survived. */
class MalformedFrameTest
{
    private static final int TYPE = 100;
    private static LocalCluster cluster;
    private static Aeron rawClient;
    private static Publication raw;
    private static final AtomicInteger DELIVERED = new AtomicInteger();

    @BeforeAll
    static void start()
    {
        cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
        cluster.node(1).registerHandler(TYPE, (s, t, b, o, l) -> DELIVERED.incrementAndGet());
        cluster.awaitFullView(Duration.ofSeconds(20));
        rawClient = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.node(2).aeronDirectory()));
        raw = rawClient.addPublication(
            "aeron:udp?endpoint=" + cluster.node(1).config().self().endpoint(), TransportAgent.CONTROL_STREAM_ID);
        LocalCluster.await(raw::isConnected, Duration.ofSeconds(10), "raw publication to connect");
    }

    @AfterAll
    static void stop()
    {
        if (null != rawClient)
        {
            rawClient.close();
        }
        cluster.close();
    }

    private static UnsafeBuffer frame(
        final int flags, final int priority, final int source, final int count, final int incarnation,
        final int frameLength, final int rawLength, final int payloadBytes)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[FrameHeader.LENGTH + payloadBytes]);
        new FrameHeader().wrap(buffer, 0).write(flags, priority, source, count, 1, incarnation, frameLength,
            rawLength, 1, System.currentTimeMillis() * 1_000_000);
        return buffer;
    }

    /** A well-formed frame from node 2 holding one message of {@code type} with {@code length} bytes. */
    private static UnsafeBuffer valid(final int type, final int length)
    {
        final int raw = FrameHeader.MESSAGE_HEADER_LENGTH + length;
        final UnsafeBuffer buffer = frame(0, Priority.HIGH.ordinal(), 2, 1, cluster.node(2).incarnation(),
            FrameHeader.LENGTH + raw, raw, raw);
        FrameHeader.putMessageHeader(buffer, FrameHeader.LENGTH, type, length);
        return buffer;
    }

    private static void inject(final UnsafeBuffer buffer)
    {
        inject(buffer, buffer.capacity());
    }

    private static void inject(final UnsafeBuffer buffer, final int length)
    {
        LocalCluster.await(() -> raw.offer(buffer, 0, length) > 0, Duration.ofSeconds(5), "offer");
    }

    private static void expectDrop(final DropCause cause, final UnsafeBuffer buffer, final int length)
    {
        final long before = cluster.node(1).metrics().drops(cause);
        inject(buffer, length);
        LocalCluster.await(() -> cluster.node(1).metrics().drops(cause) == before + 1, Duration.ofSeconds(10),
            cause + " to be counted");
    }

    private static void expectDrop(final DropCause cause, final UnsafeBuffer buffer)
    {
        expectDrop(cause, buffer, buffer.capacity());
    }

    @Test
    void shorterThanAHeaderIsTruncated()
    {
        expectDrop(DropCause.TRUNCATED, new UnsafeBuffer(new byte[10]));
    }

    @Test
    void aHeaderDeclaringMoreThanArrivedIsTruncated()
    {
        final UnsafeBuffer frame = valid(TYPE, 100);
        expectDrop(DropCause.TRUNCATED, frame, frame.capacity() - 30);
    }

    @Test
    void anUnknownVersionIsDropped()
    {
        final UnsafeBuffer frame = valid(TYPE, 4);
        frame.putByte(0, (byte)9);
        expectDrop(DropCause.UNKNOWN_VERSION, frame);
    }

    @Test
    void unknownFlagsOrPriorityAreMalformed()
    {
        final UnsafeBuffer flags = valid(TYPE, 4);
        flags.putByte(1, (byte)0x80);
        expectDrop(DropCause.MALFORMED, flags);
        final UnsafeBuffer priority = valid(TYPE, 4);
        priority.putByte(2, (byte)7);
        expectDrop(DropCause.MALFORMED, priority);
    }

    @Test
    void anUnknownOrOwnSourceNodeIsDropped()
    {
        final UnsafeBuffer unknown = valid(TYPE, 4);
        unknown.putShort(4, (short)99, java.nio.ByteOrder.LITTLE_ENDIAN);
        expectDrop(DropCause.UNKNOWN_NODE, unknown);
        final UnsafeBuffer own = valid(TYPE, 4);
        own.putShort(4, (short)1, java.nio.ByteOrder.LITTLE_ENDIAN);
        expectDrop(DropCause.UNKNOWN_NODE, own);
    }

    @Test
    void anOversizeDeclaredLengthIsDropped()
    {
        final UnsafeBuffer frame = frame(FrameHeader.FLAG_COMPRESSED, Priority.HIGH.ordinal(), 2, 1,
            cluster.node(2).incarnation(), FrameHeader.LENGTH + 16, Integer.MAX_VALUE, 16);
        expectDrop(DropCause.OVERSIZE, frame);
    }

    @Test
    void messagesThatDoNotFillTheFrameAreMalformed()
    {
        final UnsafeBuffer countTooHigh = valid(TYPE, 4);
        countTooHigh.putShort(6, (short)2, java.nio.ByteOrder.LITTLE_ENDIAN);
        expectDrop(DropCause.MALFORMED, countTooHigh);
        final UnsafeBuffer lengthOverrun = valid(TYPE, 4);
        lengthOverrun.putInt(FrameHeader.LENGTH + 4, 1000, java.nio.ByteOrder.LITTLE_ENDIAN);
        expectDrop(DropCause.MALFORMED, lengthOverrun);
        final UnsafeBuffer noMessages = valid(TYPE, 4);
        noMessages.putShort(6, (short)0, java.nio.ByteOrder.LITTLE_ENDIAN);
        expectDrop(DropCause.MALFORMED, noMessages);
    }

    @Test
    void aCompressedPayloadThatDoesNotDecompressIsMalformed()
    {
        final UnsafeBuffer frame = frame(FrameHeader.FLAG_COMPRESSED, Priority.NORMAL.ordinal(), 2, 1,
            cluster.node(2).incarnation(), FrameHeader.LENGTH + 64, 4096, 64);
        final byte[] garbage = new byte[64];
        new Random(3).nextBytes(garbage);
        frame.putBytes(FrameHeader.LENGTH, garbage);
        expectDrop(DropCause.MALFORMED, frame);
    }

    @Test
    void aCompressedMessageThatDoesNotInflateIsDroppedAndTheNextMessageOfItsFrameDelivered()
    {
        final int[][] lies = {{4096, 60}, {-1, 60}, {1 << 30, 60}, {4096, 2}};
        for (final int[] lie : lies)
        {
            final int declaredRaw = lie[0];
            final int badLength = lie[1];
            final int raw = 2 * FrameHeader.MESSAGE_HEADER_LENGTH + badLength + 8;
            final UnsafeBuffer frame = frame(0, Priority.NORMAL.ordinal(), 2, 2, cluster.node(2).incarnation(),
                FrameHeader.LENGTH + raw, raw, raw);
            int at = FrameHeader.LENGTH;
            FrameHeader.putMessageHeader(frame, at, TYPE | FrameHeader.COMPRESSED_MESSAGE, badLength);
            at += FrameHeader.MESSAGE_HEADER_LENGTH;
            final byte[] garbage = new byte[badLength];
            new Random(badLength).nextBytes(garbage);
            frame.putBytes(at, garbage);
            if (badLength >= 4)
            {
                frame.putInt(at, declaredRaw, java.nio.ByteOrder.LITTLE_ENDIAN);
            }
            at += badLength;
            FrameHeader.putMessageHeader(frame, at, TYPE, 8);
            final int before = DELIVERED.get();
            expectDrop(DropCause.MALFORMED, frame);
            LocalCluster.await(() -> DELIVERED.get() == before + 1, Duration.ofSeconds(10),
                "the frame's other message");
        }
    }

    @Test
    void anUnregisteredTypeIsDroppedAndARegisteredOneStillDelivered()
    {
        expectDrop(DropCause.UNKNOWN_TYPE, valid(555, 8));
        final int before = DELIVERED.get();
        inject(valid(TYPE, 8));
        LocalCluster.await(() -> DELIVERED.get() == before + 1, Duration.ofSeconds(10), "a valid injected frame");
    }

    @Test
    void randomGarbageNeverStopsTheAgent()
    {
        final Random random = new Random(11);
        final long dropsBefore = totalDrops();
        for (int i = 0; i < 200; i++)
        {
            final byte[] bytes = new byte[1 + random.nextInt(300)];
            random.nextBytes(bytes);
            if (bytes.length > 0 && random.nextBoolean())
            {
                bytes[0] = FrameHeader.VERSION;
            }
            inject(new UnsafeBuffer(bytes));
        }
        LocalCluster.await(() -> totalDrops() >= dropsBefore + 200, Duration.ofSeconds(10), "200 drops");
        final int before = DELIVERED.get();
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        assertThat(cluster.node(2).send(1, TYPE, Priority.HIGH, payload, 0, 8)).isTrue();
        LocalCluster.await(() -> DELIVERED.get() == before + 1, Duration.ofSeconds(10), "node 2 still heard");
        assertThat(cluster.node(1).view().members()).containsExactly(1, 2);
    }

    private static long totalDrops()
    {
        return cluster.node(1).metrics().drops().values().stream().mapToLong(Long::longValue).sum();
    }
}
