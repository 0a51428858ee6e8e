package dev.fusion.grd;

import dev.fusion.cluster.LocalCluster;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TierTest
{
    private static final long HOUR = 3_600_000;
    private final GrdConfig config = GrdConfig.defaults();

    @Test
    void recencyOrRateMakesAnEntryHotThenWarmThenCold()
    {
        final long now = 100 * 24 * HOUR;
        assertThat(Tier.classify(config, 1, now - 10, now - 10, now)).isEqualTo(Tier.HOT);
        assertThat(Tier.classify(config, 1, now - 2 * HOUR, now - 2 * HOUR, now)).isEqualTo(Tier.WARM);
        assertThat(Tier.classify(config, 1, now - 48 * HOUR, now - 48 * HOUR, now)).isEqualTo(Tier.COLD);
        assertThat(Tier.classify(config, 1000, now - 48 * HOUR, now - 3 * HOUR, now))
            .as("500 ops a day is hot however long ago the last").isEqualTo(Tier.HOT);
        assertThat(Tier.classify(config, 50, now - 48 * HOUR, now - 30 * HOUR, now))
            .as("25 ops a day is warm").isEqualTo(Tier.WARM);
        assertThatThrownBy(() -> GrdConfig.builder().opsPerDay(1, 10).build()).hasMessageContaining("hotOpsPerDay");
        assertThatThrownBy(() -> GrdConfig.builder().hotRecency(Duration.ofHours(2)).warmRecency(Duration.ofHours(1))
            .build()).hasMessageContaining("warmRecency");
    }

    @Test
    void idleEntriesLeaveTheHeapAndComeBackWhenUsed() throws Exception
    {
        final GrdConfig fast = GrdConfig.builder().hotRecency(Duration.ofMillis(200)).warmRecency(Duration.ofMillis(400))
            .opsPerDay(1e12, 1e12).tierScanInterval(Duration.ofMillis(100)).build();
        try (LocalCluster cluster = LocalCluster.start(1, LocalCluster::smallMachineDefaults);
             GlobalResourceDirectory grd = GlobalResourceDirectory.start(cluster.node(1), fast, RecoveryHandler.NONE))
        {
            for (int i = 0; i < 20; i++)
            {
                final long r = ResourceId.of(1, i);
                grd.acquire(r, LockMode.SHARED).get(5, TimeUnit.SECONDS);
                grd.release(r).get(5, TimeUnit.SECONDS);
            }
            assertThat(grd.stats().hotEntries()).isEqualTo(20);
            LocalCluster.await(() -> grd.stats().hotEntries() == 0, Duration.ofSeconds(10), "demotion");
            assertThat(grd.stats().storedEntries()).isEqualTo(20);
            LocalCluster.await(() -> grd.stats().coldEntries() == 20, Duration.ofSeconds(10), "cold classification");
            final long promotions = grd.stats().promotions();
            grd.acquire(ResourceId.of(1, 3), LockMode.EXCLUSIVE).get(5, TimeUnit.SECONDS);
            assertThat(grd.stats().promotions()).isEqualTo(promotions + 1);
            assertThat(grd.stats().hotEntries()).isEqualTo(1);
            assertThat(grd.stats().demotions()).isGreaterThanOrEqualTo(20);
            Thread.sleep(600);
            assertThat(grd.stats().hotEntries()).as("held: stays on the heap").isEqualTo(1);
            grd.release(ResourceId.of(1, 3)).get(5, TimeUnit.SECONDS);
            LocalCluster.await(() -> grd.stats().hotEntries() == 0, Duration.ofSeconds(10),
                "demotion once released (an entry that became idle is a candidate again)");
        }
    }
}
