package dev.fusion.grd;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MasterMapTest
{
    private static final int VIRTUAL_NODES = 256;

    @Test
    void aMoveToANodeOffTheRingLeavesTheResourceWithItsRingMasterAndStillCountsAsItsLatestMove()
    {
        final MasterMap map = new MasterMap(MasterRing.of(List.of(1, 2, 3), VIRTUAL_NODES));
        final long r = 42;
        assertThat(map.overrideResource(r, 1, 1)).isTrue();
        // node 3 dies; then the announcement of r's move to it arrives
        final MasterRing survivors = MasterRing.of(List.of(1, 2), VIRTUAL_NODES);
        map.replaceRing(survivors);
        assertThat(map.masterOf(r)).as("a move to a live node survives a death").isEqualTo(1);
        assertThat(map.overrideResource(r, 3, 2)).isTrue();
        assertThat(map.masterOf(r)).as("moved to the dead node: back to the ring").isEqualTo(survivors.masterOf(r));
        assertThat(map.moveVersion(r)).isEqualTo(2);
        assertThat(map.overrideResource(r, 1, 2)).as("an older or equal move is stale").isFalse();
        assertThat(map.masterOf(r)).isEqualTo(survivors.masterOf(r));
        assertThat(map.overrideResource(r, 2, 3)).isTrue();
        assertThat(map.masterOf(r)).isEqualTo(2);
    }

    @Test
    void aNodeThatRejoinsDoesNotMasterWhatWasMovedToItBeforeItsDeath()
    {
        final MasterRing all = MasterRing.of(List.of(1, 2, 3), VIRTUAL_NODES);
        final MasterMap map = new MasterMap(all);
        for (long r = 0; r < 100_000; r++)
        {
            assertThat(map.overrideResource(r, 3, 1)).isTrue();
        }
        assertThat(map.resourceOverrides()).isEqualTo(100_000);
        map.replaceRing(MasterRing.of(List.of(1, 2), VIRTUAL_NODES));
        assertThat(map.resourceOverrides()).isZero();
        map.replaceRing(all);
        for (long r = 0; r < 100_000; r += 997)
        {
            assertThat(map.masterOf(r)).as("resource %d", r).isEqualTo(all.masterOf(r));
            assertThat(map.moveVersion(r)).as("its move is still counted").isEqualTo(1);
        }
    }
}
