package dev.fusion.grd;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

class OverrideTableTest
{
    @Test
    void randomMovesClearsAndRingChangesAgreeWithAPlainMap()
    {
        for (long seed = 1; seed <= 20; seed++)
        {
            final SplittableRandom random = new SplittableRandom(seed);
            final OverrideTable table = new OverrideTable();
            final Map<Long, Integer> expected = new HashMap<>();
            final int keys = 1 + random.nextInt(5_000);
            for (int step = 0; step < 20_000; step++)
            {
                final long resource = random.nextLong(keys) * 0x1_0000_0001L; // spread over both halves of the id
                final int op = random.nextInt(100);
                if (op < 70)
                {
                    final int master = random.nextInt(1, 8);
                    table.put(resource, master);
                    expected.put(resource, master);
                }
                else if (op < 98)
                {
                    table.put(resource, OverrideTable.ABSENT);
                    expected.remove(resource);
                }
                else
                {
                    final int dead = random.nextInt(1, 8);
                    table.clearWhere(master -> master == dead);
                    expected.values().removeIf(master -> master == dead);
                }
            }
            assertThat(table.size()).as("seed %d", seed).isEqualTo(expected.size());
            for (long k = 0; k < keys; k++)
            {
                final long resource = k * 0x1_0000_0001L;
                assertThat(table.get(resource)).as("seed %d resource %d", seed, resource)
                    .isEqualTo(expected.getOrDefault(resource, OverrideTable.ABSENT));
            }
        }
    }

    @Test
    void aReaderNeverMissesAnOverrideWhileTheWriterGrowsTheTable() throws Exception
    {
        final OverrideTable table = new OverrideTable();
        final int stable = 64;
        for (long r = 0; r < stable; r++)
        {
            table.put(r, (int)(r % 3) + 1);
        }
        final AtomicBoolean writing = new AtomicBoolean(true);
        final AtomicLong reads = new AtomicLong();
        final AtomicReference<String> wrong = new AtomicReference<>();
        final Thread reader = new Thread(() ->
        {
            long n = 0;
            while (writing.get() || n == 0)
            {
                for (long r = 0; r < stable; r++)
                {
                    final int master = table.get(r);
                    if (master != (int)(r % 3) + 1)
                    {
                        wrong.compareAndSet(null, "resource " + r + " read " + master);
                    }
                    n++;
                }
            }
            reads.set(n);
        }, "override-reader");
        reader.start();
        // 200,000 moves of other resources, many of them cleared again: the table resizes many times
        for (long r = 1_000; r < 201_000; r++)
        {
            table.put(r, 2);
            if (r % 3 == 0)
            {
                table.put(r - 1, OverrideTable.ABSENT);
            }
        }
        writing.set(false);
        reader.join();
        assertThat(wrong.get()).isNull();
        assertThat(reads.get()).isPositive();
        assertThat(table.size()).isEqualTo(stable + 200_000 - 200_000 / 3);
    }
}
