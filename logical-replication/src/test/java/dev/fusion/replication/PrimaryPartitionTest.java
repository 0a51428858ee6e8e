package dev.fusion.replication;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LinkCut;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.Primary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The primary is cut off from the membership quorum under load. It takes writes only while its lease lasts (none
 * of them acknowledged), the quorum commits the promotion of a replica and refuses a second one, the old primary
 * refuses writes after the heal even with a new lease, and it comes back as a replica of the new primary through
 * a full sync: one history on all three nodes, with every acknowledged transaction in it.
 */
class PrimaryPartitionTest
{
    private static final int ACKNOWLEDGED_BEFORE = 100;
    private static final int AFTER = 100;

    @Test
    void aPrimaryCutOffIsReplacedByACommittedPromotionRefusesWritesAfterTheHealAndRejoinsTheOneHistory(
        @TempDir final Path dir) throws Exception
    {
        final List<Transaction> history = new Workload(21, 64, 0.05, 0).next(ACKNOWLEDGED_BEFORE + AFTER);
        final TableStore on1 = new TableStore(false, 0);
        final TableStore on2 = new TableStore(true, 0);
        final TableStore on3 = new TableStore(true, 0);
        final long[] positionOn1 = new long[1];
        final long[] positionOn2 = new long[1];
        final LinkCut cut = new LinkCut();
        try (LocalCluster cluster = LocalCluster.startWithQuorum(3, b -> LocalCluster.smallMachineDefaults(b)
            .leaseMs(3000, 500, 100).driverCustomizer(b.nodeId() == 1 ? cut::install : c -> c));
             ReplicationLog log1 = ReplicationLog.open(dir.resolve("log1"), 1 << 20, 1 << 30, false);
             ReplicationLog log2 = ReplicationLog.open(dir.resolve("log2"), 1 << 20, 1 << 30, false);
             ParallelApplier applier2 = new ParallelApplier(on2, 2, true, 256, 100_000, 0);
             ParallelApplier applier3 = new ParallelApplier(on3, 2, true, 256, 100_000, 0);
             Subscriber replica2 = new Subscriber(cluster.node(2), 1, applier2, 256);
             Subscriber replica3 = new Subscriber(cluster.node(3), 1, applier3, 256))
        {
            cluster.awaitFullView(Duration.ofSeconds(30));
            final ClusterNode node1 = cluster.node(1);
            final Publisher primary = new Publisher(node1, log1, 1024, out ->
            {
                synchronized (on1)
                {
                    on1.writeSnapshot(out);
                    return positionOn1[0];
                }
            });
            assertThat(primary.epoch()).isEqualTo(1);
            LocalCluster.await(() -> cluster.node(3).primary().is(1, 1), Duration.ofSeconds(10),
                "every node to know node 1 is the primary of epoch 1");
            LocalCluster.await(() -> primary.subscriptions().size() == 2, Duration.ofSeconds(10), "2 replicas");
            final CommitPolicy all = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(2, 3), 0);
            for (final Transaction t : history.subList(0, ACKNOWLEDGED_BEFORE))
            {
                commit(on1, positionOn1, primary, t);
                assertThat(primary.publish(t, all).get(10, TimeUnit.SECONDS).outcome())
                    .isEqualTo(CommitOutcome.TARGET_ACHIEVED);
            }

            cut.cut(true);
            final List<Long> unacknowledged = new ArrayList<>();
            long position = history.get(ACKNOWLEDGED_BEFORE - 1).position();
            Throwable refused = null;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (null == refused && System.nanoTime() - deadline < 0)
            {
                final Transaction t = divergent(++position);
                try
                {
                    commit(on1, positionOn1, primary, t);
                    primary.publish(t);
                    unacknowledged.add(t.position());
                }
                catch (final IllegalStateException ex)
                {
                    refused = ex;
                }
                Thread.sleep(20);
            }
            assertThat(refused).as("the cut-off primary refuses writes once its lease is gone")
                .hasMessageContaining("holds no lease");
            assertThat(unacknowledged).as("it took writes only while its lease lasted").isNotEmpty();

            LocalCluster.await(() -> cluster.node(2).view().state(1) == MemberState.DEAD, Duration.ofSeconds(20),
                "the majority to declare node 1 dead");
            positionOn2[0] = applier2.watermark();
            final Publisher promoted = replica2.promote(log2, 1024, 10_000, out ->
            {
                synchronized (on2)
                {
                    on2.writeSnapshot(out);
                    return positionOn2[0];
                }
            });
            assertThat(promoted.epoch()).as("the quorum committed the next primary epoch").isEqualTo(2);
            assertThat(cluster.node(3).primary()).isEqualTo(new Primary(2, 2));
            assertThatThrownBy(() -> cluster.node(3).claimPrimary(5000)).as("a second promotion")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("node 2 is the primary");
            replica3.follow(2);
            LocalCluster.await(() -> promoted.subscriptions().containsKey(3), Duration.ofSeconds(10),
                "node 3 to follow node 2");
            final CommitPolicy three = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(5),
                Set.of(3), 0);
            for (final Transaction t : history.subList(ACKNOWLEDGED_BEFORE, ACKNOWLEDGED_BEFORE + AFTER))
            {
                commit(on2, positionOn2, promoted, t);
                assertThat(promoted.publish(t, three).get(10, TimeUnit.SECONDS).outcome())
                    .isEqualTo(CommitOutcome.TARGET_ACHIEVED);
            }

            cut.cut(false);
            LocalCluster.await(node1::evicted, Duration.ofSeconds(20), "node 1 to learn it was declared dead");
            node1.rejoin();
            assertThat(node1.awaitLease(20_000)).as("node 1 holds a lease again").isTrue();
            LocalCluster.await(() -> node1.primary().is(2, 2), Duration.ofSeconds(10),
                "node 1 to learn node 2 is the primary");
            assertThatThrownBy(() -> primary.publish(divergent(10_000))).as("the old primary, with a new lease")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no longer the primary");
            assertThatThrownBy(() -> new Publisher(node1, log1, 16)).as("a new publisher on the old primary")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("node 2 is the primary");
            primary.close();

            final long applied1 = positionOn1[0];
            try (ParallelApplier applier1 = new ParallelApplier(on1, 2, true, 256, 100_000, applied1);
                 Subscriber replica1 = new Subscriber(node1, 2, applier1, 256,
                     (in, at) -> on1.loadSnapshot(in), primary.epoch()))
            {
                LocalCluster.await(() -> replica1.fullSyncs() == 1, Duration.ofSeconds(30),
                    "node 1 to be full-synced from node 2: its tail past where node 2 took over" +
                        " was never in the new history");
                final long last = history.get(history.size() - 1).position();
                assertThat(applier1.awaitWatermark(last, 30_000)).isTrue();
                assertThat(applier3.awaitWatermark(last, 30_000)).isTrue();
            }
            promoted.close();
        }
        assertThat(on2.snapshot()).isEqualTo(serial(history).snapshot());
        assertThat(on3.snapshot()).isEqualTo(on2.snapshot());
        assertThat(on1.snapshot()).as("the old primary holds the one history, not its own tail")
            .isEqualTo(on2.snapshot());
    }

    /** The engine commits only while its node may publish, as {@code H2Capture} does. */
    private static void commit(final TableStore store, final long[] position, final Publisher publisher,
        final Transaction t)
    {
        publisher.checkLease();
        synchronized (store)
        {
            store.apply(t);
            store.commit(t);
            position[0] = t.position();
        }
    }

    /** A transaction only the cut-off primary ever has: a row of the table without a primary key. */
    private static Transaction divergent(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("log", null, null, null,
            ChangeOp.INSERT, null, ("divergent " + position).getBytes(StandardCharsets.UTF_8))));
    }

    private static TableStore serial(final List<Transaction> txns)
    {
        final TableStore store = new TableStore(false, 0);
        for (final Transaction t : txns)
        {
            store.apply(t);
            store.commit(t);
        }
        return store;
    }
}
