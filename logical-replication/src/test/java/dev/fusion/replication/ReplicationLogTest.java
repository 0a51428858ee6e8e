package dev.fusion.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReplicationLogTest
{
    private static List<Long> replay(final ReplicationLog log, final long from) throws NotRetainedException
    {
        final List<Long> positions = new ArrayList<>();
        log.replay(from, t -> positions.add(t.position()));
        return positions;
    }

    private static List<Long> positions(final List<Transaction> txns)
    {
        return txns.stream().map(Transaction::position).toList();
    }

    @Test
    void replaysEverythingAfterAPositionAndSurvivesARestart(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(1, 64, 0.05, 0.01).next(300);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            txns.forEach(log::append);
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
            final long middle = txns.get(149).position();
            assertThat(replay(log, middle)).isEqualTo(positions(txns.subList(150, 300)));
            assertThatThrownBy(() -> log.append(txns.get(10))).hasMessageContaining("not above");
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 1 << 20, 1 << 30, true))
        {
            assertThat(reopened.lastPosition()).isEqualTo(txns.get(299).position());
            assertThat(replay(reopened, 0)).isEqualTo(positions(txns));
            final Transaction next = new Transaction(1, txns.get(299).position() + 1, 0, List.of());
            reopened.append(next);
            assertThat(replay(reopened, txns.get(299).position())).containsExactly(next.position());
        }
    }

    @Test
    void aReplayFromAnyPositionStartsRightAfterItAcrossSegmentsAndARestart(@TempDir final Path dir) throws Exception
    {
        // small segments: the index (every 64th record) and segment boundaries both fall between the cases
        final List<Transaction> txns = new Workload(3, 64, 0.05, 0.01).next(700);
        try (ReplicationLog log = ReplicationLog.open(dir, 32 << 10, 1 << 30, false))
        {
            txns.forEach(log::append);
            checkEveryStart(log, txns);
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 32 << 10, 1 << 30, false))
        {
            checkEveryStart(reopened, txns);
        }
    }

    private static void checkEveryStart(final ReplicationLog log, final List<Transaction> txns) throws Exception
    {
        for (int i = 0; i < txns.size(); i += 7)
        {
            final long from = txns.get(i).position();
            assertThat(replay(log, from)).as("from %d", from).isEqualTo(positions(txns.subList(i + 1, txns.size())));
            // a position between two records (positions need not be dense)
            assertThat(replay(log, from + 1).get(0)).isGreaterThan(from + 1);
        }
    }

    @Test
    void aTornTailFromACrashIsCutOffAndNeverReplayed(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(2, 64, 0, 0).next(50);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            txns.forEach(log::append);
        }
        final Path segment;
        try (Stream<Path> files = Files.list(dir))
        {
            segment = files.filter(p -> p.toString().endsWith(".log")).findFirst().orElseThrow();
        }
        final long size = Files.size(segment);
        try (RandomAccessFile file = new RandomAccessFile(segment.toFile(), "rw"))
        {
            file.setLength(size - 7);
        }
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(replay(log, 0)).isEqualTo(positions(txns.subList(0, 49)));
            assertThat(log.lastPosition()).isEqualTo(txns.get(48).position());
            log.append(txns.get(49));
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
        }
    }

    @Test
    void corruptionInsideTheLogIsRefusedNotTruncated(@TempDir final Path dir) throws IOException
    {
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            new Workload(3, 64, 0, 0).next(20).forEach(log::append);
        }
        final Path segment;
        try (Stream<Path> files = Files.list(dir))
        {
            segment = files.filter(p -> p.toString().endsWith(".log")).findFirst().orElseThrow();
        }
        try (RandomAccessFile file = new RandomAccessFile(segment.toFile(), "rw"))
        {
            file.seek(40);
            file.write(0x5A);
        }
        assertThatThrownBy(() -> ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
            .hasMessageContaining("corrupt record").hasMessageContaining("refusing to open");
        assertThat(Files.size(segment)).as("nothing was truncated").isGreaterThan(40);
    }

    @Test
    void retentionDeletesOldSegmentsAndOlderReplaysNeedAFullSync(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(4, 64, 0, 0).next(2000);
        try (ReplicationLog log = ReplicationLog.open(dir, 8192, 32768, false))
        {
            txns.forEach(log::append);
            final long retainedAfter = log.retainedAfter();
            assertThat(retainedAfter).isPositive();
            assertThatThrownBy(() -> replay(log, 0)).isInstanceOf(NotRetainedException.class)
                .hasMessageContaining("full sync");
            final List<Long> replayed = replay(log, retainedAfter);
            assertThat(replayed).isNotEmpty().last().isEqualTo(txns.get(1999).position());
            assertThat(replayed.get(0)).isGreaterThan(retainedAfter);
            long onDisk;
            try (Stream<Path> files = Files.list(dir))
            {
                onDisk = files.filter(p -> p.toString().endsWith(".log")).mapToLong(p -> p.toFile().length()).sum();
            }
            assertThat(onDisk).isLessThanOrEqualTo(32768 + 8192);
        }
        try (ReplicationLog reopened = ReplicationLog.open(dir, 8192, 32768, false))
        {
            assertThatThrownBy(() -> replay(reopened, 0)).isInstanceOf(NotRetainedException.class);
        }
    }

    @Test
    void segmentsOlderThanTheAgeBoundAreDeleted(@TempDir final Path dir) throws Exception
    {
        final long hourAgo = System.currentTimeMillis() - 3_600_000;
        try (ReplicationLog log = ReplicationLog.open(dir, 4096, 1L << 30, 60_000, false))
        {
            long position = 0;
            for (int i = 0; i < 200; i++)
            {
                log.append(new Transaction(1, ++position, hourAgo, new Workload(i, 8, 0, 0).next(1).get(0).changes()));
            }
            for (int i = 0; i < 200; i++)
            {
                log.append(new Transaction(1, ++position, System.currentTimeMillis(),
                    new Workload(i, 8, 0, 0).next(1).get(0).changes()));
            }
            assertThat(log.retainedAfter()).as("the hour-old segments went").isGreaterThanOrEqualTo(150);
            final List<Long> replayed = replay(log, log.retainedAfter());
            assertThat(replayed.get(replayed.size() - 1)).isEqualTo(400);
            assertThat(replayed).contains(201L, 400L);
        }
    }

    @Test
    void rejectsBadSizes(@TempDir final Path dir)
    {
        assertThatThrownBy(() -> ReplicationLog.open(dir, 100, 1 << 20, false)).hasMessageContaining("segmentBytes");
        assertThatThrownBy(() -> ReplicationLog.open(dir, 1 << 20, 4096, false)).hasMessageContaining("retentionBytes");
    }
}
