package dev.fusion.cluster;

import dev.fusion.cluster.transport.FrameHeader;
import dev.fusion.cluster.transport.TransportAgent;
import io.aeron.Aeron;
import io.aeron.Publication;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class FencingTest
{
    @Test
    void aDeadNodeIsRemovedInANewEpochAndItsLateFramesAreFenced()
    {
        try (LocalCluster cluster = LocalCluster.start(3, LocalCluster::smallMachineDefaults))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            final List<MembershipView> seen = new CopyOnWriteArrayList<>();
            cluster.node(1).addMembershipListener((before, after) -> seen.add(after));
            final long epochBefore = cluster.node(1).view().epoch();
            final int oldIncarnation = cluster.node(3).incarnation();

            cluster.stop(3);
            LocalCluster.await(() -> !cluster.node(1).view().contains(3) && !cluster.node(2).view().contains(3),
                Duration.ofSeconds(15), "node 3 to be declared dead");
            assertThat(cluster.node(1).view().epoch()).isGreaterThan(epochBefore);
            assertThat(cluster.node(1).view().state(3)).isEqualTo(MemberState.DEAD);
            LocalCluster.await(() -> !seen.isEmpty(), Duration.ofSeconds(5), "the listener to be told");
            assertThat(seen).last().satisfies(v -> assertThat(v.members()).containsExactly(1, 2));

            final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
            assertThat(cluster.node(1).send(3, 100, Priority.HIGH, payload, 0, 8))
                .as("sending to a dead node is refused").isFalse();

            try (Aeron client = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.node(2).aeronDirectory())))
            {
                final Publication raw = client.addPublication(
                    "aeron:udp?endpoint=" + cluster.node(1).config().self().endpoint(), TransportAgent.CONTROL_STREAM_ID);
                LocalCluster.await(raw::isConnected, Duration.ofSeconds(10), "raw publication");
                final int rawLength = FrameHeader.MESSAGE_HEADER_LENGTH;
                final UnsafeBuffer frame = new UnsafeBuffer(new byte[FrameHeader.LENGTH + rawLength]);
                new FrameHeader().wrap(frame, 0).write(0, Priority.CRITICAL.ordinal(), 3, 1, epochBefore,
                    oldIncarnation, frame.capacity(), rawLength, 99, 0);
                FrameHeader.putMessageHeader(frame, FrameHeader.LENGTH, TransportAgent.HEARTBEAT_TYPE, 0);
                final long fencedBefore = cluster.node(1).metrics().drops(DropCause.FENCED);
                LocalCluster.await(() -> raw.offer(frame, 0, frame.capacity()) > 0, Duration.ofSeconds(5), "offer");
                LocalCluster.await(() -> cluster.node(1).metrics().drops(DropCause.FENCED) > fencedBefore,
                    Duration.ofSeconds(10), "the zombie heartbeat to be fenced");
                assertThat(cluster.node(1).view().contains(3)).as("a fenced heartbeat does not readmit").isFalse();
            }
        }
    }
}
