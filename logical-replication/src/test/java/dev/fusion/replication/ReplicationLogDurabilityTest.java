package dev.fusion.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Group commit: appends from many threads share the fsyncs that make them durable. */
class ReplicationLogDurabilityTest
{
    private static final int THREADS = 8;
    private static final int PER_THREAD = 250;

    @Test
    void fsyncIsTheDefault(@TempDir final Path dir)
    {
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30))
        {
            assertThat(log.durability()).isEqualTo(Durability.FSYNC);
        }
    }

    @Test
    void eightThreadsAwaitingDurabilityShareFsyncsAndEachReturnsCoveredByOne(@TempDir final Path dir)
        throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final List<Transaction> changes = new Workload(1, 64, 0, 0).next(16);
        final AtomicLong nextPosition = new AtomicLong();
        final AtomicInteger uncovered = new AtomicInteger();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final CountDownLatch start = new CountDownLatch(1);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 30, 1L << 31, 0, Durability.FSYNC, files))
        {
            final int forcesAtOpen = files.segmentForces.get();
            final List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
            {
                threads.add(new Thread(() ->
                {
                    try
                    {
                        start.await();
                        for (int i = 0; i < PER_THREAD; i++)
                        {
                            final long position;
                            final long needed;
                            synchronized (nextPosition)
                            {
                                position = log.append(new Transaction(1, nextPosition.incrementAndGet(), 0,
                                    changes.get(i % changes.size()).changes()));
                                needed = files.written.get();
                            }
                            log.awaitDurable(position);
                            if (files.forcedWritten.get() < needed || log.durablePosition() < position)
                            {
                                uncovered.incrementAndGet();
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        errors.add(ex);
                    }
                }));
            }
            threads.forEach(Thread::start);
            start.countDown();
            for (final Thread thread : threads)
            {
                thread.join();
            }
            assertThat(errors).isEmpty();
            final int appends = THREADS * PER_THREAD;
            final int forces = files.segmentForces.get() - forcesAtOpen;
            assertThat(uncovered.get()).as("records whose wait returned before an fsync covered them").isZero();
            assertThat(forces).as("fsyncs for %d durable appends", appends).isPositive().isLessThan(appends);
            assertThat(log.durablePosition()).isEqualTo(appends);
        }
    }

    @Test
    void withOsDurabilityNothingWaitsForAnFsync(@TempDir final Path dir)
    {
        final FaultyFiles files = new FaultyFiles();
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, Durability.OS, files))
        {
            for (final Transaction txn : new Workload(2, 64, 0, 0).next(100))
            {
                log.awaitDurable(log.append(txn));
            }
            assertThat(files.segmentForces.get()).isZero();
        }
    }

    @Test
    void aFailedGroupFsyncFailsTheWaitersItDidNotCoverAndRefusesLaterAppends(@TempDir final Path dir)
        throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final List<Transaction> txns = new Workload(3, 64, 0, 0).next(6);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, Durability.FSYNC, files))
        {
            log.awaitDurable(log.append(txns.get(0)));
            final long second = log.append(txns.get(1));
            final long third = log.append(txns.get(2));
            files.failForces = true;
            assertThatThrownBy(() -> log.awaitDurable(third))
                .isInstanceOf(ReplicationLogException.class).hasMessageContaining("fsync");
            files.heal();
            assertThatThrownBy(() -> log.awaitDurable(second))
                .isInstanceOf(ReplicationLogException.class).hasMessageContaining("is not durable");
            log.awaitDurable(txns.get(0).position());
            assertThatThrownBy(() -> log.append(txns.get(3)))
                .isInstanceOf(ReplicationLogException.class).hasMessageContaining("refuses every append");
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, Durability.FSYNC, files))
        {
            assertThat(reopened.lastPosition()).isEqualTo(txns.get(2).position());
            reopened.awaitDurable(reopened.append(txns.get(3)));
        }
    }

    @Test
    void syncEachAppendMakesEveryAppendDurableOnReturn(@TempDir final Path dir)
    {
        final FaultyFiles files = new FaultyFiles();
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, true, files))
        {
            for (final Transaction txn : new Workload(4, 64, 0, 0).next(20))
            {
                log.append(txn);
                final long needed = files.written.get();
                assertThat(log.durablePosition()).isEqualTo(txn.position());
                assertThat(files.forcedWritten.get()).isGreaterThanOrEqualTo(needed);
            }
        }
    }

    @Test
    void anInterruptedWaitForDurabilityFailsOnlyThatWait(@TempDir final Path dir)
    {
        final List<Transaction> txns = new Workload(5, 64, 0, 0).next(3);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, Durability.FSYNC))
        {
            final long first = log.append(txns.get(0));
            Thread.currentThread().interrupt();
            try
            {
                assertThatThrownBy(() -> log.awaitDurable(first))
                    .isInstanceOf(ReplicationLogException.class).hasMessageContaining("interrupted");
            }
            finally
            {
                assertThat(Thread.interrupted()).isTrue();
            }
            log.awaitDurable(first);
            log.awaitDurable(log.append(txns.get(1)));
            log.awaitDurable(log.append(txns.get(2)));
            assertThat(log.durablePosition()).isEqualTo(txns.get(2).position());
        }
    }
}
