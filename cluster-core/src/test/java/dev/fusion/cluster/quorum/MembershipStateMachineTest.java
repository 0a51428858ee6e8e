package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.quorum.MembershipStateMachine.Outcome;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

class MembershipStateMachineTest
{
    private static final long LEASE = 3000;
    private static final long MARGIN = 1000;
    private static final long ABSENT = 10_000;
    private static final long SUSPICION = 1500;
    private static final long REPORT = 200;

    private final MembershipStateMachine machine =
        new MembershipStateMachine(
            new MembershipStateMachine.Settings(new int[]{3, 1, 2}, LEASE, MARGIN, ABSENT, SUSPICION, REPORT));

    @Test
    void everyNodeStartsJoiningAtEpochZeroAndEachJoinCommitsTheNextEpoch()
    {
        assertThat(machine.epoch()).isZero();
        assertThat(machine.current().state(1)).isEqualTo(MemberState.JOINING);

        assertThat(machine.join(1, 11, 100)).isEqualTo(Outcome.JOINED);
        assertThat(machine.join(2, 22, 110)).isEqualTo(Outcome.JOINED);

        assertThat(machine.epoch()).isEqualTo(2);
        assertThat(machine.current().isAlive(1, 11)).isTrue();
        assertThat(machine.current().isAlive(2, 22)).isTrue();
        assertThat(machine.current().state(3)).isEqualTo(MemberState.JOINING);
    }

    @Test
    void askingToJoinAgainWithTheSameIncarnationRenewsWithoutANewView()
    {
        machine.join(1, 11, 100);
        assertThat(machine.join(1, 11, 200)).isEqualTo(Outcome.JOINED);
        assertThat(machine.epoch()).isEqualTo(1);
        assertThat(machine.deadlineMs(1)).isEqualTo(200 + LEASE + MARGIN);
    }

    @Test
    void aNodeThatKeepsRenewingStaysAlive()
    {
        machine.join(1, 11, 0);
        for (long t = 500; t <= 60_000; t += 500)
        {
            assertThat(machine.renew(1, 11, t)).isEqualTo(Outcome.RENEWED);
            machine.expire(t + 1);
        }
        assertThat(machine.current().isAlive(1, 11)).isTrue();
    }

    @Test
    void aSilentNodeIsDeclaredDeadOnlyOnceLeasePlusMarginHasPassedSinceItsLastRenewal()
    {
        machine.join(1, 11, 0);
        machine.renew(1, 11, 1000);

        assertThat(machine.expire(1000 + LEASE + MARGIN - 1)).isZero();
        assertThat(machine.current().isAlive(1, 11)).isTrue();

        assertThat(machine.expire(1000 + LEASE + MARGIN)).isEqualTo(1);
        assertThat(machine.current().state(1)).isEqualTo(MemberState.DEAD);
        assertThat(machine.current().incarnation(1)).isEqualTo(11);
    }

    @Test
    void aDeadIncarnationIsToldItIsFencedAndCannotJoinAgain()
    {
        machine.join(1, 11, 0);
        machine.expire(LEASE + MARGIN);
        final long epoch = machine.epoch();

        assertThat(machine.renew(1, 11, LEASE + MARGIN + 1)).isEqualTo(Outcome.FENCED);
        assertThat(machine.join(1, 11, LEASE + MARGIN + 2)).isEqualTo(Outcome.FENCED);
        assertThat(machine.epoch()).isEqualTo(epoch);

        assertThat(machine.join(1, 12, LEASE + MARGIN + 3)).isEqualTo(Outcome.JOINED);
        assertThat(machine.current().isAlive(1, 12)).isTrue();
    }

    @Test
    void aNewIncarnationEndsTheOldOneFirstSoEveryNodeSeesTheDeathAndTheReturnAsTwoViews()
    {
        machine.join(1, 11, 0);
        final long before = machine.epoch();

        assertThat(machine.join(1, 12, 100)).isEqualTo(Outcome.JOINED);

        final CommittedView[] views = machine.viewsAfter(before);
        assertThat(views).hasSize(2);
        assertThat(views[0].state(1)).isEqualTo(MemberState.DEAD);
        assertThat(views[0].incarnation(1)).isEqualTo(11);
        assertThat(views[1].isAlive(1, 12)).isTrue();
        assertThat(machine.renew(1, 11, 200)).isEqualTo(Outcome.FENCED);
    }

    @Test
    void aRenewalFromAnIncarnationThatWasReplacedIsFenced()
    {
        machine.join(1, 11, 0);
        machine.join(1, 12, 10);
        assertThat(machine.renew(1, 11, 20)).isEqualTo(Outcome.FENCED);
        assertThat(machine.renew(1, 12, 20)).isEqualTo(Outcome.RENEWED);
    }

    @Test
    void aNodeThatNeverJoinsIsDeclaredDeadOnceTheAbsentTimeHasPassedSinceTheFirstEvent()
    {
        machine.join(1, 11, 1000);
        machine.renew(1, 11, 1000 + ABSENT - 1);
        assertThat(machine.expire(1000 + ABSENT - 1)).isZero();

        machine.renew(1, 11, 1000 + ABSENT);
        assertThat(machine.expire(1000 + ABSENT)).isEqualTo(2);
        assertThat(machine.current().state(2)).isEqualTo(MemberState.DEAD);
        assertThat(machine.current().state(3)).isEqualTo(MemberState.DEAD);
        assertThat(machine.join(2, 22, 1000 + ABSENT + 1)).isEqualTo(Outcome.JOINED);
    }

    @Test
    void aNewLeaderDelaysDeathsBecauseNobodyCouldRenewWithoutOne()
    {
        machine.join(1, 11, 0);
        machine.onNewLeader(LEASE + MARGIN - 10);

        assertThat(machine.expire(LEASE + MARGIN)).isZero();
        assertThat(machine.deadlineMs(1)).isEqualTo(LEASE + MARGIN - 10 + LEASE + MARGIN);
    }

    @Test
    void aNewLeaderWithAnOlderClockNeverBringsADeathForward()
    {
        machine.join(1, 11, 5000);
        machine.onNewLeader(4000);
        assertThat(machine.deadlineMs(1)).isEqualTo(5000 + LEASE + MARGIN);
    }

    @Test
    void aNodeThatLeavesIsDeadAtOnceAndAStaleLeaveChangesNothing()
    {
        machine.join(1, 11, 0);
        assertThat(machine.leave(1, 10, 5)).isFalse();
        assertThat(machine.leave(1, 11, 5)).isTrue();
        assertThat(machine.current().state(1)).isEqualTo(MemberState.DEAD);
    }

    @Test
    void anUnknownNodeIsRefused()
    {
        assertThat(machine.join(9, 99, 0)).isEqualTo(Outcome.UNKNOWN_NODE);
        assertThat(machine.renew(9, 99, 0)).isEqualTo(Outcome.UNKNOWN_NODE);
        assertThat(machine.join(1, 0, 0)).isEqualTo(Outcome.UNKNOWN_NODE);
        assertThat(machine.epoch()).isZero();
    }

    @Test
    void theHistoryKeepsTheNewestViewsInOrder()
    {
        for (int i = 1; i <= MembershipStateMachine.HISTORY + 10; i++)
        {
            machine.join(1, i, i);
        }
        final CommittedView[] all = machine.viewsAfter(-1);
        assertThat(all).hasSize(MembershipStateMachine.HISTORY);
        for (int i = 1; i < all.length; i++)
        {
            assertThat(all[i].epoch()).isEqualTo(all[i - 1].epoch() + 1);
        }
        assertThat(all[all.length - 1]).isEqualTo(machine.current());
        assertThat(machine.viewsAfter(machine.epoch())).isEmpty();
    }

    @Test
    void aSnapshotRestoresTheSameStateAndTheSameDecisions() throws Exception
    {
        machine.join(1, 11, 0);
        machine.join(2, 22, 100);
        machine.renew(1, 11, 2000);
        machine.claimPrimary(1, 11, 2000);
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        machine.writeTo(new DataOutputStream(bytes));

        final MembershipStateMachine restored =
            new MembershipStateMachine(new MembershipStateMachine.Settings(new int[]{1, 2, 3}, LEASE, MARGIN, ABSENT,
                SUSPICION, REPORT));
        restored.readFrom(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));

        assertThat(restored.current()).isEqualTo(machine.current());
        assertThat(restored.expire(100 + LEASE + MARGIN)).isEqualTo(machine.expire(100 + LEASE + MARGIN));
        assertThat(restored.current()).isEqualTo(machine.current());
        assertThat(restored.current().state(2)).isEqualTo(MemberState.DEAD);
        assertThat(restored.current().isAlive(1, 11)).isTrue();
    }

    @Test
    void theFirstClaimNamesThePrimaryAtEpochOneAndCommitsAView()
    {
        machine.join(1, 11, 0);
        machine.join(2, 22, 0);
        final long before = machine.epoch();

        assertThat(machine.claimPrimary(1, 11, 100)).isEqualTo(Outcome.PROMOTED);

        assertThat(machine.epoch()).isEqualTo(before + 1);
        assertPrimary(1, 1);
        assertThat(machine.claimPrimary(1, 11, 200)).as("claiming again changes nothing").isEqualTo(Outcome.PROMOTED);
        assertThat(machine.epoch()).isEqualTo(before + 1);
    }

    @Test
    void aSecondNodeCannotBecomePrimaryWhileTheFirstIsAlive()
    {
        machine.join(1, 11, 0);
        machine.join(2, 22, 0);
        machine.claimPrimary(1, 11, 100);

        assertThat(machine.claimPrimary(2, 22, 200)).isEqualTo(Outcome.REFUSED);

        assertPrimary(1, 1);
    }

    @Test
    void onceThePrimaryIsDeclaredDeadAnotherNodeTakesTheNextPrimaryEpochAndOnlyOne()
    {
        joinAll(0);
        machine.claimPrimary(1, 11, 0);
        for (long t = 500; t < LEASE + MARGIN + 600; t += 500)
        {
            machine.renew(2, 22, t);
            machine.renew(3, 33, t);
        }
        machine.expire(LEASE + MARGIN + 600);
        assertThat(machine.current().state(1)).isEqualTo(MemberState.DEAD);

        assertThat(machine.claimPrimary(2, 22, LEASE + MARGIN + 700)).isEqualTo(Outcome.PROMOTED);
        assertThat(machine.claimPrimary(3, 33, LEASE + MARGIN + 701)).isEqualTo(Outcome.REFUSED);
        assertPrimary(2, 2);

        assertThat(machine.join(1, 12, LEASE + MARGIN + 800)).isEqualTo(Outcome.JOINED);
        assertThat(machine.claimPrimary(1, 12, LEASE + MARGIN + 900)).as("the old primary, back")
            .isEqualTo(Outcome.REFUSED);
        assertThat(machine.claimPrimary(1, 11, LEASE + MARGIN + 900)).as("its dead incarnation")
            .isEqualTo(Outcome.FENCED);
    }

    @Test
    void aRestartedPrimaryKeepsItsPrimaryEpoch()
    {
        machine.join(1, 11, 0);
        machine.claimPrimary(1, 11, 0);
        machine.join(1, 12, 100);

        assertThat(machine.claimPrimary(1, 12, 200)).isEqualTo(Outcome.PROMOTED);

        assertThat(machine.current().primaryEpoch()).isEqualTo(1);
    }

    @Test
    void eachEntryCarriesTheEpochOfTheViewInWhichItLastChanged()
    {
        machine.join(1, 11, 0);
        machine.join(2, 22, 0);
        machine.join(1, 12, 100);

        final CommittedView view = machine.current();
        assertThat(view.sinceEpoch(2)).isEqualTo(2);
        assertThat(view.sinceEpoch(1)).as("dead at 3, alive again at 4").isEqualTo(4);
        assertThat(view.sinceEpoch(3)).isZero();
    }

    @Test
    void aSuspicionEvictsNobodyUntilItHasBeenReportedForTheSuspicionTime()
    {
        joinAll(0);
        for (long t = 100; t < 100 + SUSPICION; t += REPORT)
        {
            machine.suspect(1, 11, 2, 22, t);
        }

        assertThat(machine.resolveSuspicions(100 + SUSPICION - 1)).isEmpty();
        assertThat(machine.evicting(2)).isFalse();
        assertThat(machine.resolveSuspicions(100 + SUSPICION)).containsExactly(2);
    }

    @Test
    void aSuspicionBrokenOffForMoreThanThreeReportIntervalsStartsOver()
    {
        joinAll(0);
        machine.suspect(1, 11, 2, 22, 0);
        machine.suspect(1, 11, 2, 22, 200);
        machine.suspect(1, 11, 2, 22, 200 + 3 * REPORT + 1);
        machine.suspect(1, 11, 2, 22, SUSPICION);

        assertThat(machine.resolveSuspicions(SUSPICION)).as("counted from the report after the break").isEmpty();
        assertThat(machine.resolveSuspicions(200 + 3 * REPORT + 1 + SUSPICION)).as("no longer reported").isEmpty();
    }

    @Test
    void aSuspicionThatIsNotRepeatedLapses()
    {
        joinAll(0);
        machine.suspect(1, 11, 2, 22, 100);

        assertThat(machine.resolveSuspicions(100 + 2 * SUSPICION)).isEmpty();
    }

    @Test
    void ofTwoNodesThatLostEachOtherTheHigherIdIsEvictedAndItsRenewalsAreRefusedUntilItIsDead()
    {
        joinAll(0);
        for (long t = 100; t <= 100 + SUSPICION; t += 200)
        {
            machine.suspect(1, 11, 2, 22, t);
            machine.suspect(2, 22, 1, 11, t);
            renewAll(t);
        }

        assertThat(machine.resolveSuspicions(100 + SUSPICION)).containsExactly(2);

        assertThat(machine.evicting(2)).isTrue();
        assertThat(machine.renew(2, 22, 100 + SUSPICION + 1)).isEqualTo(Outcome.FENCED);
        assertThat(machine.current().isAlive(2, 22)).as("alive until its lease has run out").isTrue();
        final long lastRenewal = machine.deadlineMs(2) - LEASE - MARGIN;
        renewOthers(2, lastRenewal + LEASE + MARGIN - 1);
        machine.expire(lastRenewal + LEASE + MARGIN - 1);
        assertThat(machine.current().isAlive(2, 22)).isTrue();
        machine.expire(lastRenewal + LEASE + MARGIN);
        assertThat(machine.current().state(2)).isEqualTo(MemberState.DEAD);
        assertThat(machine.current().isAlive(1, 11)).isTrue();
        assertThat(machine.current().isAlive(3, 33)).isTrue();
    }

    @Test
    void aNodeCutOffFromAllItsPeersIsTheOneEvictedWhateverItsId()
    {
        joinAll(0);
        for (long t = 100; t <= 100 + SUSPICION; t += 200)
        {
            machine.suspect(1, 11, 2, 22, t);
            machine.suspect(1, 11, 3, 33, t);
            machine.suspect(2, 22, 1, 11, t);
            machine.suspect(3, 33, 1, 11, t);
        }

        assertThat(machine.resolveSuspicions(100 + SUSPICION)).containsExactly(1);
        assertThat(machine.evicting(2)).isFalse();
        assertThat(machine.evicting(3)).isFalse();
    }

    @Test
    void aNodeTheOthersSuspectIsEvictedEvenWhenTheirReportsMatureOneAtATime()
    {
        joinAll(0);
        for (long t = 0; t <= SUSPICION; t += REPORT)
        {
            machine.suspect(2, 22, 1, 11, t);
            machine.suspect(3, 33, 1, 11, t + 100);
        }

        assertThat(machine.resolveSuspicions(SUSPICION)).as("only node 2's report has matured").containsExactly(1);
        assertThat(machine.evicting(2)).isFalse();
        assertThat(machine.evicting(3)).isFalse();
    }

    @Test
    void aSuspicionAboutAnOlderIncarnationOrFromANodeWithoutALeaseIsIgnored()
    {
        joinAll(0);
        machine.join(2, 23, 10);

        assertThat(machine.suspect(1, 11, 2, 22, 100)).isFalse();
        assertThat(machine.suspect(1, 19, 3, 33, 100)).isFalse();
        assertThat(machine.suspect(1, 11, 3, 33, 100)).isTrue();
    }

    private void assertPrimary(final int node, final long epoch)
    {
        assertThat(machine.current().primary()).isEqualTo(node);
        assertThat(machine.current().primaryEpoch()).isEqualTo(epoch);
    }

    private void joinAll(final long nowMs)
    {
        machine.join(1, 11, nowMs);
        machine.join(2, 22, nowMs);
        machine.join(3, 33, nowMs);
    }

    private void renewAll(final long nowMs)
    {
        machine.renew(1, 11, nowMs);
        machine.renew(2, 22, nowMs);
        machine.renew(3, 33, nowMs);
    }

    private void renewOthers(final int except, final long nowMs)
    {
        for (final int[] node : new int[][] {{1, 11}, {2, 22}, {3, 33}})
        {
            if (node[0] != except)
            {
                machine.renew(node[0], node[1], nowMs);
            }
        }
    }
}
