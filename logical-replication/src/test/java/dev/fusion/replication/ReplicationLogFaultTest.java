package dev.fusion.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Disk faults injected under the log through its {@link SegmentFiles}. */
class ReplicationLogFaultTest
{
    private static List<Long> replay(final ReplicationLog log) throws NotRetainedException
    {
        final List<Long> positions = new ArrayList<>();
        log.replay(0, t -> positions.add(t.position()));
        return positions;
    }

    private static List<Path> segments(final Path dir) throws IOException
    {
        try (Stream<Path> files = Files.list(dir))
        {
            return files.filter(p -> p.toString().endsWith(".log")).sorted().toList();
        }
    }

    private static long bytes(final Path dir) throws IOException
    {
        long total = 0;
        for (final Path segment : segments(dir))
        {
            total += Files.size(segment);
        }
        return total;
    }

    private static void appendRecording(final ReplicationLog log, final Transaction txn, final List<Long> appended)
    {
        log.append(txn);
        appended.add(txn.position());
    }

    @Test
    void aWriteThatRunsOutOfSpaceHalfwayLeavesNothingAndAppendsResumeOnceThereIsSpace(@TempDir final Path dir)
        throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final List<Transaction> txns = new Workload(1, 64, 0, 0).next(11);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, false, files))
        {
            txns.subList(0, 10).forEach(log::append);
            final long before = bytes(dir);

            files.space.set(30);
            assertThatThrownBy(() -> log.append(txns.get(10)))
                .isInstanceOf(ReplicationLogException.class)
                .hasMessageContaining("No space left on device")
                .hasMessageContaining("nothing was written");
            assertThat(bytes(dir)).as("the partial record was cut off").isEqualTo(before);
            assertThat(log.lastPosition()).isEqualTo(txns.get(9).position());
            assertThatThrownBy(() -> log.append(txns.get(10))).isInstanceOf(ReplicationLogException.class);

            files.heal();
            log.append(txns.get(10));
            assertThat(replay(log)).isEqualTo(txns.stream().map(Transaction::position).toList());
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(replay(reopened)).isEqualTo(txns.stream().map(Transaction::position).toList());
        }
    }

    @Test
    void underARepeatedlyFullDiskExactlyTheAcceptedAppendsAreInTheLog(@TempDir final Path dir) throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final Random random = new Random(7);
        final List<Transaction> txns = new Workload(2, 64, 0.05, 0.01).next(400);
        final List<Long> accepted = new ArrayList<>();
        int failed = 0;
        try (ReplicationLog log = ReplicationLog.open(dir, 4096, 1 << 30, 0, false, files))
        {
            for (final Transaction txn : txns)
            {
                if (random.nextInt(5) == 0)
                {
                    files.space.set(random.nextInt(200));
                }
                try
                {
                    log.append(txn);
                    accepted.add(txn.position());
                }
                catch (final ReplicationLogException ex)
                {
                    failed++;
                    files.heal();
                    if (random.nextBoolean())
                    {
                        log.append(txn);
                        accepted.add(txn.position());
                    }
                }
                files.heal();
            }
            assertThat(failed).as("the disk filled up mid-record").isGreaterThan(20);
            assertThat(segments(dir)).as("segments rolled meanwhile").hasSizeGreaterThan(3);
            assertThat(replay(log)).isEqualTo(accepted);
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 4096, 1 << 30, false))
        {
            assertThat(replay(reopened)).isEqualTo(accepted);
            assertThat(reopened.lastPosition()).isEqualTo(accepted.get(accepted.size() - 1));
        }
    }

    @Test
    void aSegmentThatCannotBeStartedFailsTheAppendAndTheCurrentSegmentStaysInUse(@TempDir final Path dir)
        throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final List<Transaction> txns = new Workload(3, 64, 0, 0).next(400);
        final List<Long> appended = new ArrayList<>();
        int next = 0;
        try (ReplicationLog log = ReplicationLog.open(dir, 4096, 1 << 30, 0, false, files))
        {
            while (next == 0 || Files.size(segments(dir).get(0)) < 4096)
            {
                appendRecording(log, txns.get(next++), appended);
            }
            files.failCreates = true;
            final Transaction rolling = txns.get(next);
            assertThatThrownBy(() -> log.append(rolling))
                .isInstanceOf(ReplicationLogException.class)
                .hasMessageContaining("creating the segment")
                .hasMessageContaining("nothing was written");
            assertThat(segments(dir)).hasSize(1);
            files.heal();
            appendRecording(log, txns.get(next++), appended);
            assertThat(segments(dir)).hasSize(2);

            while (Files.size(segments(dir).get(1)) < 4096)
            {
                appendRecording(log, txns.get(next++), appended);
            }
            files.space.set(10);
            final Transaction rollingAgain = txns.get(next);
            assertThatThrownBy(() -> log.append(rollingAgain))
                .isInstanceOf(ReplicationLogException.class)
                .hasMessageContaining("No space left on device")
                .hasMessageContaining("nothing was written");
            assertThat(segments(dir)).as("the new segment was removed").hasSize(2);
            files.heal();
            for (int i = 0; i < 20; i++)
            {
                appendRecording(log, txns.get(next++), appended);
            }
            assertThat(segments(dir)).hasSize(3);
            assertThat(replay(log)).isEqualTo(appended);
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 4096, 1 << 30, false))
        {
            assertThat(replay(reopened)).isEqualTo(appended);
        }
    }

    @Test
    void aFailedFsyncRefusesEveryLaterAppendUntilTheLogIsReopened(@TempDir final Path dir) throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        final List<Transaction> txns = new Workload(4, 64, 0, 0).next(10);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, true, files))
        {
            txns.subList(0, 5).forEach(log::append);
            files.failForces = true;
            assertThatThrownBy(() -> log.append(txns.get(5)))
                .isInstanceOf(ReplicationLogException.class)
                .hasMessageContaining("fsync");
            files.heal();
            assertThatThrownBy(() -> log.append(txns.get(6)))
                .isInstanceOf(ReplicationLogException.class)
                .hasMessageContaining("fsync")
                .hasMessageContaining("refuses every append until it is closed and opened again");
            assertThatThrownBy(() -> log.append(txns.get(7))).isInstanceOf(ReplicationLogException.class);
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 1 << 20, 1 << 30, 0, true, files))
        {
            final List<Long> kept = replay(reopened);
            assertThat(kept).startsWith(txns.subList(0, 5).stream().map(Transaction::position).toArray(Long[]::new));
            reopened.append(txns.get(8));
            reopened.append(txns.get(9));
            assertThat(replay(reopened)).endsWith(txns.get(8).position(), txns.get(9).position());
        }
    }

    @Test
    void theDirectoryIsSyncedWhenASegmentIsCreatedOrDeleted(@TempDir final Path dir) throws Exception
    {
        final FaultyFiles files = new FaultyFiles();
        int changes = 0;
        try (ReplicationLog log = ReplicationLog.open(dir, 4096, 16384, 0, false, files))
        {
            List<Path> before = segments(dir);
            for (final Transaction txn : new Workload(5, 64, 0, 0).next(600))
            {
                final int synced = files.directoryForces.get();
                log.append(txn);
                final List<Path> after = segments(dir);
                if (!after.equals(before))
                {
                    changes++;
                    assertThat(files.directoryForces.get()).as("after %s became %s", before, after)
                        .isGreaterThan(synced);
                }
                before = after;
            }
            assertThat(log.retainedAfter()).as("segments were deleted too").isPositive();
        }
        assertThat(changes).isGreaterThan(5);
    }

    @Test
    void anInterruptedAppendWritesNothingAndTheLogStaysUsable(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(6, 64, 0, 0).next(12);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            txns.subList(0, 10).forEach(log::append);
            final long before = bytes(dir);
            Thread.currentThread().interrupt();
            try
            {
                assertThatThrownBy(() -> log.append(txns.get(10)))
                    .isInstanceOf(ReplicationLogException.class)
                    .hasMessageContaining("nothing was written");
            }
            finally
            {
                assertThat(Thread.interrupted()).as("the interrupt is kept for the caller").isTrue();
            }
            assertThat(bytes(dir)).isEqualTo(before);
            log.append(txns.get(10));
            log.append(txns.get(11));
            assertThat(replay(log)).isEqualTo(txns.stream().map(Transaction::position).toList());
        }
    }
}
