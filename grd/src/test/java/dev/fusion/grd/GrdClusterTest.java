package dev.fusion.grd;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

import static dev.fusion.grd.LockMode.EXCLUSIVE;
import static dev.fusion.grd.LockMode.SHARED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GrdClusterTest
{
    private LocalCluster cluster;
    private final List<GlobalResourceDirectory> grds = new ArrayList<>();

    private void start(final int nodes, final GrdConfig config, final RecoveryHandler recovery)
    {
        // a node restarted while another is down waits this long before it stops expecting it
        cluster = LocalCluster.start(nodes, b -> LocalCluster.smallMachineDefaults(b).absentTimeoutMs(3000));
        for (final ClusterNode node : cluster.nodes())
        {
            grds.add(GlobalResourceDirectory.start(node, config, recovery));
        }
        cluster.awaitFullView(Duration.ofSeconds(20));
    }

    @AfterEach
    void stop()
    {
        CloseHelper.quietCloseAll(grds);
        if (null != cluster)
        {
            cluster.close();
        }
    }

    private GlobalResourceDirectory grd(final int node)
    {
        return grds.get(node - 1);
    }

    /** Closes a node's directory and the node, as a crash looks to the others; waits until the observers see it dead. */
    private void crash(final int node, final int... observers)
    {
        grds.get(node - 1).close();
        cluster.stop(node);
        LocalCluster.await(() -> java.util.Arrays.stream(observers).noneMatch(o -> cluster.node(o).view().contains(node)),
            Duration.ofSeconds(10), "node " + node + " declared dead");
    }

    /** Starts a crashed node again, a new incarnation, with its directory. */
    private void restart(final int node, final GrdConfig config)
    {
        grds.set(node - 1, GlobalResourceDirectory.start(cluster.restart(node), config, RecoveryHandler.NONE));
    }

    /** Remastering after 3 requests in a row, at once, the object rule off. */
    private static GrdConfig quickRemastering()
    {
        return GrdConfig.builder().remoteRequestsToRemaster(3).minResidence(Duration.ZERO)
            .objectRule(0, Duration.ofSeconds(1), 20).build();
    }

    /** A resource whose ring master is {@code master}. */
    private long resourceMasteredBy(final int master, final int salt)
    {
        return resourceWhere(salt * 1000, r -> grd(1).masterOf(r) == master);
    }

    /** The first resource from block {@code from} on that is {@code wanted} (say, by its masters on some rings). */
    private static long resourceWhere(final int from, final java.util.function.LongPredicate wanted)
    {
        for (int block = from; ; block++)
        {
            final long r = ResourceId.of(9, block);
            if (wanted.test(r))
            {
                return r;
            }
        }
    }

    @Test
    void everyNodeAgreesOnMastersAndExclusiveWaitsForRelease() throws Exception
    {
        start(3, GrdConfig.builder().remastering(false).ownThread(true).build(), RecoveryHandler.NONE);
        for (long r = 0; r < 1000; r++)
        {
            assertThat(grd(2).masterOf(r)).isEqualTo(grd(1).masterOf(r)).isEqualTo(grd(3).masterOf(r));
        }
        final long r = resourceMasteredBy(3, 1);
        assertThat(grd(1).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        final var waiting = grd(2).acquire(r, SHARED);
        Thread.sleep(100);
        assertThat(waiting).isNotDone();
        grd(1).release(r).get(5, TimeUnit.SECONDS);
        assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo(SHARED);
        assertThat(grd(3).acquire(r, SHARED).get(5, TimeUnit.SECONDS)).isEqualTo(SHARED);
        assertThat(grd(1).stats().remoteGrants()).isEqualTo(1);
        assertThat(grd(3).stats().localGrants()).isEqualTo(1);
        assertThat(grd(3).stats().grantsServed()).isEqualTo(3);
    }

    @Test
    void badRequestsFailWithAClearReasonAndChangeNothing() throws Exception
    {
        start(2, GrdConfig.builder().remastering(false).build(), RecoveryHandler.NONE);
        final long r = resourceMasteredBy(2, 2);
        assertThatThrownBy(() -> grd(1).release(r).join())
            .isInstanceOf(CompletionException.class).hasCauseInstanceOf(GrdException.class)
            .hasMessageContaining("NOT_HELD");
        assertThatThrownBy(() -> grd(1).acquire(r, LockMode.NULL).join()).hasMessageContaining("INVALID_MODE");
        assertThatThrownBy(() -> grd(1).downgrade(r, SHARED).join()).hasMessageContaining("NOT_HELD");

        grd(2).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS);
        assertThatThrownBy(() -> grd(1).acquire(r, SHARED, Duration.ofMillis(200)).join())
            .hasMessageContaining("TIMED_OUT");
        grd(2).release(r).get(5, TimeUnit.SECONDS);
        assertThat(grd(2).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS))
            .as("the timed-out request was cancelled, not left to grant behind our back").isEqualTo(EXCLUSIVE);
        grd(2).release(r).get(5, TimeUnit.SECONDS);

        // a report of a resource given to a node that is no member is dropped, not kept (it froze the resource)
        final org.agrona.concurrent.UnsafeBuffer given = new org.agrona.concurrent.UnsafeBuffer(
            new byte[GrdMessages.REQUEST_LENGTH]);
        GrdMessages.request(given, GrdMessages.OP_REPORT_GIVEN, LockMode.NULL, 0, 1, 0, r);
        GrdMessages.extras(given, 0, 99);
        assertThat(cluster.node(1).send(2, GrdMessages.REQUEST, dev.fusion.cluster.Priority.HIGH, given, 0,
            GrdMessages.REQUEST_LENGTH)).isTrue();
        Thread.sleep(200);
        assertThat(grd(1).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
    }

    @Test
    void twoHoldersConvertingAtOnceDeadlockIsRefused() throws Exception
    {
        start(3, GrdConfig.builder().remastering(false).build(), RecoveryHandler.NONE);
        final long r = resourceMasteredBy(3, 3);
        grd(1).acquire(r, SHARED).get(5, TimeUnit.SECONDS);
        grd(2).acquire(r, SHARED).get(5, TimeUnit.SECONDS);
        final var first = grd(1).acquire(r, EXCLUSIVE);
        Thread.sleep(100);
        assertThatThrownBy(() -> grd(2).acquire(r, EXCLUSIVE).join()).hasMessageContaining("CONVERSION_DEADLOCK");
        grd(2).release(r).get(5, TimeUnit.SECONDS);
        assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
    }

    @Test
    void aResourceUsedByOneRemoteNodeMovesToIt() throws Exception
    {
        start(3, GrdConfig.builder().remoteRequestsToRemaster(3).minResidence(Duration.ZERO).build(),
            RecoveryHandler.NONE);
        final long r = resourceMasteredBy(1, 4);
        for (int i = 0; i < 3; i++)
        {
            grd(2).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS);
            grd(2).release(r).get(5, TimeUnit.SECONDS);
        }
        LocalCluster.await(() -> grd(1).masterOf(r) == 2 && grd(2).masterOf(r) == 2 && grd(3).masterOf(r) == 2,
            Duration.ofSeconds(10), "every node to see node 2 as the new master");
        final long localBefore = grd(2).stats().localGrants();
        grd(2).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS);
        assertThat(grd(2).stats().localGrants()).isEqualTo(localBefore + 1);
        assertThat(grd(1).stats().remastersOut()).isEqualTo(1);
        assertThat(grd(2).stats().remastersIn()).isEqualTo(1);
        assertThat(grd(3).acquire(r, SHARED, Duration.ofMillis(200)))
            .as("node 3 waits behind node 2's EXCLUSIVE at the new master")
            .failsWithin(Duration.ofSeconds(5));
        grd(2).release(r).get(5, TimeUnit.SECONDS);
    }

    @Test
    void survivorsAgreeOnMastersWhenTheNodeAResourceMovedToDiesBeforeAnnouncingIt() throws Exception
    {
        start(3, GrdConfig.builder().remoteRequestsToRemaster(3).minResidence(Duration.ZERO).build(),
            RecoveryHandler.NONE);
        // a resource the ring gives node 3, and node 2 once node 3 is gone
        final MasterRing survivors = MasterRing.of(List.of(1, 2), GrdConfig.builder().build().virtualNodes());
        final long r = resourceWhere(0, c -> grd(1).masterOf(c) == 3 && survivors.masterOf(c) == 2);
        moveTo(1, r);
        // node 3 takes it back and its own announcement to node 2 is lost (it dies before sending it): node 2 must
        // learn the move from node 1, which made it. Told only by node 3, node 2 kept pointing at node 1 while node 1,
        // its override to the dead node dropped, pointed at the ring (node 2): NOT_MASTER for good
        cluster.node(2).receiveFilter((source, type, buffer, offset, length) ->
            !(source == 3 && type == GrdMessages.MASTER));
        moveTo(3, r);
        LocalCluster.await(() -> grd(2).masterOf(r) == 3, Duration.ofSeconds(10),
            "node 2 to learn the move from the old master");
        grds.get(2).close();
        cluster.stop(3);
        LocalCluster.await(() -> !cluster.node(1).view().contains(3) && !cluster.node(2).view().contains(3),
            Duration.ofSeconds(10), "node 3 declared dead");
        LocalCluster.await(() -> grd(1).masterOf(r) == 2 && grd(2).masterOf(r) == 2, Duration.ofSeconds(10),
            "the survivors to agree on the ring master (node 1 says " + grd(1).masterOf(r) + ", node 2 says " +
                grd(2).masterOf(r) + ")");
        for (final int node : new int[]{1, 2})
        {
            assertThat(grd(node).acquire(r, EXCLUSIVE, Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS))
                .as("node %d is granted after the reconfiguration", node).isEqualTo(EXCLUSIVE);
            grd(node).release(r).get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aDeadNodeThatRestartsDoesNotGrantWhatTheSurvivorsMasteredWhileItWasDead() throws Exception
    {
        start(3, GrdConfig.builder().remastering(false).build(), RecoveryHandler.NONE);
        final long r = resourceMasteredBy(3, 0);
        assertThat(grd(1).acquire(r, EXCLUSIVE).get(10, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        crash(3, 1, 2);
        final CompletableFuture<LockMode> whileDead = grd(2).acquire(r, EXCLUSIVE);
        Thread.sleep(300);
        assertThat(whileDead).as("node 1 still holds it EXCLUSIVE").isNotDone();

        restart(3, GrdConfig.builder().remastering(false).build());
        cluster.awaitFullView(Duration.ofSeconds(20));
        final CompletableFuture<LockMode> fromThree = grd(3).acquire(r, SHARED);
        final CompletableFuture<LockMode> fromTwo = grd(2).acquire(ResourceId.of(9, 999_999), EXCLUSIVE);
        assertThat(fromTwo.get(10, TimeUnit.SECONDS)).as("the cluster works").isEqualTo(EXCLUSIVE);
        Thread.sleep(500);
        assertThat(whileDead).as("node 1 still holds it EXCLUSIVE after node 3 rejoined").isNotDone();
        assertThat(fromThree).as("node 1 still holds it EXCLUSIVE after node 3 rejoined").isNotDone();
        grd(1).release(r).get(5, TimeUnit.SECONDS);
        assertThat(whileDead.get(10, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        assertThat(fromThree).as("node 2 holds it EXCLUSIVE now").isNotDone();
        grd(2).release(r).get(5, TimeUnit.SECONDS);
        assertThat(fromThree.get(10, TimeUnit.SECONDS)).isEqualTo(SHARED);
    }

    @Test
    void aRestartedNodeLearnsTheMovesMadeBeforeItsRestartAndDoesNotGrantWhatWasMovedAway() throws Exception
    {
        final GrdConfig config = quickRemastering();
        start(3, config, RecoveryHandler.NONE);
        final long r = resourceMasteredBy(3, 0);
        moveTo(1, r);
        assertThat(grd(1).acquire(r, EXCLUSIVE).get(10, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        crash(3, 1, 2);
        restart(3, config);
        cluster.awaitFullView(Duration.ofSeconds(20));
        LocalCluster.await(() -> grd(3).masterOf(r) == 1, Duration.ofSeconds(10),
            "the restarted node to learn that node 1 masters the resource (it says " + grd(3).masterOf(r) + ")");
        final CompletableFuture<LockMode> fromThree = grd(3).acquire(r, SHARED);
        Thread.sleep(500);
        assertThat(fromThree).as("node 1 holds it EXCLUSIVE").isNotDone();
        grd(1).release(r).get(5, TimeUnit.SECONDS);
        assertThat(fromThree.get(10, TimeUnit.SECONDS)).isEqualTo(SHARED);
    }

    @Test
    void aRestartedNodesFirstMoveOfAResourceIsNotRefusedAsStaleByANodeThatSawAnOlderMove() throws Exception
    {
        final GrdConfig config = quickRemastering();
        start(3, config, RecoveryHandler.NONE);
        // ring master 3, with or without node 2
        final MasterRing withoutTwo = MasterRing.of(List.of(1, 3), config.virtualNodes());
        final long r = resourceWhere(0, c -> grd(1).masterOf(c) == 3 && withoutTwo.masterOf(c) == 3);
        moveTo(2, r); // move version 1, which node 1 remembers
        crash(2, 1, 3);
        crash(3, 1);
        restart(3, config);
        LocalCluster.await(() -> grd(3).masterOf(r) == 3 && grd(1).masterOf(r) == 3, Duration.ofSeconds(20),
            "both to take the ring's word");
        // node 1 uses it: the restarted node 3, which knows no earlier move, moves it to node 1 as move 1
        for (int i = 0; i < 10; i++)
        {
            assertThat(grd(1).acquire(r, EXCLUSIVE, Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS))
                .isEqualTo(EXCLUSIVE);
            grd(1).release(r).get(5, TimeUnit.SECONDS);
        }
        LocalCluster.await(() -> grd(1).masterOf(r) == 1 && grd(3).masterOf(r) == 1, Duration.ofSeconds(10),
            "node 1 to master it, as both agree (node 1 says " + grd(1).masterOf(r) + ", node 3 says " +
                grd(3).masterOf(r) + ")");
        assertThat(grd(3).acquire(r, SHARED, Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS)).isEqualTo(SHARED);
    }

    @Test
    void aNodeRestartedWhileAnotherIsStillDeadReachesWhatTheDeadOneMastered() throws Exception
    {
        final GrdConfig config = GrdConfig.builder().remastering(false).build();
        start(3, config, RecoveryHandler.NONE);
        final long r = resourceMasteredBy(2, 0);
        crash(2, 1, 3);
        crash(3, 1);
        // node 3 comes back and never hears from node 2: it must not wait for it for good, nor route to it
        restart(3, config);
        assertThat(grd(3).acquire(r, EXCLUSIVE, Duration.ofSeconds(30)).get(40, TimeUnit.SECONDS))
            .isEqualTo(EXCLUSIVE);
        assertThat(grd(1).masterOf(r)).isEqualTo(grd(3).masterOf(r));
    }

    @Test
    void aDirectoryStartedAfterADeathItMissedLearnsWhoHoldsWhatTheDeadNodeMasteredAndRecoversTheRest()
        throws Exception
    {
        final GrdConfig config = GrdConfig.builder().remastering(false).build();
        final Map<Long, Integer> recoveredBy = new ConcurrentHashMap<>();
        final long[] orphan = new long[1];
        cluster = LocalCluster.start(4, b -> LocalCluster.smallMachineDefaults(b).absentTimeoutMs(3000));
        for (int node = 1; node <= 4; node++)
        {
            final int self = node;
            final RecoveryHandler recovery = new RecoveryHandler()
            {
                @Override
                public CompletableFuture<Void> recover(final long resource, final int deadNode)
                {
                    recoveredBy.put(resource, self);
                    return CompletableFuture.completedFuture(null);
                }

                @Override
                public java.util.Collection<Long> suspects(final int deadNode)
                {
                    return deadNode == 3 ? List.of(orphan[0]) : List.of();
                }
            };
            grds.add(GlobalResourceDirectory.start(cluster.node(node), config, recovery));
            if (node == 4)
            {
                lateRecovery = recovery;
            }
        }
        cluster.awaitFullView(Duration.ofSeconds(20));
        // resources node 3 masters, which node 4 masters once node 3 is dead
        final MasterRing withoutThree = MasterRing.of(List.of(1, 2, 4), config.virtualNodes());
        final java.util.function.LongPredicate threeThenFour =
            c -> grd(1).masterOf(c) == 3 && withoutThree.masterOf(c) == 4;
        final long held = resourceWhere(0, threeThenFour);
        // node 3 may have held it EXCLUSIVE (its redo says so); nobody else holds it
        orphan[0] = resourceWhere(ResourceId.block(held) + 1, threeThenFour);
        assertThat(grd(1).acquire(held, EXCLUSIVE).get(10, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);

        // node 4's directory stops (its node stays up) and starts again after node 3's death: the survivors'
        // reports of that death reach node 4 while no directory runs there
        grd(4).close();
        crash(3, 1, 2, 4);
        Thread.sleep(300);
        grds.set(3, GlobalResourceDirectory.start(cluster.node(4), config, lateRecovery));

        final CompletableFuture<LockMode> fromFour = grd(4).acquire(held, SHARED);
        final CompletableFuture<LockMode> fromTwo = grd(2).acquire(held, SHARED);
        Thread.sleep(1000);
        assertThat(fromFour).as("node 1 holds it EXCLUSIVE").isNotDone();
        assertThat(fromTwo).as("node 1 holds it EXCLUSIVE").isNotDone();
        grd(1).release(held).get(5, TimeUnit.SECONDS);
        assertThat(fromFour.get(10, TimeUnit.SECONDS)).isEqualTo(SHARED);
        assertThat(fromTwo.get(10, TimeUnit.SECONDS)).isEqualTo(SHARED);

        assertThat(grd(2).acquire(orphan[0], EXCLUSIVE).get(10, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        assertThat(recoveredBy).as("recovered by its new master before it was granted")
            .containsEntry(orphan[0], 4).doesNotContainKey(held);
    }

    private RecoveryHandler lateRecovery;

    @Test
    void aRebuildEndsWhenTheDeadNodeIsBackEvenIfAMemberNeverReportsItsDeath() throws Exception
    {
        final GrdConfig config = GrdConfig.builder().remastering(false).build();
        start(3, config, RecoveryHandler.NONE);
        final long mine = resourceMasteredBy(1, 0);
        // node 3's directory has joined (it grants what it masters): a node that dies before its join ends leaves
        // nothing of its own to rebuild, and node 1 would not wait for node 2's reports
        final long threes = resourceMasteredBy(3, 1);
        assertThat(grd(3).acquire(threes, SHARED, Duration.ofSeconds(10)).get(20, TimeUnit.SECONDS)).isEqualTo(SHARED);
        grd(3).release(threes).get(20, TimeUnit.SECONDS);
        // node 2 "never sees" node 3 die: its REPORTS_DONE for that death never reaches node 1
        cluster.node(1).receiveFilter((source, type, buffer, offset, length) -> !(source == 2 &&
            type == GrdMessages.REQUEST && length == GrdMessages.REQUEST_LENGTH &&
            GrdMessages.op(buffer, offset) == GrdMessages.OP_REPORTS_DONE));
        final long viewChanges = grd(1).viewChanges();
        crash(3, 1, 2);
        // node 1's view changes before its directory handles it: an acquire in between is served before the rebuild
        LocalCluster.await(() -> grd(1).viewChanges() > viewChanges, Duration.ofSeconds(10),
            "node 1's directory to see node 3 die");
        final CompletableFuture<LockMode> whileRebuilding = grd(1).acquire(mine, EXCLUSIVE, Duration.ofSeconds(30));
        Thread.sleep(500);
        assertThat(whileRebuilding).as("node 1 waits for node 2's reports").isNotDone();
        restart(3, config);
        // node 3 is back: node 1 ends the rebuild after the dead timeout, answers node 3's join, and grants again
        assertThat(whileRebuilding.get(20, TimeUnit.SECONDS)).isEqualTo(EXCLUSIVE);
        assertThat(grd(3).acquire(threes, EXCLUSIVE, Duration.ofSeconds(20)).get(30, TimeUnit.SECONDS))
            .as("node 3 joined").isEqualTo(EXCLUSIVE);
        cluster.node(1).receiveFilter(null);
    }

    @Test
    void aRestartedNodeDoesNotReportADeathCompleteWhileItsReportsMayHaveGoneToAMemberItNeverHeard() throws Exception
    {
        final GrdConfig config = GrdConfig.builder().remastering(false).build();
        cluster = LocalCluster.start(4, b -> LocalCluster.smallMachineDefaults(b).absentTimeoutMs(6000));
        for (final ClusterNode node : cluster.nodes())
        {
            grds.add(GlobalResourceDirectory.start(node, config, RecoveryHandler.NONE));
        }
        cluster.awaitFullView(Duration.ofSeconds(20));
        // node 4 masters it with or without nodes 2 and 3; node 2 on a ring without node 4; node 1 on {1, 3}
        final int v = config.virtualNodes();
        final MasterRing all = MasterRing.of(List.of(1, 2, 3, 4), v);
        final MasterRing without2 = MasterRing.of(List.of(1, 3, 4), v);
        final MasterRing without4 = MasterRing.of(List.of(1, 2, 3), v);
        final MasterRing onlyOneThree = MasterRing.of(List.of(1, 3), v);
        final long r = resourceWhere(0, c -> all.masterOf(c) == 4 && without2.masterOf(c) == 4 &&
            without4.masterOf(c) == 2 && onlyOneThree.masterOf(c) == 1);
        crash(2, 1, 3, 4);
        crash(3, 1, 4);
        // node 3 comes back and never hears node 2, which stays on its ring until it is left out (6 s)
        restart(3, config);
        LocalCluster.await(() -> cluster.node(3).view().members().containsAll(List.of(1, 3, 4)),
            Duration.ofSeconds(10), "node 3 to hear nodes 1 and 4");
        assertThat(grd(3).acquire(r, EXCLUSIVE, Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS))
            .as("granted by node 4").isEqualTo(EXCLUSIVE);
        // node 4 dies: node 3 reports its hold to node 2 (the master on its ring), which nobody runs
        crash(4, 1, 3);
        final CompletableFuture<LockMode> fromOne = grd(1).acquire(r, SHARED, Duration.ofSeconds(30));
        Thread.sleep(1000);
        assertThat(fromOne).as("node 3 holds it EXCLUSIVE").isNotDone();
        LocalCluster.await(() -> !cluster.node(3).view().states().containsValue(dev.fusion.cluster.MemberState.JOINING),
            Duration.ofSeconds(15), "node 3 to leave node 2 out");
        Thread.sleep(500);
        assertThat(fromOne).as("node 3 holds it EXCLUSIVE, reported again to node 1").isNotDone();
        grd(3).release(r).get(10, TimeUnit.SECONDS);
        assertThat(fromOne.get(15, TimeUnit.SECONDS)).isEqualTo(SHARED);
    }

    @Test
    void aReleaseNamingAnOlderGrantKeepsTheHoldGrantedSince() throws Exception
    {
        start(2, GrdConfig.builder().remastering(false).build(), RecoveryHandler.NONE);
        final long r = resourceMasteredBy(1, 7);
        final GrantRequest first = grd(2).requestGrant(r, EXCLUSIVE, Duration.ofSeconds(5), true);
        first.grant().get(5, TimeUnit.SECONDS);
        grd(2).release(r).get(5, TimeUnit.SECONDS);
        final GrantRequest second = grd(2).requestGrant(r, EXCLUSIVE, Duration.ofSeconds(5), true);
        second.grant().get(5, TimeUnit.SECONDS);
        // a give-back of the first grant, overtaken by the second (cache fusion sends one when a notice finds the
        // block gone): the hold under the second grant stays
        grd(2).releaseGrant(r, first.requestId()).handle((m, e) -> null).get(5, TimeUnit.SECONDS);
        assertThat(grd(1).acquire(r, SHARED, Duration.ofMillis(300)))
            .as("node 2 still holds it EXCLUSIVE at the master").failsWithin(Duration.ofSeconds(5));
        grd(2).releaseGrant(r, second.requestId()).get(5, TimeUnit.SECONDS);
        assertThat(grd(1).acquire(r, SHARED).get(5, TimeUnit.SECONDS)).isEqualTo(SHARED);
        grd(1).release(r).get(5, TimeUnit.SECONDS);
    }

    /** Node {@code node} uses {@code r} until the resource is moved to it, and its own directory knows. */
    private void moveTo(final int node, final long r) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (grd(node).masterOf(r) != node)
        {
            assertThat(System.nanoTime()).as("resource moved to node " + node).isLessThan(deadline);
            grd(node).acquire(r, EXCLUSIVE).get(5, TimeUnit.SECONDS);
            grd(node).release(r).get(5, TimeUnit.SECONDS);
        }
        LocalCluster.await(() -> grd(1).masterOf(r) == node, Duration.ofSeconds(10), "node 1 to see the move");
    }

    @Test
    void anObjectUsedMostlyByOneNodeMovesToItWholesale() throws Exception
    {
        start(3, GrdConfig.builder().remoteRequestsToRemaster(1000).objectRule(0.8, Duration.ofSeconds(30), 10)
            .minResidence(Duration.ZERO).build(), RecoveryHandler.NONE);
        final int blocks = 60;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int b = 0; b < blocks; b++)
            {
                final long r = ResourceId.of(7, b);
                grd(2).acquire(r, SHARED).get(5, TimeUnit.SECONDS);
                grd(2).release(r).get(5, TimeUnit.SECONDS);
            }
        }
        LocalCluster.await(() ->
        {
            for (int b = 0; b < blocks; b++)
            {
                if (grd(2).masterOf(ResourceId.of(7, b)) != 2 || grd(1).masterOf(ResourceId.of(7, b)) != 2)
                {
                    return false;
                }
            }
            return true;
        }, Duration.ofSeconds(10), "every used block of object 7 to be mastered by node 2");
        assertThat(grd(1).stats().objectRemasters() + grd(3).stats().objectRemasters()).isPositive();
        final long remoteBefore = grd(2).stats().remoteGrants();
        for (int b = 0; b < blocks; b++)
        {
            grd(2).acquire(ResourceId.of(7, b), EXCLUSIVE).get(5, TimeUnit.SECONDS);
        }
        assertThat(grd(2).stats().remoteGrants()).as("all local now").isEqualTo(remoteBefore);
    }

    @Test
    void randomisedWorkloadNeverGrantsIncompatibleModesAndEveryRequestCompletes() throws Exception
    {
        start(3, GrdConfig.builder().remoteRequestsToRemaster(3).minResidence(Duration.ofMillis(50)).build(),
            RecoveryHandler.NONE);
        final HolderInvariant invariant = new HolderInvariant();
        final Stats stats = runWorkload(invariant, 6, 3_000, null);
        assertThat(invariant.violations()).as(String.valueOf(invariant.firstViolation())).isZero();
        assertThat(stats.incomplete.get()).as("requests left without an answer").isZero();
        assertThat(stats.unexpected).as("unexpected failures").isEmpty();
        assertThat(stats.grants.get()).isGreaterThan(500);
        final long remasters = grds.stream().mapToLong(g -> g.stats().remastersOut()).sum();
        assertThat(remasters).as("remastering happened under load").isPositive();
    }

    @Test
    void aNodeKilledUnderLoadIsReconfiguredAroundWithoutIncompatibleGrants() throws Exception
    {
        final AtomicInteger recoveries = new AtomicInteger();
        start(3, GrdConfig.builder().requestTimeout(Duration.ofSeconds(10)).build(),
            (resource, dead) ->
            {
                recoveries.incrementAndGet();
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            });
        final HolderInvariant invariant = new HolderInvariant();
        final Stats stats = runWorkload(invariant, 6, 4_000, () ->
        {
            invariant.nodeDied(3);
            grds.get(2).close();
            cluster.stop(3);
        });
        assertThat(invariant.violations()).as(String.valueOf(invariant.firstViolation())).isZero();
        assertThat(stats.unexpected).as("unexpected failures on survivors").isEmpty();
        assertThat(stats.incomplete.get()).isZero();
        LocalCluster.await(() -> !cluster.node(1).view().contains(3) && !cluster.node(2).view().contains(3),
            Duration.ofSeconds(10), "node 3 declared dead");
        for (long r = 0; r < 6; r++)
        {
            final long resource = ResourceId.of(1, (int)r);
            assertThat(grd(1).masterOf(resource)).isNotEqualTo(3).isEqualTo(grd(2).masterOf(resource));
            assertThat(grd(1).acquire(resource, EXCLUSIVE, Duration.ofSeconds(10)).get(15, TimeUnit.SECONDS))
                .as("every resource is grantable after reconfiguration").isEqualTo(EXCLUSIVE);
            grd(1).release(resource).get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void randomCrashesRestartsAndDirectoryRestartsUnderLoadNeverGrantIncompatibleModes() throws Exception
    {
        final GrdConfig config = GrdConfig.builder().requestTimeout(Duration.ofSeconds(15)).build();
        start(4, config, RecoveryHandler.NONE);
        final HolderInvariant invariant = new HolderInvariant();
        final Stats stats = new Stats();
        final AtomicBoolean running = new AtomicBoolean(true);
        final List<Thread> workers = new ArrayList<>();
        final Map<String, ReentrantLock> nodeLocks = new ConcurrentHashMap<>();
        final int resources = 12;
        // nodes 1, 2 and 3 use the resources (node 3 while it is up); nodes 3 and 4 go through the faults
        final AtomicBoolean threeDown = new AtomicBoolean();
        {
            for (int t = 0; t < 2; t++)
            {
                final Random random = new Random(300L + t);
                final Thread thread = new Thread(() ->
                {
                    while (running.get())
                    {
                        if (threeDown.get())
                        {
                            try { Thread.sleep(20); } catch (final InterruptedException e) { return; }
                            continue;
                        }
                        final GlobalResourceDirectory g = grds.get(2);
                        final long r = ResourceId.of(1, random.nextInt(resources));
                        final ReentrantLock lock = nodeLocks.computeIfAbsent("3/" + r, k -> new ReentrantLock());
                        lock.lock();
                        try
                        {
                            cycle(g, r, random, invariant, stats, threeDown);
                        }
                        finally
                        {
                            lock.unlock();
                        }
                    }
                }, "worker-3-" + t);
                workers.add(thread);
                thread.start();
            }
        }
        for (final int node : new int[]{1, 2})
        {
            for (int t = 0; t < 2; t++)
            {
                final GlobalResourceDirectory g = grd(node);
                final Random random = new Random(node * 100L + t);
                final Thread thread = new Thread(() ->
                {
                    while (running.get())
                    {
                        final long r = ResourceId.of(1, random.nextInt(resources));
                        final ReentrantLock lock = nodeLocks.computeIfAbsent(g.nodeId() + "/" + r,
                            k -> new ReentrantLock());
                        lock.lock();
                        try
                        {
                            cycle(g, r, random, invariant, stats, new AtomicBoolean());
                        }
                        finally
                        {
                            lock.unlock();
                        }
                    }
                }, "worker-" + node + "-" + t);
                workers.add(thread);
                thread.start();
            }
        }
        final List<String> events = new ArrayList<>();
        final long seed = Long.getLong("fusion.chaos.seed", 7);
        final Random chaos = new Random(seed);
        events.add("seed " + seed);
        boolean threeUp = true;
        final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(16);
        while (System.nanoTime() < end)
        {
            Thread.sleep(300 + chaos.nextInt(1200));
            final int event = chaos.nextInt(3);
            if (event == 0 && threeUp)
            {
                events.add("crash 3");
                threeDown.set(true);
                invariant.nodeDied(3);
                crash(3, 1, 2, 4);
                threeUp = false;
            }
            else if (event == 1 && !threeUp)
            {
                events.add("restart 3");
                restart(3, config);
                invariant.revived(3);
                threeDown.set(false);
                threeUp = true;
            }
            else
            {
                // node 4's directory stops and starts again while its node stays up (a death in between is missed)
                events.add("stop directory 4");
                grd(4).close();
                Thread.sleep(chaos.nextInt(500));
                if (threeUp && chaos.nextBoolean())
                {
                    events.add("crash 3");
                    threeDown.set(true);
                    invariant.nodeDied(3);
                    crash(3, 1, 2, 4);
                    threeUp = false;
                }
                events.add("start directory 4");
                grds.set(3, GlobalResourceDirectory.start(cluster.node(4), config, RecoveryHandler.NONE));
            }
        }
        running.set(false);
        if (!threeUp)
        {
            events.add("restart 3");
            restart(3, config);
        }
        for (final Thread t : workers)
        {
            t.join(60_000);
        }
        assertThat(invariant.violations()).as(invariant.firstViolation() + " after " + events).isZero();
        cluster.awaitFullView(Duration.ofSeconds(20));
        for (int i = 0; i < resources; i++)
        {
            final long r = ResourceId.of(1, i);
            for (final int node : new int[]{1, 2, 3, 4})
            {
                assertThat(grd(node).acquire(r, EXCLUSIVE, Duration.ofSeconds(30)).get(40, TimeUnit.SECONDS))
                    .as("node %d is granted %s after %s", node, ResourceId.toString(r), events).isEqualTo(EXCLUSIVE);
                grd(node).release(r).get(10, TimeUnit.SECONDS);
            }
        }
        System.out.println("chaos run: " + events + ", " + stats.grants.get() + " grants, failures during it " +
            stats.unexpected + ", " + stats.incomplete.get() + " incomplete");
    }

    static final class Stats
    {
        final AtomicLong grants = new AtomicLong();
        final AtomicLong incomplete = new AtomicLong();
        final Map<String, Integer> unexpected = new ConcurrentHashMap<>();
    }

    /**
     * Two threads per node, each repeatedly: acquire S or X on one of {@code resources} hot resources, maybe
     * convert or downgrade, release. Threads of one node take turns per resource (locks are per node).
     */
    private Stats runWorkload(final HolderInvariant invariant, final int resources, final long millis,
        final Runnable midway) throws Exception
    {
        final Stats stats = new Stats();
        final AtomicBoolean running = new AtomicBoolean(true);
        final List<Thread> threads = new ArrayList<>();
        final Map<String, ReentrantLock> nodeLocks = new ConcurrentHashMap<>();
        final AtomicBoolean killed = new AtomicBoolean();
        for (final GlobalResourceDirectory g : grds)
        {
            for (int t = 0; t < 2; t++)
            {
                final long seed = g.nodeId() * 100L + t;
                final Thread thread = new Thread(() ->
                {
                    final Random random = new Random(seed);
                    while (running.get())
                    {
                        if (killed.get() && g.nodeId() == 3)
                        {
                            return;
                        }
                        final long r = ResourceId.of(1, random.nextInt(resources));
                        final ReentrantLock lock = nodeLocks.computeIfAbsent(g.nodeId() + "/" + r,
                            k -> new ReentrantLock());
                        lock.lock();
                        try
                        {
                            cycle(g, r, random, invariant, stats, killed);
                        }
                        finally
                        {
                            lock.unlock();
                        }
                    }
                }, "worker-" + g.nodeId() + "-" + t);
                threads.add(thread);
                thread.start();
            }
        }
        Thread.sleep(millis / 2);
        if (null != midway)
        {
            killed.set(true);
            midway.run();
        }
        Thread.sleep(millis / 2);
        running.set(false);
        for (final Thread t : threads)
        {
            t.join(30_000);
            if (t.isAlive())
            {
                stats.incomplete.incrementAndGet();
            }
        }
        return stats;
    }

    private static void cycle(final GlobalResourceDirectory g, final long r, final Random random,
        final HolderInvariant invariant, final Stats stats, final AtomicBoolean killed)
    {
        final int node = g.nodeId();
        final LockMode mode = random.nextBoolean() ? SHARED : EXCLUSIVE;
        try
        {
            final LockMode granted = g.acquire(r, mode).get(20, TimeUnit.SECONDS);
            stats.grants.incrementAndGet();
            invariant.granted(r, node, granted);
            LockMode held = granted;
            if (held == SHARED && random.nextInt(4) == 0)
            {
                try
                {
                    held = g.acquire(r, EXCLUSIVE).get(20, TimeUnit.SECONDS);
                    invariant.granted(r, node, held);
                }
                catch (final ExecutionException ex)
                {
                    if (!(ex.getCause() instanceof GrdException ge) ||
                        ge.reason() != RejectReason.CONVERSION_DEADLOCK)
                    {
                        throw ex;
                    }
                }
            }
            if (held == EXCLUSIVE && random.nextInt(4) == 0)
            {
                invariant.releasing(r, node, SHARED);
                g.downgrade(r, SHARED).get(20, TimeUnit.SECONDS);
                held = SHARED;
            }
            invariant.releasing(r, node, LockMode.NULL);
            g.release(r).get(20, TimeUnit.SECONDS);
        }
        catch (final ExecutionException ex)
        {
            if (!(killed.get() && node == 3))
            {
                stats.unexpected.merge(String.valueOf(ex.getCause()), 1, Integer::sum);
            }
            invariant.releasing(r, node, LockMode.NULL);
            g.release(r);
        }
        catch (final java.util.concurrent.TimeoutException ex)
        {
            stats.incomplete.incrementAndGet();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
