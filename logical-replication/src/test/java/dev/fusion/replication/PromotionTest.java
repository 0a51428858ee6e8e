package dev.fusion.replication;

import dev.fusion.cluster.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The publisher dies; a caught-up replica is promoted and takes writes, the other replica follows it, and no
 * acknowledged transaction is lost. Replicas refuse local writes until promoted.
 */
class PromotionTest
{
    private static Transaction txn(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("t",
            new KeyRef("t", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT, null,
            ("v" + position).getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void aPromotedReplicaTakesWritesTheOtherFollowsAndNoAcknowledgedTransactionIsLost(@TempDir final Path dir)
        throws Exception
    {
        final List<Long> appliedOn2 = new CopyOnWriteArrayList<>();
        final List<Long> appliedOn3 = new CopyOnWriteArrayList<>();
        final List<Long> acknowledged = new ArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(3, LocalCluster::smallMachineDefaults);
             ReplicationLog log1 = ReplicationLog.open(dir.resolve("log1"), 1 << 20, 1 << 30, false);
             ReplicationLog log2 = ReplicationLog.open(dir.resolve("log2"), 1 << 20, 1 << 30, false);
             ParallelApplier applier2 = new ParallelApplier(new ApplyHandler()
             {
                 @Override
                 public void apply(final Transaction t)
                 {
                 }

                 @Override
                 public void commit(final Transaction t)
                 {
                     appliedOn2.add(t.position());
                 }
             }, 4, true, 256, 100_000, 0);
             ParallelApplier applier3 = new ParallelApplier(new ApplyHandler()
             {
                 @Override
                 public void apply(final Transaction t)
                 {
                 }

                 @Override
                 public void commit(final Transaction t)
                 {
                     appliedOn3.add(t.position());
                 }
             }, 4, true, 256, 100_000, 0);
             Subscriber replica2 = new Subscriber(cluster.node(2), 1, applier2, 256);
             Subscriber replica3 = new Subscriber(cluster.node(3), 1, applier3, 256))
        {
            cluster.awaitFullView(Duration.ofSeconds(30));
            final Publisher publisher = new Publisher(cluster.node(1), log1, 1024);
            LocalCluster.await(() -> publisher.subscriptions().size() == 2, Duration.ofSeconds(10), "2 replicas");
            final CommitPolicy all = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(2, 3), 0);
            long position = 0;
            for (int i = 0; i < 60; i++)
            {
                final CommitResult r = publisher.publish(txn(++position), all).get(10, TimeUnit.SECONDS);
                if (r.outcome() == CommitOutcome.TARGET_ACHIEVED)
                {
                    acknowledged.add(r.position());
                }
            }
            assertThat(acknowledged).hasSize(60);
            assertThatThrownBy(() -> replica2.writeGuard().checkWritable())
                .isInstanceOf(ReadOnlyReplicaException.class).hasMessageContaining("read-only replica of node 1");

            // the publisher dies
            publisher.close();
            cluster.stop(1);
            LocalCluster.await(() -> !cluster.node(2).view().contains(1) && !cluster.node(3).view().contains(1),
                Duration.ofSeconds(10), "node 1 declared dead");

            final Publisher promoted = replica2.promote(log2, 1024, 10_000);
            assertThat(replica2.writeGuard().isWritable()).isTrue();
            replica3.follow(2);
            assertThatThrownBy(() -> replica3.writeGuard().checkWritable())
                .hasMessageContaining("read-only replica of node 2");
            LocalCluster.await(() -> promoted.subscriptions().containsKey(3), Duration.ofSeconds(10),
                "node 3 subscribed to node 2");
            final CommitPolicy one = new CommitPolicy(CommitLevel.ONE, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(3), 0);
            for (int i = 0; i < 100; i++)
            {
                final CommitResult r = promoted.publish(txn(++position), one).get(10, TimeUnit.SECONDS);
                assertThat(r.outcome()).isEqualTo(CommitOutcome.TARGET_ACHIEVED);
                acknowledged.add(r.position());
            }
            assertThat(applier3.awaitWatermark(position, 30_000)).isTrue();
            assertThat(promoted.epoch()).isEqualTo(2);
            assertThat(replica3.epoch()).isEqualTo(2);
            // a stream of the replaced publisher's epoch is rejected, whoever sends it
            final org.agrona.ExpandableArrayBuffer stale = new org.agrona.ExpandableArrayBuffer(256);
            stale.putLong(0, 1, java.nio.ByteOrder.LITTLE_ENDIAN);
            stale.putLong(8, position, java.nio.ByteOrder.LITTLE_ENDIAN);
            final int length = 16 + TransactionCodec.encode(txn(position + 1), stale, 16);
            assertThat(cluster.node(2).send(3, StreamMessages.TXN, dev.fusion.cluster.Priority.NORMAL, stale, 0,
                length)).isTrue();
            LocalCluster.await(() -> replica3.fencedMessages() == 1, Duration.ofSeconds(10), "the stale stream fenced");
            assertThat(applier3.watermark()).isEqualTo(position);
            assertThat(appliedOn3).as("node 3 has every acknowledged transaction, once, in order")
                .containsExactlyElementsOf(acknowledged);
            assertThat(appliedOn2).as("the promoted node had every acknowledged transaction of node 1")
                .containsExactlyElementsOf(acknowledged.subList(0, 60));
            promoted.close();
        }
    }
}
