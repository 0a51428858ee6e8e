package dev.fusion.grd;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MasterRingTest
{
    private static final int RESOURCES = 200_000;

    @Test
    void spreadsResourcesEvenlyOverNodes()
    {
        final MasterRing ring = MasterRing.of(List.of(1, 2, 3, 4), MasterRing.DEFAULT_VIRTUAL_NODES);
        final Map<Integer, Integer> counts = new HashMap<>();
        for (int i = 0; i < RESOURCES; i++)
        {
            counts.merge(ring.masterOf(ResourceId.of(i % 1000, i / 1000)), 1, Integer::sum);
        }
        assertThat(counts).containsOnlyKeys(1, 2, 3, 4);
        counts.values().forEach(c -> assertThat(c).isBetween(RESOURCES / 4 * 85 / 100, RESOURCES / 4 * 115 / 100));
    }

    @Test
    void anObjectsBlocksSpreadOverAllNodesWhateverTheObjectId()
    {
        final MasterRing ring = MasterRing.of(List.of(1, 2, 3), MasterRing.DEFAULT_VIRTUAL_NODES);
        for (int object = 1; object <= 3; object++)
        {
            final Map<Integer, Integer> counts = new HashMap<>();
            for (int block = 0; block < 3000; block++)
            {
                counts.merge(ring.masterOf(ResourceId.of(object, block)), 1, Integer::sum);
            }
            assertThat(counts).as("object %d", object).containsOnlyKeys(1, 2, 3);
            counts.values().forEach(c -> assertThat(c).isBetween(700, 1300));
        }
    }

    @Test
    void aLeavingNodeMovesOnlyItsOwnResources()
    {
        final MasterRing before = MasterRing.of(List.of(1, 2, 3, 4), 256);
        final MasterRing after = MasterRing.of(List.of(1, 2, 4), 256);
        int moved = 0;
        for (long r = 0; r < RESOURCES; r++)
        {
            final int a = before.masterOf(r);
            final int b = after.masterOf(r);
            if (a != b)
            {
                assertThat(a).as("only node 3's resources move").isEqualTo(3);
                moved++;
            }
            else
            {
                assertThat(a).isNotEqualTo(3);
            }
        }
        assertThat((double)moved / RESOURCES).isBetween(0.20, 0.30);
    }

    @Test
    void aJoiningNodeTakesAboutOneNthFromTheOthers()
    {
        final MasterRing before = MasterRing.of(List.of(1, 2, 3), 256);
        final MasterRing after = MasterRing.of(List.of(1, 2, 3, 4), 256);
        int moved = 0;
        for (long r = 0; r < RESOURCES; r++)
        {
            if (before.masterOf(r) != after.masterOf(r))
            {
                assertThat(after.masterOf(r)).as("moves only to the new node").isEqualTo(4);
                moved++;
            }
        }
        assertThat((double)moved / RESOURCES).isBetween(0.20, 0.30);
    }

    @Test
    void everyNodeComputesTheSameMaster()
    {
        final MasterRing a = MasterRing.of(List.of(3, 1, 2), 256);
        final MasterRing b = MasterRing.of(List.of(1, 2, 3), 256);
        for (long r = 0; r < 10_000; r++)
        {
            assertThat(a.masterOf(r)).isEqualTo(b.masterOf(r));
        }
    }

    @Test
    void overridesWinAndOldVersionsAreIgnored()
    {
        final MasterMap map = new MasterMap(MasterRing.of(List.of(1, 2, 3), 256));
        final long r = ResourceId.of(5, 9);
        final int ringMaster = map.masterOf(r);
        final int other = ringMaster == 1 ? 2 : 1;
        assertThat(map.overrideResource(r, other, map.version() + 1)).isTrue();
        assertThat(map.masterOf(r)).isEqualTo(other);
        assertThat(map.overrideResource(r, ringMaster, 1)).as("stale version").isFalse();
        assertThat(map.masterOf(r)).isEqualTo(other);
        map.replaceRing(MasterRing.of(List.of(ringMaster, 3 == other ? 1 : 3), 256));
        if (!map.ring().contains(other))
        {
            assertThat(map.masterOf(r)).as("override to a departed node dropped").isEqualTo(map.ringMasterOf(r));
        }
    }

    @Test
    void rejectsAnEmptyRing()
    {
        assertThatThrownBy(() -> MasterRing.of(List.of(), 256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MasterRing.of(List.of(1), 0)).hasMessageContaining("virtualNodes");
    }
}
