package dev.fusion.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
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

    private static Path firstSegment(final Path dir) throws IOException
    {
        try (Stream<Path> files = Files.list(dir))
        {
            return files.filter(p -> p.toString().endsWith(".log")).sorted().findFirst().orElseThrow();
        }
    }

    private static String segmentName(final long position)
    {
        return String.format("%020d.log", position);
    }

    /** Appends the transactions; @return the byte offset in the (single) segment where each record starts. */
    private static long[] appendAll(final Path dir, final List<Transaction> txns) throws IOException
    {
        final long[] starts = new long[txns.size()];
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            for (int i = 0; i < txns.size(); i++)
            {
                starts[i] = i == 0 ? 0 : Files.size(firstSegment(dir));
                log.append(txns.get(i));
            }
        }
        return starts;
    }

    private static void flipByte(final Path file, final long offset) throws IOException
    {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.seek(offset);
            final int b = raf.read();
            raf.seek(offset);
            raf.write(b ^ 0x10);
        }
    }

    @Test
    void aTornHeaderAtTheTailIsCutOnOpen(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(5, 64, 0, 0).next(20);
        appendAll(dir, txns);
        final Path segment = firstSegment(dir);
        final long size = Files.size(segment);
        final byte[] header = new byte[10];
        System.arraycopy(Files.readAllBytes(segment), 0, header, 0, header.length);
        Files.write(segment, header, StandardOpenOption.APPEND);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(Files.size(segment)).isEqualTo(size);
            assertThat(log.lastPosition()).isEqualTo(txns.get(19).position());
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
        }
    }

    @Test
    void aLastRecordWhoseHeaderWasDamagedIsCutOnOpenThoughItsPayloadIsIntact(@TempDir final Path dir)
        throws Exception
    {
        final List<Transaction> txns = new Workload(6, 64, 0, 0).next(20);
        final long[] starts = appendAll(dir, txns);
        final Path segment = firstSegment(dir);
        flipByte(segment, starts[19] + 8 + 5);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(Files.size(segment)).isEqualTo(starts[19]);
            assertThat(log.lastPosition()).isEqualTo(txns.get(18).position());
            assertThat(replay(log, 0)).isEqualTo(positions(txns.subList(0, 19)));
            log.append(txns.get(19));
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
        }
    }

    @Test
    void aDamagedPositionInsideTheLogIsRefusedOnOpen(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(7, 64, 0, 0).next(20);
        final long[] starts = appendAll(dir, txns);
        final Path segment = firstSegment(dir);
        flipByte(segment, starts[4] + 8);
        assertThatThrownBy(() -> ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
            .hasMessageContaining("corrupt record at byte " + starts[4] + " of " + segment)
            .hasMessageContaining("refusing to open");
    }

    @Test
    void aZeroFilledTailIsCutOnOpen(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(8, 64, 0, 0).next(21);
        appendAll(dir, txns.subList(0, 20));
        final Path segment = firstSegment(dir);
        final long size = Files.size(segment);
        Files.write(segment, new byte[4096 + 10], StandardOpenOption.APPEND);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(Files.size(segment)).isEqualTo(size);
            assertThat(log.lastPosition()).isEqualTo(txns.get(19).position());
            log.append(txns.get(20));
        }
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
        }
    }

    @Test
    void aRecordCutShortBeforeAZeroFilledRegionIsCutOnOpen(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(9, 64, 0, 0).next(20);
        final long[] starts = appendAll(dir, txns);
        final Path segment = firstSegment(dir);
        try (RandomAccessFile file = new RandomAccessFile(segment.toFile(), "rw"))
        {
            file.seek(starts[19] + 30);
            file.write(new byte[(int)(file.length() - starts[19] - 30)]);
            file.write(new byte[8192]);
        }
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(Files.size(segment)).isEqualTo(starts[19]);
            assertThat(replay(log, 0)).isEqualTo(positions(txns.subList(0, 19)));
        }
    }

    @Test
    void anEmptyNewestSegmentKeepsTheLastPositionOfTheSegmentsBefore(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(10, 64, 0, 0).next(21);
        appendAll(dir, txns.subList(0, 20));
        final Path empty = Files.createFile(dir.resolve(segmentName(txns.get(20).position())));
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(log.lastPosition()).isEqualTo(txns.get(19).position());
            assertThatThrownBy(() -> log.append(new Transaction(1, 1, 0, List.of()))).hasMessageContaining("not above");
            log.append(txns.get(20));
        }
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
            assertThat(log.lastPosition()).isEqualTo(txns.get(20).position());
        }
        assertThat(empty).as("the empty segment was removed on open").doesNotExist();
    }

    @Test
    void aPositionThatDoesNotGrowMakesOpenRefuseNamingTheFileAndTheOffset(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(11, 64, 0, 0).next(10);
        final List<Transaction> older = List.of(new Transaction(1, 3, 0, txns.get(0).changes()),
            new Transaction(1, 4, 0, txns.get(1).changes()));
        appendAll(dir.resolve("older"), older);
        final byte[] olderRecords = Files.readAllBytes(firstSegment(dir.resolve("older")));

        final Path within = dir.resolve("within");
        appendAll(within, txns);
        final Path segment = firstSegment(within);
        final long size = Files.size(segment);
        Files.write(segment, olderRecords, StandardOpenOption.APPEND);
        assertThatThrownBy(() -> ReplicationLog.open(within, 1 << 20, 1 << 30, false))
            .hasMessageContaining("position 3 at byte " + size + " of " + segment)
            .hasMessageContaining("does not exceed");

        final Path across = dir.resolve("across");
        appendAll(across, txns);
        final Path later = across.resolve(segmentName(txns.get(9).position() + 100));
        Files.write(later, olderRecords);
        assertThatThrownBy(() -> ReplicationLog.open(across, 1 << 20, 1 << 30, false))
            .hasMessageContaining("position 3 at byte 0 of " + later)
            .hasMessageContaining("does not exceed");
    }

    @Test
    void strayFilesInTheDirectoryAreIgnoredWithAWarning(@TempDir final Path dir) throws Exception
    {
        final List<Transaction> txns = new Workload(12, 64, 0, 0).next(20);
        appendAll(dir, txns);
        final List<Path> strays = List.of(Files.writeString(dir.resolve("notes.txt"), "hello"),
            Files.writeString(dir.resolve("backup.log"), "not a segment"),
            Files.writeString(dir.resolve(segmentName(1) + ".bak"), "a copy"),
            Files.createDirectory(dir.resolve("archive")));
        final Logger logger = Logger.getLogger(ReplicationLog.class.getName());
        final List<LogRecord> warnings = new ArrayList<>();
        final Handler handler = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                if (record.getLevel() == Level.WARNING)
                {
                    warnings.add(record);
                }
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
        logger.addHandler(handler);
        try (ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1 << 30, false))
        {
            assertThat(replay(log, 0)).isEqualTo(positions(txns));
            log.append(new Transaction(1, txns.get(19).position() + 1, 0, List.of()));
        }
        finally
        {
            logger.removeHandler(handler);
        }
        for (final Path stray : strays)
        {
            assertThat(stray).exists();
            assertThat(warnings).as("a warning names %s", stray)
                .anySatisfy(w -> assertThat(w.getMessage()).contains(stray.toString()));
        }
    }
}
