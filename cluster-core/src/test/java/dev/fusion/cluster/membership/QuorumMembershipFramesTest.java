package dev.fusion.cluster.membership;

import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.quorum.CommittedView;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class QuorumMembershipFramesTest
{
    private static final int[] NODES = {1, 2, 3};

    private final QuorumMembership membership = new QuorumMembership(3, 33, NODES, () -> Long.MAX_VALUE, v -> { });

    @Test
    void aFrameFromALivePeerStampedAtOrAfterBothJoinsIsAdmitted()
    {
        install(view(3, new int[]{11, 22, 33}, new long[]{1, 2, 3}));

        assertThat(membership.onFrame(2, 22, 3, 0)).isEqualTo(Membership.ADMITTED);
    }

    @Test
    void aFrameStampedBeforeThisNodesOwnJoinWasMeantForItsPreviousIncarnationAndIsDropped()
    {
        install(view(6, new int[]{11, 22, 34}, new long[]{1, 2, 6}));
        membership.rejoin(34);
        install(view(6, new int[]{11, 22, 34}, new long[]{1, 2, 6}));

        assertThat(membership.onFrame(2, 22, 4, 0)).as("sent at epoch 4 to incarnation 33").isEqualTo(Membership.FENCED);
        assertThat(membership.onFrame(2, 22, 6, 0)).isEqualTo(Membership.ADMITTED);
    }

    @Test
    void aFrameStampedBeforeTheSendersJoinIsDropped()
    {
        install(view(5, new int[]{11, 23, 33}, new long[]{1, 5, 3}));

        assertThat(membership.onFrame(2, 23, 4, 0)).isEqualTo(Membership.FENCED);
        assertThat(membership.onFrame(2, 23, 5, 0)).isEqualTo(Membership.ADMITTED);
    }

    @Test
    void aFrameFromAnIncarnationNotAliveIsDropped()
    {
        install(view(3, new int[]{11, 22, 33}, new long[]{1, 2, 3}));

        assertThat(membership.onFrame(2, 21, 3, 0)).isEqualTo(Membership.FENCED);
    }

    private void install(final CommittedView view)
    {
        assertThat(membership.offer(view)).isTrue();
        membership.poll(0);
    }

    private static CommittedView view(final long epoch, final int[] incarnations, final long[] since)
    {
        final MemberState[] states = {MemberState.ALIVE, MemberState.ALIVE, MemberState.ALIVE};
        return new CommittedView(epoch, new CommittedView.Members(NODES, states, incarnations, since), 0, 0);
    }
}
