package dev.fusion.replication;

import dev.fusion.cluster.LinkCut;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MemberState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PublisherLeaseTest
{
    @Test
    void aPrimaryCutOffFromTheQuorumRefusesToPublishOnceItsLeaseIsGone(@TempDir final Path dir) throws Exception
    {
        final LinkCut cut = new LinkCut();
        try (LocalCluster cluster = LocalCluster.startWithQuorum(3, b -> LocalCluster.smallMachineDefaults(b)
            .leaseMs(3000, 500, 100).driverCustomizer(b.nodeId() == 1 ? cut::install : c -> c));
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 1024))
        {
            publisher.publish(txn(1));
            assertThat(publisher.position()).isEqualTo(1);

            cut.cut(true);
            LocalCluster.await(() -> !cluster.node(1).hasLease(), Duration.ofSeconds(10), "node 1 to lose its lease");
            assertThatThrownBy(() -> publisher.publish(txn(2)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("holds no lease");
            assertThat(publisher.position()).as("nothing published without the lease").isEqualTo(1);

            LocalCluster.await(() -> cluster.node(2).view().state(1) == MemberState.DEAD, Duration.ofSeconds(20),
                "the majority to declare node 1 dead");
            cut.cut(false);
            LocalCluster.await(() -> cluster.node(1).evicted(), Duration.ofSeconds(20),
                "node 1 to learn it was declared dead");
            assertThatThrownBy(() -> publisher.publish(txn(2))).isInstanceOf(IllegalStateException.class);
        }
    }

    private static Transaction txn(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("t",
            new KeyRef("t", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT, null,
            ("v" + position).getBytes(StandardCharsets.UTF_8))));
    }
}
