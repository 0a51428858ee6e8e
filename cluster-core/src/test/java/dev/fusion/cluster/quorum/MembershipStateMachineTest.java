package dev.fusion.cluster.quorum;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.quorum.MembershipStateMachine.Renewal;
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

    private final MembershipStateMachine machine =
        new MembershipStateMachine(new MembershipStateMachine.Settings(new int[]{3, 1, 2}, LEASE, MARGIN, ABSENT));

    @Test
    void everyNodeStartsJoiningAtEpochZeroAndEachJoinCommitsTheNextEpoch()
    {
        assertThat(machine.epoch()).isZero();
        assertThat(machine.current().state(1)).isEqualTo(MemberState.JOINING);

        assertThat(machine.join(1, 11, 100)).isEqualTo(Renewal.JOINED);
        assertThat(machine.join(2, 22, 110)).isEqualTo(Renewal.JOINED);

        assertThat(machine.epoch()).isEqualTo(2);
        assertThat(machine.current().isAlive(1, 11)).isTrue();
        assertThat(machine.current().isAlive(2, 22)).isTrue();
        assertThat(machine.current().state(3)).isEqualTo(MemberState.JOINING);
    }

    @Test
    void askingToJoinAgainWithTheSameIncarnationRenewsWithoutANewView()
    {
        machine.join(1, 11, 100);
        assertThat(machine.join(1, 11, 200)).isEqualTo(Renewal.JOINED);
        assertThat(machine.epoch()).isEqualTo(1);
        assertThat(machine.deadlineMs(1)).isEqualTo(200 + LEASE + MARGIN);
    }

    @Test
    void aNodeThatKeepsRenewingStaysAlive()
    {
        machine.join(1, 11, 0);
        for (long t = 500; t <= 60_000; t += 500)
        {
            assertThat(machine.renew(1, 11, t)).isEqualTo(Renewal.RENEWED);
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

        assertThat(machine.renew(1, 11, LEASE + MARGIN + 1)).isEqualTo(Renewal.FENCED);
        assertThat(machine.join(1, 11, LEASE + MARGIN + 2)).isEqualTo(Renewal.FENCED);
        assertThat(machine.epoch()).isEqualTo(epoch);

        assertThat(machine.join(1, 12, LEASE + MARGIN + 3)).isEqualTo(Renewal.JOINED);
        assertThat(machine.current().isAlive(1, 12)).isTrue();
    }

    @Test
    void aNewIncarnationEndsTheOldOneFirstSoEveryNodeSeesTheDeathAndTheReturnAsTwoViews()
    {
        machine.join(1, 11, 0);
        final long before = machine.epoch();

        assertThat(machine.join(1, 12, 100)).isEqualTo(Renewal.JOINED);

        final CommittedView[] views = machine.viewsAfter(before);
        assertThat(views).hasSize(2);
        assertThat(views[0].state(1)).isEqualTo(MemberState.DEAD);
        assertThat(views[0].incarnation(1)).isEqualTo(11);
        assertThat(views[1].isAlive(1, 12)).isTrue();
        assertThat(machine.renew(1, 11, 200)).isEqualTo(Renewal.FENCED);
    }

    @Test
    void aRenewalFromAnIncarnationThatWasReplacedIsFenced()
    {
        machine.join(1, 11, 0);
        machine.join(1, 12, 10);
        assertThat(machine.renew(1, 11, 20)).isEqualTo(Renewal.FENCED);
        assertThat(machine.renew(1, 12, 20)).isEqualTo(Renewal.RENEWED);
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
        assertThat(machine.join(2, 22, 1000 + ABSENT + 1)).isEqualTo(Renewal.JOINED);
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
        assertThat(machine.join(9, 99, 0)).isEqualTo(Renewal.UNKNOWN_NODE);
        assertThat(machine.renew(9, 99, 0)).isEqualTo(Renewal.UNKNOWN_NODE);
        assertThat(machine.join(1, 0, 0)).isEqualTo(Renewal.UNKNOWN_NODE);
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
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        machine.writeTo(new DataOutputStream(bytes));

        final MembershipStateMachine restored =
            new MembershipStateMachine(new MembershipStateMachine.Settings(new int[]{1, 2, 3}, LEASE, MARGIN, ABSENT));
        restored.readFrom(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));

        assertThat(restored.current()).isEqualTo(machine.current());
        assertThat(restored.expire(100 + LEASE + MARGIN)).isEqualTo(machine.expire(100 + LEASE + MARGIN));
        assertThat(restored.current()).isEqualTo(machine.current());
        assertThat(restored.current().state(2)).isEqualTo(MemberState.DEAD);
        assertThat(restored.current().isAlive(1, 11)).isTrue();
    }
}
