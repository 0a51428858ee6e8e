package dev.fusion.replication;

import dev.fusion.cluster.LocalCluster;
import org.agrona.CloseHelper;
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

/**
 * Synchronous commit levels with three subscribers: QUORUM holds with one of them gone and reports
 * BELOW_QUORUM, after the timeout, with two gone; ALL and ONE report what they reached; and no subscriber is
 * ever reported as having acknowledged what it had not applied.
 */
class SyncCommitTest
{
    private static Transaction txn(final long position)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change("t",
            new KeyRef("t", ("k" + position).getBytes(StandardCharsets.UTF_8)), null, null, ChangeOp.INSERT, null,
            ("v" + position).getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void quorumCommitsSurviveOneLostSubscriberAndReportBelowQuorumWithTwoLost(@TempDir final Path dir)
        throws Exception
    {
        final Set<Integer> configured = Set.of(2, 3, 4);
        final CommitPolicy quorum = new CommitPolicy(CommitLevel.QUORUM, AckPoint.APPLIED, Duration.ofSeconds(2),
            configured, 0);
        final CommitPolicy all = new CommitPolicy(CommitLevel.ALL, AckPoint.APPLIED, Duration.ofSeconds(2),
            configured, 0);
        final CommitPolicy one = new CommitPolicy(CommitLevel.ONE, AckPoint.RECEIVED, Duration.ofSeconds(2),
            configured, 0);
        final List<ParallelApplier> appliers = new ArrayList<>();
        final List<Subscriber> subscribers = new ArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(4, LocalCluster::smallMachineDefaults);
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 1024))
        {
            for (int id = 2; id <= 4; id++)
            {
                final ParallelApplier applier = new ParallelApplier(txn -> { }, 2, true, 256, 100_000, 0);
                appliers.add(applier);
                subscribers.add(new Subscriber(cluster.node(id), 1, applier, 256));
            }
            cluster.awaitFullView(Duration.ofSeconds(30));
            LocalCluster.await(() -> publisher.subscriptions().size() == 3, Duration.ofSeconds(10), "3 subscriptions");

            long position = 0;
            CommitResult r = publisher.publish(txn(++position), all).get(10, TimeUnit.SECONDS);
            assertThat(r.outcome()).isEqualTo(CommitOutcome.TARGET_ACHIEVED);
            assertThat(r.acked()).isEqualTo(configured);
            checkAcked(r, appliers);
            r = publisher.publish(txn(++position), quorum).get(10, TimeUnit.SECONDS);
            assertThat(r.outcome()).isEqualTo(CommitOutcome.QUORUM_ACHIEVED);
            assertThat(r.acked()).hasSizeGreaterThanOrEqualTo(2);
            checkAcked(r, appliers);

            // subscriber 4 goes away
            stop(cluster, 4, subscribers, appliers);
            for (int i = 0; i < 5; i++)
            {
                r = publisher.publish(txn(++position), quorum).get(10, TimeUnit.SECONDS);
                assertThat(r.outcome()).isEqualTo(CommitOutcome.QUORUM_ACHIEVED);
                assertThat(r.acked()).isSubsetOf(2, 3).hasSize(2);
                checkAcked(r, appliers);
            }
            r = publisher.publish(txn(++position), all).get(10, TimeUnit.SECONDS);
            assertThat(r.outcome()).as("ALL with one gone times out with a quorum").isEqualTo(
                CommitOutcome.QUORUM_ACHIEVED);
            assertThat(r.waitedMs()).isGreaterThanOrEqualTo(1_900);

            // subscriber 3 goes away too
            stop(cluster, 3, subscribers, appliers);
            r = publisher.publish(txn(++position), quorum).get(10, TimeUnit.SECONDS);
            assertThat(r.outcome()).isEqualTo(CommitOutcome.BELOW_QUORUM);
            assertThat(r.waitedMs()).as("only after the timeout").isGreaterThanOrEqualTo(1_900);
            assertThat(r.acked()).isSubsetOf(2);
            checkAcked(r, appliers);
            r = publisher.publish(txn(++position), one).get(10, TimeUnit.SECONDS);
            assertThat(r.outcome()).isEqualTo(CommitOutcome.TARGET_ACHIEVED);
            assertThat(r.acked()).containsExactly(2);

            final CommitResult async = publisher.publish(txn(++position),
                new CommitPolicy(CommitLevel.ASYNC, AckPoint.APPLIED, Duration.ZERO, configured, 0)).getNow(null);
            assertThat(async).isNotNull();
            assertThat(async.outcome()).isEqualTo(CommitOutcome.TARGET_ACHIEVED);
            final CommitResult nobody = publisher.publish(txn(++position),
                new CommitPolicy(CommitLevel.ONE, AckPoint.APPLIED, Duration.ofMillis(300), Set.of(7), 0))
                .get(10, TimeUnit.SECONDS);
            assertThat(nobody.outcome()).isEqualTo(CommitOutcome.NO_REPLICATION);
        }
        finally
        {
            for (final Subscriber s : subscribers)
            {
                s.close();
            }
            for (final ParallelApplier a : appliers)
            {
                a.close();
            }
        }
    }

    /** Every subscriber reported as having acked the position has applied it. */
    private static void checkAcked(final CommitResult r, final List<ParallelApplier> appliers)
    {
        for (final int id : r.acked())
        {
            assertThat(appliers.get(id - 2).watermark()).as("subscriber %d applied %d", id, r.position())
                .isGreaterThanOrEqualTo(r.position());
        }
    }

    private static void stop(final LocalCluster cluster, final int id, final List<Subscriber> subscribers,
        final List<ParallelApplier> appliers) throws InterruptedException
    {
        subscribers.get(id - 2).close();
        appliers.get(id - 2).close();
        cluster.stop(id);
    }
}
