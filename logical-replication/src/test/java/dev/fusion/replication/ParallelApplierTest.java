package dev.fusion.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelApplierTest
{
    static Stream<Arguments> workloads()
    {
        final List<Arguments> args = new ArrayList<>();
        long seed = 1;
        for (final int workers : new int[]{1, 2, 4, 8, 16})
        {
            for (final boolean preserve : new boolean[]{true, false})
            {
                for (final int hotKeys : new int[]{4, 64, 4096})
                {
                    args.add(Arguments.of(seed++, workers, preserve, hotKeys));
                }
            }
        }
        return args.stream();
    }

    /** The property: whatever the workers, overlap, barriers and ordering mode, the result is serial apply's. */
    @ParameterizedTest(name = "seed {0}, {1} workers, preserve order {2}, {3} hot keys")
    @MethodSource("workloads")
    void parallelApplyEqualsSerialApply(final long seed, final int workers, final boolean preserve, final int hotKeys)
        throws Exception
    {
        final List<Transaction> txns = new Workload(seed, hotKeys, 0.02, 0.01).next(1500);

        final TableStore serial = new TableStore(false, 0);
        for (final Transaction t : txns)
        {
            serial.apply(t);
            serial.commit(t);
        }

        final TableStore parallel = new TableStore(preserve, 0);
        try (ParallelApplier applier = new ParallelApplier(parallel, workers, preserve, 64, 100_000, 0))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            final long last = txns.get(txns.size() - 1).position();
            assertThat(applier.awaitWatermark(last, 30_000)).as("applied, failure: %s", applier.failure()).isTrue();
            assertThat(applier.failure()).isNull();
            assertThat(applier.applied()).isEqualTo(txns.size());
            assertThat(applier.barriers().get(BarrierCause.DDL)).isPositive();
            assertThat(applier.barriers().get(BarrierCause.NO_PRIMARY_KEY)).isPositive();
        }
        assertThat(parallel.snapshot()).isEqualTo(serial.snapshot());
        if (preserve)
        {
            assertThat(parallel.commitOrder).as("an observer sees commits in source order")
                .containsExactlyElementsOf(txns.stream().map(Transaction::position).toList());
        }
    }

    @Test
    void aSlowCommitIsAmortisedOverGroupsInSourceOrderAndALightLoadCommitsOneByOne() throws Exception
    {
        final List<Long> committed = java.util.Collections.synchronizedList(new ArrayList<>());
        final java.util.concurrent.atomic.AtomicInteger groups = new java.util.concurrent.atomic.AtomicInteger();
        final ApplyHandler syncing = new ApplyHandler()
        {
            @Override
            public void apply(final Transaction txn)
            {
            }

            @Override
            public void commit(final Transaction txn) throws Exception
            {
                commitBatch(List.of(txn));
            }

            @Override
            public void commitBatch(final List<Transaction> txns) throws Exception
            {
                Thread.sleep(1); // one "sync" per group, whatever its size
                groups.incrementAndGet();
                txns.forEach(t -> committed.add(t.position()));
            }
        };
        final List<Transaction> txns = new Workload(31, 1 << 16, 0.01, 0).next(3000);
        try (ParallelApplier applier = new ParallelApplier(syncing, 4, true, 512, 100_000, 0))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            assertThat(applier.awaitWatermark(txns.get(txns.size() - 1).position(), 60_000)).isTrue();
            assertThat(committed).as("every transaction committed once, in source order")
                .containsExactlyElementsOf(txns.stream().map(Transaction::position).toList());
            assertThat(groups.get()).as("a backlog is committed in groups").isLessThan(txns.size() / 4);
            assertThat(applier.commitGroups()).isEqualTo(groups.get());

            // one at a time, each waited for: nothing to group, each commits alone
            groups.set(0);
            committed.clear();
            final List<Transaction> trickle = new Workload(32, 1 << 16, 0, 0).next(30);
            final long base = txns.get(txns.size() - 1).position();
            for (final Transaction t : trickle)
            {
                final Transaction later = new Transaction(t.origin(), base + t.position(), t.commitTimeMs(),
                    t.changes());
                applier.submit(later);
                assertThat(applier.awaitWatermark(later.position(), 10_000)).isTrue();
            }
            assertThat(groups.get()).isEqualTo(30);
            assertThat(applier.commitBatchLimit()).isLessThanOrEqualTo(2);
        }
    }

    @Test
    void aTinyKeyHistoryOverflowsIntoBarriersAndStaysCorrect() throws Exception
    {
        final List<Transaction> txns = new Workload(99, 256, 0.0, 0.0).next(1000);
        final TableStore serial = new TableStore(false, 0);
        for (final Transaction t : txns)
        {
            serial.apply(t);
        }
        final TableStore parallel = new TableStore(true, 0);
        try (ParallelApplier applier = new ParallelApplier(parallel, 4, true, 16, 8, 0))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            assertThat(applier.awaitWatermark(txns.get(txns.size() - 1).position(), 30_000)).isTrue();
            assertThat(applier.barriers().get(BarrierCause.HISTORY_OVERFLOW)).isPositive();
        }
        assertThat(parallel.snapshot()).isEqualTo(serial.snapshot());
    }

    @Test
    void duplicatesAndPositionsAtOrBelowTheWatermarkAreSkippedAndCounted() throws Exception
    {
        final List<Transaction> txns = new Workload(5, 64, 0, 0).next(100);
        final TableStore store = new TableStore(true, 0);
        final long resumeAfter = txns.get(49).position();
        for (final Transaction t : txns.subList(0, 50))
        {
            store.apply(t);
            store.commit(t);
        }
        try (ParallelApplier applier = new ParallelApplier(store, 4, true, 32, 10_000, resumeAfter))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            assertThat(applier.submit(txns.get(80))).as("a replayed transaction").isFalse();
            assertThat(applier.awaitWatermark(txns.get(99).position(), 30_000)).isTrue();
            assertThat(applier.duplicates()).isEqualTo(51);
            assertThat(applier.applied()).isEqualTo(50);
        }
        final TableStore serial = new TableStore(false, 0);
        for (final Transaction t : txns)
        {
            serial.apply(t);
        }
        assertThat(store.snapshot()).as("nothing lost, nothing applied twice").isEqualTo(serial.snapshot());
    }

    @Test
    void aFailingApplyStopsTheApplierAndIsReported() throws Exception
    {
        final List<Transaction> txns = new Workload(7, 64, 0, 0).next(200);
        final long poison = txns.get(100).position();
        final TableStore store = new TableStore(true, 0);
        final ApplyHandler failing = new ApplyHandler()
        {
            @Override
            public void apply(final Transaction txn) throws Exception
            {
                if (txn.position() == poison)
                {
                    throw new java.io.IOException("disk full");
                }
                store.apply(txn);
            }

            @Override
            public void commit(final Transaction txn)
            {
                store.commit(txn);
            }
        };
        try (ParallelApplier applier = new ParallelApplier(failing, 4, true, 32, 10_000, 0))
        {
            assertThatThrownBy(() ->
            {
                for (final Transaction t : txns)
                {
                    applier.submit(t);
                }
                applier.awaitWatermark(txns.get(199).position(), 10_000);
                applier.submit(new Transaction(1, Long.MAX_VALUE - 1, 0, List.of()));
            }).isInstanceOf(IllegalStateException.class).hasMessageContaining("disk full");
            assertThat(applier.watermark()).as("nothing at or after the failed transaction is committed")
                .isLessThan(poison);
        }
        final List<Long> committed;
        synchronized (store.commitOrder)
        {
            committed = List.copyOf(store.commitOrder);
        }
        assertThat(committed).doesNotContain(poison);
    }

    @Test
    void defaultsPreserveOrderWithOneWorkerPerCoreUpToSixteen() throws Exception
    {
        final ApplierConfig defaults = ApplierConfig.builder().build();
        assertThat(defaults.preserveCommitOrder()).isTrue();
        assertThat(defaults.workers()).isEqualTo(Math.min(16, Runtime.getRuntime().availableProcessors()));
        assertThatThrownBy(() -> ApplierConfig.builder().workers(65).build())
            .hasMessage("invalid workers: 65 (accepted: 1..64)");
        final List<Transaction> txns = new Workload(8, 64, 0.01, 0.01).next(300);
        final TableStore store = new TableStore(true, 0);
        try (ParallelApplier applier = new ParallelApplier(store, defaults, 0))
        {
            for (final Transaction t : txns)
            {
                applier.submit(t);
            }
            assertThat(applier.awaitWatermark(txns.get(299).position(), 30_000)).isTrue();
        }
        final TableStore serial = new TableStore(false, 0);
        txns.forEach(serial::apply);
        assertThat(store.snapshot()).isEqualTo(serial.snapshot());
    }

    @Test
    void theWorkerCountGrowsWithIndependentWorkAndStaysLowOnAChain() throws Exception
    {
        final ApplierConfig adaptive = ApplierConfig.builder().minWorkers(1).workers(8).window(512).build();
        final List<Transaction> independent = new Workload(31, 1_000_000, 0, 0).next(3000);
        final TableStore slow = new TableStore(true, 300_000);
        int peak = 0;
        try (ParallelApplier applier = new ParallelApplier(slow, adaptive, 0))
        {
            assertThat(applier.activeWorkers()).isEqualTo(1);
            for (final Transaction t : independent)
            {
                applier.submit(t);
                peak = Math.max(peak, applier.activeWorkers());
            }
            assertThat(applier.awaitWatermark(independent.get(2999).position(), 60_000)).isTrue();
        }
        assertThat(peak).as("grew towards the maximum while independent work waited").isGreaterThanOrEqualTo(6);

        final List<Transaction> chain = new ArrayList<>();
        for (int i = 1; i <= 300; i++)
        {
            chain.add(new Transaction(1, i, 0, List.of(new Change("accounts", new KeyRef("accounts",
                "a1".getBytes(java.nio.charset.StandardCharsets.UTF_8)), null, null, i == 1 ? ChangeOp.INSERT :
                ChangeOp.UPDATE, ("e@x," + (i - 1)).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                ("e@x," + i).getBytes(java.nio.charset.StandardCharsets.UTF_8)))));
        }
        int chainPeak = 0;
        try (ParallelApplier applier = new ParallelApplier(new TableStore(true, 300_000), adaptive, 0))
        {
            for (final Transaction t : chain)
            {
                applier.submit(t);
                chainPeak = Math.max(chainPeak, applier.activeWorkers());
            }
            assertThat(applier.awaitWatermark(300, 60_000)).isTrue();
            chainPeak = Math.max(chainPeak, applier.activeWorkers());
        }
        assertThat(chainPeak).as("a chain of dependent transactions offers no parallelism").isLessThanOrEqualTo(2);
    }

    @Test
    void rejectsBadSettings()
    {
        assertThatThrownBy(() -> new ParallelApplier(new TableStore(false, 0), 0, true, 8, 8, 0))
            .hasMessageContaining("workers");
        assertThatThrownBy(() -> new ParallelApplier(new TableStore(false, 0), 2, true, 0, 8, 0))
            .hasMessageContaining("window");
        assertThatThrownBy(() -> new Transaction(1, 0, 0, List.of())).hasMessageContaining("position");
    }
}
