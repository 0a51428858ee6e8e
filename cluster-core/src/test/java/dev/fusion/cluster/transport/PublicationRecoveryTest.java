package dev.fusion.cluster.transport;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.Priority;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.SystemEpochNanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two transport agents driven on the test thread: a publication that reports CLOSED, and one that reports
 * MAX_POSITION_EXCEEDED (placed at the end of its last possible term), are each replaced, counted and logged, and
 * every message queued meanwhile is delivered, once.
 */
class PublicationRecoveryTest
{
    private static final int TYPE = 100;

    @Test
    void aClosedOrExhaustedPublicationIsReplacedAndNoQueuedMessageIsLost(@TempDir final Path dir) throws Exception
    {
        final int[] ports = new int[2];
        for (int i = 0; i < 2; i++)
        {
            try (DatagramSocket s = new DatagramSocket(0))
            {
                ports[i] = s.getLocalPort();
            }
        }
        try (MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
                 .aeronDirectoryName(dir.resolve("aeron").toString())
                 .threadingMode(ThreadingMode.SHARED)
                 .sharedIdleStrategy(new BackoffIdleStrategy(10, 20, 1_000, TimeUnit.MICROSECONDS.toNanos(200)))
                 .dirDeleteOnStart(true)
                 .dirDeleteOnShutdown(true));
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            final List<Integer> received = new ArrayList<>();
            final TransportCounters counters = new TransportCounters(
                name -> aeron.addCounter(1001, "test node 1: " + name));
            final TransportAgent one = agent(1, ports, aeron, new Handlers(), counters);
            final Handlers handlers = new Handlers();
            handlers.register(TYPE, (source, type, buffer, offset, length) -> received.add(buffer.getInt(offset)));
            final TransportAgent two = agent(2, ports, aeron, handlers, new TransportCounters(
                name -> aeron.addCounter(1001, "test node 2: " + name)));
            try
            {
                drive(one, two, () -> one.view().members().size() == 2 && two.view().members().size() == 2,
                    "the two agents to see each other");
                final UnsafeBuffer message = new UnsafeBuffer(new byte[4]);
                int next = 0;

                // CLOSED: the client closed it under the agent
                final long recreatedBefore = counters.publicationsRecreated.get();
                one.peer(2).publication(Priority.Stream.CONTROL).close();
                for (int i = 0; i < 100; i++)
                {
                    message.putInt(0, next++);
                    assertThat(one.offer(2, TYPE, Priority.HIGH, message, 0, 4)).isTrue();
                }
                final int sentClosed = next;
                drive(one, two, () -> received.size() == sentClosed, "the messages sent after CLOSED");
                assertThat(counters.publicationsRecreated.get()).isEqualTo(recreatedBefore + 1);

                // MAX_POSITION_EXCEEDED: a publication 1 KiB before the largest position its term length allows
                final int termLength = 256 << 10;
                final ExclusivePublication exhausted = aeron.addExclusivePublication(
                    PeerChannel.channel("127.0.0.1:" + ports[1], termLength, 1408) +
                    "|init-term-id=0|term-id=" + Integer.MAX_VALUE + "|term-offset=" + (termLength - 1024),
                    TransportAgent.CONTROL_STREAM_ID);
                assertThat(exhausted.maxPossiblePosition() - exhausted.position()).isEqualTo(1024);
                one.peer(2).use(Priority.Stream.CONTROL, exhausted);
                drive(one, two, exhausted::isConnected, "the exhausted publication to connect");
                for (int i = 0; i < 400; i++)
                {
                    message.putInt(0, next++);
                    while (!one.offer(2, TYPE, Priority.HIGH, message, 0, 4))
                    {
                        one.doWork();
                        two.doWork();
                    }
                }
                final int sent = next;
                drive(one, two, () -> received.size() == sent, "every message, across the exhausted publication");
                assertThat(counters.publicationsRecreated.get()).isEqualTo(recreatedBefore + 2);
                assertThat(exhausted.isClosed()).isTrue();
            }
            finally
            {
                one.onClose();
                two.onClose();
            }
            final List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < received.size(); i++)
            {
                expected.add(i);
            }
            assertThat(received).as("each message once").containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    private static TransportAgent agent(final int id, final int[] ports, final Aeron aeron, final Handlers handlers,
        final TransportCounters counters)
    {
        final ClusterConfig config = LocalCluster.smallMachineDefaults(ClusterConfig.builder().nodeId(id)
            .member(1, "127.0.0.1", ports[0]).member(2, "127.0.0.1", ports[1])).favourAvailability(true).build();
        return new TransportAgent(config, aeron, null, null, id, handlers, counters, new MetricsRecorder(),
            new SystemNanoClock(), new SystemEpochNanoClock(), view -> { }, null);
    }

    private static void drive(final TransportAgent one, final TransportAgent two, final BooleanSupplier done,
        final String what) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new AssertionError("timed out waiting for " + what);
            }
            if (one.doWork() + two.doWork() == 0)
            {
                Thread.sleep(0, 100_000);
            }
        }
    }
}
