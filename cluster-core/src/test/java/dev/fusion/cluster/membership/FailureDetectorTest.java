package dev.fusion.cluster.membership;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FailureDetectorTest
{
    private static final long MS = 1_000_000;
    private final List<MembershipView> views = new ArrayList<>();
    private final FailureDetector detector = new FailureDetector(1, new int[]{2, 3}, 300 * MS, 1000 * MS, 5000 * MS,
        views::add);

    @Test
    void startsAloneWithPeersJoining()
    {
        assertThat(detector.view().epoch()).isEqualTo(1);
        assertThat(detector.view().members()).containsExactly(1);
        assertThat(detector.state(2)).isEqualTo(MemberState.JOINING);
    }

    @Test
    void aFirstFrameAdmitsAPeerInANewEpoch()
    {
        assertThat(detector.onFrame(2, 77, 0, 0)).isEqualTo(FailureDetector.ADMITTED);
        assertThat(detector.view().epoch()).isEqualTo(2);
        assertThat(detector.view().members()).containsExactly(1, 2);
        assertThat(views).hasSize(1);
    }

    @Test
    void silenceMakesASuspectThenADeadMemberAndFencesItsIncarnation()
    {
        detector.onFrame(2, 77, 0, 0);
        detector.onFrame(3, 88, 0, 0);
        assertThat(detector.view().epoch()).isEqualTo(3);

        detector.onFrame(3, 88, 0, 250 * MS);
        detector.poll(299 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.ALIVE);
        detector.poll(300 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.SUSPECT);
        assertThat(detector.view().epoch()).as("suspicion does not change the member set").isEqualTo(3);
        assertThat(detector.view().state(2)).isEqualTo(MemberState.SUSPECT);

        detector.onFrame(3, 88, 0, 900 * MS);
        detector.poll(1000 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.DEAD);
        assertThat(detector.view().epoch()).isEqualTo(4);
        assertThat(detector.view().members()).containsExactly(1, 3);

        assertThat(detector.onFrame(2, 77, 0, 1001 * MS)).isEqualTo(FailureDetector.FENCED);
        assertThat(detector.view().epoch()).isEqualTo(4);
    }

    @Test
    void aSuspectThatSpeaksAgainIsAliveWithoutAnEpochChange()
    {
        detector.onFrame(2, 77, 0, 0);
        detector.poll(400 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.SUSPECT);
        detector.onFrame(2, 77, 0, 401 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.ALIVE);
        assertThat(detector.view().epoch()).isEqualTo(2);
    }

    @Test
    void aRestartedDeadNodeRejoinsWithANewIncarnation()
    {
        detector.onFrame(2, 77, 0, 0);
        detector.poll(2000 * MS);
        assertThat(detector.state(2)).isEqualTo(MemberState.DEAD);
        final long deadEpoch = detector.view().epoch();

        assertThat(detector.onFrame(2, 78, 0, 2100 * MS)).isEqualTo(FailureDetector.ADMITTED);
        assertThat(detector.state(2)).isEqualTo(MemberState.ALIVE);
        assertThat(detector.view().epoch()).isEqualTo(deadEpoch + 1);
        assertThat(detector.onFrame(2, 77, 0, 2101 * MS)).as("the old incarnation stays fenced")
            .isEqualTo(FailureDetector.FENCED);
    }

    @Test
    void aQuickRestartIsSeenAsDeathAndRejoin()
    {
        detector.onFrame(2, 77, 0, 0);
        assertThat(detector.onFrame(2, 99, 0, 10 * MS)).isEqualTo(FailureDetector.ADMITTED);
        assertThat(views).extracting(MembershipView::epoch).containsExactly(2L, 3L, 4L);
        assertThat(views.get(1).state(2)).isEqualTo(MemberState.DEAD);
        assertThat(views.get(2).state(2)).isEqualTo(MemberState.ALIVE);
        assertThat(detector.onFrame(2, 77, 0, 11 * MS)).isEqualTo(FailureDetector.FENCED);
    }

    @Test
    void epochsOnlyGrow()
    {
        long now = 0;
        for (int i = 0; i < 50; i++)
        {
            detector.onFrame(2, 100 + i, 0, now);
            now += (i % 3 == 0 ? 2000 : 10) * MS;
            detector.poll(now);
        }
        for (int i = 1; i < views.size(); i++)
        {
            assertThat(views.get(i).epoch()).isGreaterThanOrEqualTo(views.get(i - 1).epoch());
        }
    }

    @Test
    void aMemberNeverHeardIsDeclaredDeadAfterTheAbsentTimeoutAndJoinsWhenItAppears()
    {
        detector.poll(0);
        detector.onFrame(2, 77, 0, 100 * MS);
        detector.onFrame(2, 77, 0, 4900 * MS);
        detector.poll(4999 * MS);
        assertThat(detector.state(3)).isEqualTo(MemberState.JOINING);
        detector.poll(5000 * MS);
        assertThat(detector.state(3)).as("started while node 3 was down").isEqualTo(MemberState.DEAD);
        assertThat(detector.state(2)).isEqualTo(MemberState.ALIVE);
        assertThat(detector.view().members()).containsExactly(1, 2);
        // any incarnation of it is admitted: none was fenced, whatever its number
        assertThat(detector.onFrame(3, 0, 0, 6000 * MS)).isEqualTo(FailureDetector.ADMITTED);
        assertThat(detector.state(3)).isEqualTo(MemberState.ALIVE);
    }

    @Test
    void framesFromUnconfiguredPeersAreRejected()
    {
        assertThatThrownBy(() -> detector.onFrame(9, 1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
