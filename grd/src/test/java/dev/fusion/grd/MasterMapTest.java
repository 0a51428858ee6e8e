package dev.fusion.grd;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MasterMapTest
{
    private static final int VIRTUAL_NODES = 256;

    @Test
    void aDeathDropsEveryEarlierMoveAndRefusesLateOnesButKeepsMovesMadeAfterIt()
    {
        final MasterMap map = new MasterMap(MasterRing.of(List.of(1, 2, 3), VIRTUAL_NODES));
        final MasterRing survivors = MasterRing.of(List.of(1, 2), VIRTUAL_NODES);
        final long r = 42;
        final long s = 43;
        final long t = 44;
        final long inEpoch3 = MasterMap.nextVersion(map.moveVersion(r), 3);
        assertThat(map.overrideResource(r, 2, inEpoch3)).isTrue();
        assertThat(map.overrideResource(s, 1, MasterMap.nextVersion(map.moveVersion(s), 3))).isTrue();
        // a node that saw node 3 die first (epoch 4) moved t already
        final long inEpoch4 = MasterMap.nextVersion(map.moveVersion(t), 4);
        assertThat(map.overrideResource(t, 1, inEpoch4)).isTrue();
        assertThat(map.masterOf(r)).isEqualTo(2);
        assertThat(map.moved(r)).isTrue();

        map.afterDeath(survivors, 4);

        assertThat(map.masterOf(r)).as("back to the ring").isEqualTo(survivors.masterOf(r));
        assertThat(map.masterOf(s)).isEqualTo(survivors.masterOf(s));
        assertThat(map.moved(r)).isFalse();
        assertThat(map.masterOf(t)).as("moved after the death: kept").isEqualTo(1);
        assertThat(map.overrideResource(r, 2, inEpoch3 + 1)).as("a late announcement of an earlier move").isFalse();
        assertThat(map.masterOf(r)).isEqualTo(survivors.masterOf(r));
        final long next = MasterMap.nextVersion(map.moveVersion(r), 4);
        assertThat(next).isGreaterThan(inEpoch3);
        assertThat(map.overrideResource(r, 1, next)).as("a move made after the death").isTrue();
        assertThat(map.masterOf(r)).isEqualTo(1);
    }

    @Test
    void versionsGrowWithinAnEpochAndJumpAtANewOne()
    {
        assertThat(MasterMap.nextVersion(0, 3)).isEqualTo(3L << 32);
        assertThat(MasterMap.nextVersion(3L << 32, 3)).isEqualTo((3L << 32) + 1);
        assertThat(MasterMap.nextVersion((3L << 32) + 7, 5)).isEqualTo(5L << 32);
    }
}
