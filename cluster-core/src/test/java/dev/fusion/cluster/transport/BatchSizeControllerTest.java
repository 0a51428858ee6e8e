package dev.fusion.cluster.transport;

import org.junit.jupiter.api.Test;

import static dev.fusion.cluster.transport.BatchSizeController.Reason.BUDGET;
import static dev.fusion.cluster.transport.BatchSizeController.Reason.DRAINED;
import static dev.fusion.cluster.transport.BatchSizeController.Reason.FULL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchSizeControllerTest
{
    private static final long BUDGET_NS = 500_000;
    private static final long LINK = 1L << 30;

    @Test
    void maxOfOneNeverBatches()
    {
        final BatchSizeController c = new BatchSizeController(1, 1, BUDGET_NS, LINK, 0);
        assertThat(c.flushReason(1, 0, 0, true)).isEqualTo(FULL);
        assertThat(c.flushReason(1, 0, 0, false)).isEqualTo(FULL);
        c.onFlush(FULL, 1, true, true);
        assertThat(c.target()).isEqualTo(1);
    }

    @Test
    void fixedSizeWaitsForTheSizeOrTheBudgetAndNeverAdapts()
    {
        final BatchSizeController c = new BatchSizeController(100, 100, BUDGET_NS, LINK, 0);
        assertThat(c.flushReason(5, 0, 1000, true)).as("lingers for more").isNull();
        assertThat(c.flushReason(5, 0, BUDGET_NS, true)).isEqualTo(BUDGET);
        assertThat(c.flushReason(100, 0, 1000, false)).isEqualTo(FULL);
        c.onFlush(BUDGET, 5, false, true);
        assertThat(c.target()).isEqualTo(100);
    }

    @Test
    void growsWhileBatchesFillWithABacklogUpToTheMaximum()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        int previous = c.target();
        for (int i = 0; i < 100; i++)
        {
            c.onFlush(FULL, c.target(), true, false);
            assertThat(c.target()).isGreaterThanOrEqualTo(previous).isLessThanOrEqualTo(1000);
            previous = c.target();
        }
        assertThat(c.target()).isEqualTo(1000);
    }

    @Test
    void fullBatchesWithoutBacklogDoNotGrowIt()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        c.onFlush(FULL, 10, false, false);
        assertThat(c.target()).isEqualTo(10);
    }

    @Test
    void shrinksTowardsWhatArrivesWhenTheBudgetExpiresButNotBelowTheMinimum()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        for (int i = 0; i < 30; i++)
        {
            c.onFlush(FULL, c.target(), true, false);
        }
        assertThat(c.target()).isEqualTo(1000);
        c.onFlush(BUDGET, 200, false, false);
        assertThat(c.target()).isEqualTo(600);
        for (int i = 0; i < 30; i++)
        {
            c.onFlush(BUDGET, 1, false, false);
        }
        assertThat(c.target()).isEqualTo(10);
    }

    @Test
    void backPressureDoublesTheTarget()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        c.onFlush(DRAINED, 3, false, true);
        assertThat(c.target()).isEqualTo(20);
    }

    @Test
    void atLightLoadAPartialBatchGoesAsSoonAsTheQueueIsDrained()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        long now = 0;
        for (int i = 0; i < 100; i++)
        {
            now += 100_000;
            c.onArrivals(1, 128, now);
        }
        assertThat(c.arrivalRatePerSecond()).isBetween(5_000.0, 15_000.0);
        assertThat(c.flushReason(1, now, now, true)).isEqualTo(DRAINED);
        assertThat(c.flushReason(1, now, now, false)).as("more queued: keep filling").isNull();
    }

    @Test
    void atHighArrivalRatesAPartialBatchWaitsToFill()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, LINK, 0);
        long now = 0;
        for (int i = 0; i < 10; i++)
        {
            now += 1_000_000;
            c.onArrivals(10_000, 10_000 * 128, now);
        }
        assertThat(c.arrivalRatePerSecond()).isGreaterThan(5e6);
        assertThat(c.flushReason(3, now, now, true)).isNull();
        assertThat(c.flushReason(3, now - BUDGET_NS, now, true)).isEqualTo(BUDGET);
    }

    @Test
    void aSendRateNearLinkCapacityGrowsTheTarget()
    {
        final BatchSizeController c = new BatchSizeController(10, 1000, BUDGET_NS, 100L << 20, 0);
        long now = 0;
        for (int i = 0; i < 10; i++)
        {
            now += 1_000_000;
            c.onArrivals(1000, 100_000, now);
        }
        c.onFlush(DRAINED, 5, false, false);
        assertThat(c.target()).isEqualTo(20);
    }

    @Test
    void rejectsAnEmptyRange()
    {
        assertThatThrownBy(() -> new BatchSizeController(0, 10, BUDGET_NS, LINK, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0..10");
        assertThatThrownBy(() -> new BatchSizeController(10, 5, BUDGET_NS, LINK, 0))
            .isInstanceOf(IllegalArgumentException.class);
    }
}
