package dev.fusion.cluster;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** By default bulk messages are compressed only while the link is busy: a lone page goes raw, a stream does not. */
class AdaptiveCompressionTest
{
    private static final int PAGE = 101;
    private static LocalCluster cluster;
    private static final Map<Integer, byte[]> RECEIVED = new ConcurrentHashMap<>();
    private static final AtomicInteger ARRIVED = new AtomicInteger();

    @BeforeAll
    static void startCluster()
    {
        cluster = LocalCluster.start(2, b -> b);
        cluster.node(2).registerHandler(PAGE, (source, type, buffer, offset, length) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            RECEIVED.put(Arrays.hashCode(bytes), bytes);
            ARRIVED.incrementAndGet();
        });
        cluster.awaitFullView(Duration.ofSeconds(20));
    }

    @AfterAll
    static void stopCluster()
    {
        cluster.close();
    }

    @Test
    void aLonePageOnAnIdleLinkGoesRawAndAStreamIsCompressed() throws Exception
    {
        final Random random = new Random(3);
        final ClusterNode sender = cluster.node(1);
        final long messagesBefore = sender.metrics().counter("messages_compressed");
        final long framesBefore = sender.metrics().counter("frames_compressed");
        for (int i = 1; i <= 5; i++)
        {
            final byte[] lone = ClusterNodeMessagingTest.pageLike(8192, random);
            assertThat(sender.send(2, PAGE, Priority.NORMAL, new UnsafeBuffer(lone), 0, lone.length)).isTrue();
            final int arrived = i;
            LocalCluster.await(() -> ARRIVED.get() == arrived, Duration.ofSeconds(30), "a lone page");
            assertThat(RECEIVED.get(Arrays.hashCode(lone))).isEqualTo(lone);
        }
        assertThat(sender.metrics().counter("messages_compressed")).as("lone pages on an idle link")
            .isEqualTo(messagesBefore);
        assertThat(sender.metrics().counter("frames_compressed")).isEqualTo(framesBefore);

        // a stream queued faster than one cycle drains it: a backlog, so the link counts as busy
        final byte[][] pages = new byte[64][];
        for (int i = 0; i < pages.length; i++)
        {
            pages[i] = ClusterNodeMessagingTest.pageLike(8192, random);
        }
        int sent = 5;
        for (int round = 0; round < 200 && sender.metrics().counter("messages_compressed") == messagesBefore; round++)
        {
            for (final byte[] page : pages)
            {
                while (!sender.send(2, PAGE, Priority.NORMAL, new UnsafeBuffer(page), 0, page.length))
                {
                    Thread.yield();
                }
                sent++;
            }
        }
        final int expected = sent;
        LocalCluster.await(() -> ARRIVED.get() == expected, Duration.ofSeconds(30), "every page");
        assertThat(sender.metrics().counter("messages_compressed")).as("pages sent while the link was busy")
            .isGreaterThan(messagesBefore);
        for (final byte[] page : pages)
        {
            assertThat(RECEIVED.get(Arrays.hashCode(page))).isEqualTo(page);
        }

        // the burst is over: after a quiet spell the link is idle again, and lone pages go raw
        Thread.sleep(50);
        final long afterBurst = sender.metrics().counter("messages_compressed");
        final long framesAfterBurst = sender.metrics().counter("frames_compressed");
        for (int i = 1; i <= 3; i++)
        {
            final byte[] lone = ClusterNodeMessagingTest.pageLike(8192, random);
            assertThat(sender.send(2, PAGE, Priority.NORMAL, new UnsafeBuffer(lone), 0, lone.length)).isTrue();
            final int arrived = expected + i;
            LocalCluster.await(() -> ARRIVED.get() == arrived, Duration.ofSeconds(30), "a lone page after the burst");
            Thread.sleep(20);
        }
        assertThat(sender.metrics().counter("messages_compressed")).as("lone pages once the burst is over")
            .isEqualTo(afterBurst);
        assertThat(sender.metrics().counter("frames_compressed")).isEqualTo(framesAfterBurst);
    }
}
