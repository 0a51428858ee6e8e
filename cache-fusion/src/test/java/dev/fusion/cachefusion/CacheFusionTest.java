package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.grd.GrdConfig;
import dev.fusion.grd.LockMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class CacheFusionTest
{
    @TempDir
    Path dir;
    private FusionCluster c;

    @AfterEach
    void close()
    {
        if (null != c)
        {
            c.close();
        }
    }

    private static GrdConfig grd()
    {
        return GrdConfig.builder().remastering(false).build();
    }

    /** Three nodes; a page node 3 masters (the third node when nodes 1 and 2 take it from each other). */
    private int startWithAPageMasteredByNode3()
    {
        c = new FusionCluster(3, 32, dir, grd(), CacheFusionConfig.defaults(), 64);
        return pageMasteredBy(3);
    }

    /** A page whose master is {@code master}. */
    private int pageMasteredBy(final int master)
    {
        for (int page = 0; ; page++)
        {
            if (c.fusion(1).directory().masterOf(ReferenceEngine.block(page)) == master)
            {
                return page;
            }
        }
    }

    @Test
    void blocksMoveByGrantTwoWayAndThreeWayAndCarryTheirChanges() throws Exception
    {
        final int page = startWithAPageMasteredByNode3();
        final long block = ReferenceEngine.block(page);
        final long account = (long)page * AccountPage.ROWS;

        // nobody has it: a grant, read from disk
        final BlockGrant first = c.fusion(1).acquire(block, LockMode.EXCLUSIVE).get(5, TimeUnit.SECONDS);
        assertThat(first.kind()).isEqualTo(GetKind.GRANT);
        c.fusion(1).release(block);
        c.engine(1).transfer(account, account + 1, 10, 5_000);

        // node 2 asks master 3, which forwards to holder 1: three-way, with node 1's change in the image
        final BlockGrant second = c.fusion(2).acquire(block, LockMode.EXCLUSIVE).get(5, TimeUnit.SECONDS);
        assertThat(second.kind()).isEqualTo(GetKind.THREE_WAY);
        assertThat(AccountPage.balance(c.engine(2).current(block).bytes(), 0)).isEqualTo(990);
        assertThat(AccountPage.balance(c.engine(2).current(block).bytes(), 1)).isEqualTo(1010);
        assertThat(c.engine(1).current(block)).as("the old holder dropped its copy").isNull();
        assertThat(c.engine(1).pastImages()).as("a dirty EXCLUSIVE given up leaves a past image").isEqualTo(1);
        c.fusion(2).release(block);

        // the master itself asks: its forward and node 2's image, two-way
        final BlockGrant third = c.fusion(3).acquire(block, LockMode.SHARED).get(5, TimeUnit.SECONDS);
        assertThat(third.kind()).isEqualTo(GetKind.TWO_WAY);
        c.fusion(3).release(block);
        final BlockGrant fourth = c.fusion(3).acquire(block, LockMode.SHARED).get(5, TimeUnit.SECONDS);
        assertThat(fourth.kind()).as("already held: no message").isEqualTo(GetKind.LOCAL);
        c.fusion(3).release(block);

        // node 1 asks for SHARED: node 2 and node 3 hold it SHARED, the master ships its own copy
        final BlockGrant fifth = c.fusion(1).acquire(block, LockMode.SHARED).get(5, TimeUnit.SECONDS);
        assertThat(fifth.kind()).isEqualTo(GetKind.TWO_WAY);
        assertThat(AccountPage.balance(c.engine(1).current(block).bytes(), 1)).isEqualTo(1010);
        c.fusion(1).release(block);

        final WaitEvents events = c.fusion(2).waitEvents();
        assertThat(events.count("current_3way")).isEqualTo(1);
        assertThat(events.latency("current_3way").getTotalCount()).isEqualTo(1);
        assertThat(c.fusion(1).waitEvents().count("images_shipped")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aNodeForgetsTheStateOfBlocksItNoLongerHoldsAndGetsThemAgainLater() throws Exception
    {
        c = new FusionCluster(3, 32, dir, grd(), CacheFusionConfig.defaults(), 64);
        for (int page = 0; page < 32; page++)
        {
            c.fusion(1).acquire(ReferenceEngine.block(page), LockMode.SHARED).get(5, TimeUnit.SECONDS);
            c.fusion(1).release(ReferenceEngine.block(page));
        }
        assertThat(c.fusion(1).trackedBlocks()).as("held SHARED: kept").isEqualTo(32);
        for (int page = 0; page < 32; page++)
        {
            assertThat(c.fusion(1).downgrade(ReferenceEngine.block(page), LockMode.NULL).get(5, TimeUnit.SECONDS))
                .isTrue();
        }
        dev.fusion.cluster.LocalCluster.await(() -> c.fusion(1).trackedBlocks() == 0, java.time.Duration.ofSeconds(5),
            "node 1 to forget the blocks it gave up (it has " + c.fusion(1).trackedBlocks() + ")");
        for (int page = 0; page < 32; page += 5)
        {
            final long block = ReferenceEngine.block(page);
            c.fusion(2).acquire(block, LockMode.EXCLUSIVE).get(5, TimeUnit.SECONDS);
            c.fusion(2).release(block);
            assertThat(c.fusion(1).acquire(block, LockMode.EXCLUSIVE).get(5, TimeUnit.SECONDS).kind())
                .isIn(GetKind.TWO_WAY, GetKind.THREE_WAY);
            c.fusion(1).release(block);
        }
    }

    @Test
    void anImageThatCarriesItsGrantIsUsedAtOnceAndItsHoldIsConfirmed() throws Exception
    {
        final int page = startWithAPageMasteredByNode3();
        final long block = ReferenceEngine.block(page);
        final long account = (long)page * AccountPage.ROWS;
        final int transfers = 200;
        for (int i = 0; i < transfers; i++)
        {
            // nodes 1 and 2 take the block in turn from each other: 3-way gets through master 3
            c.engine(1 + i % 2).transfer(account, account + 1, 1, 5_000);
        }
        long early = 0;
        for (int node = 1; node <= 3; node++)
        {
            early += c.fusion(node).waitEvents().count("grants_with_image");
        }
        assertThat(early).as("gets served on an image that carried its grant").isPositive();
        final int last = 1 + (transfers - 1) % 2;
        dev.fusion.cluster.LocalCluster.await(
            () -> c.fusion(last).directory().heldMode(block) == LockMode.EXCLUSIVE,
            java.time.Duration.ofSeconds(5), "the last holder's grant confirmed by its directory");
        final BlockGrant read = c.fusion(3).acquire(block, LockMode.SHARED).get(5, TimeUnit.SECONDS);
        assertThat(read.kind()).isNotEqualTo(GetKind.LOCAL);
        assertThat(AccountPage.balance(c.engine(3).current(block).bytes(), 0)).isEqualTo(1000 - transfers);
        assertThat(AccountPage.balance(c.engine(3).current(block).bytes(), 1)).isEqualTo(1000 + transfers);
        c.fusion(3).release(block);
    }

    @Test
    void consistentReadsReturnExactlyTheImageAsOfTheirScnWhileWritersContinue() throws Exception
    {
        c = new FusionCluster(3, 8, dir, grd(), CacheFusionConfig.defaults().withCrFairnessLimit(5), 64);
        final int page = pageMasteredBy(2);
        final long block = ReferenceEngine.block(page);
        final long a = (long)page * AccountPage.ROWS;
        // the writer on node 1 logs every version it commits: SCN -> balance of account a
        final java.util.concurrent.ConcurrentSkipListMap<Long, Long> versions = new java.util.concurrent.ConcurrentSkipListMap<>();
        versions.put(0L, FusionCluster.OPENING_BALANCE);
        final java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
        final Thread writer = new Thread(() ->
        {
            long balance = FusionCluster.OPENING_BALANCE;
            while (writing.get())
            {
                try
                {
                    final long scn = c.engine(1).transfer(a, a + 1, 1, 5_000);
                    balance -= 1;
                    versions.put(scn, balance);
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                }
                catch (final Exception ex)
                {
                    throw new IllegalStateException(ex);
                }
            }
        });
        writer.start();
        final java.util.Random random = new java.util.Random(7);
        int checked = 0;
        try
        {
            while (checked < 300)
            {
                final long newest = versions.lastKey();
                // any SCN the undo still reaches (it keeps the last 20,000 versions of a page)
                final long oldest = Math.max(0, newest - 10_000);
                final long scn = random.nextInt(4) == 0 ? newest : oldest + (long)(random.nextDouble() * (newest - oldest + 1));
                final int reader = 2 + random.nextInt(2);
                final BlockImage image;
                try
                {
                    image = c.fusion(reader).readConsistent(block, scn).get(5, TimeUnit.SECONDS);
                }
                catch (final java.util.concurrent.ExecutionException ex)
                {
                    throw new AssertionError("SCN " + scn + " from node " + reader + ": undo has " +
                        (null == c.undo.asOf(page, scn) ? "nothing" : "a version") + " at or below it, newest " +
                        c.undo.newest(page) + ", dropped up to " + c.undo.droppedUpTo(page) + ", writer's first " +
                        versions.higherKey(0L) + ", disk version " + AccountPage.version(c.disk.read(page)), ex);
                }
                final java.util.Map.Entry<Long, Long> expected = versions.floorEntry(scn);
                assertThat(image.version()).as("version as of SCN %d", scn).isEqualTo(expected.getKey());
                assertThat(AccountPage.balance(image.bytes(), 0)).isEqualTo(expected.getValue());
                assertThat(AccountPage.balance(image.bytes(), 0) + AccountPage.balance(image.bytes(), 1))
                    .isEqualTo(2 * FusionCluster.OPENING_BALANCE);
                checked++;
            }
        }
        finally
        {
            writing.set(false);
            writer.join();
        }
        // with the writer idle, a run of reads of the hot block makes its holder invoke the fairness rule
        final long last = versions.lastKey();
        for (int i = 0; i < 15; i++)
        {
            final BlockImage image = c.fusion(2).readConsistent(block, last).get(5, TimeUnit.SECONDS);
            assertThat(image.version()).isEqualTo(last);
        }
        long fromHolder = 0;
        long fairness = 0;
        for (int node = 2; node <= 3; node++)
        {
            final WaitEvents events = c.fusion(node).waitEvents();
            fromHolder += events.count("cr_2way") + events.count("cr_3way");
        }
        fairness = c.fusion(1).waitEvents().count("fairness_answers");
        assertThat(versions.size()).as("the writer kept writing").isGreaterThan(10);
        assertThat(fromHolder).as("copies built by the holder and shipped").isPositive();
        assertThat(fairness).as("the holder invoked the fairness rule on its hot block").isPositive();
    }

    @Test
    void pastImagesAreDiscardedOnceTheNewestVersionIsWritten() throws Exception
    {
        c = new FusionCluster(3, 16, dir, grd(), CacheFusionConfig.defaults(), 64);
        // pass a few pages around the ring of nodes, changing them each time: every hand-over leaves a past image
        for (int round = 0; round < 6; round++)
        {
            final int node = round % 3 + 1;
            for (int page = 0; page < 4; page++)
            {
                final long account = (long)page * AccountPage.ROWS;
                c.engine(node).transfer(account, account + 2, 1, 5_000);
            }
        }
        final int kept = c.engine(1).pastImages() + c.engine(2).pastImages() + c.engine(3).pastImages();
        assertThat(kept).isGreaterThan(0);
        // the current holders write their newest versions; everyone drops older past images
        int written = 0;
        for (int node = 1; node <= 3; node++)
        {
            written += c.fusion(node).checkpoint().get(5, TimeUnit.SECONDS);
        }
        assertThat(written).isEqualTo(4);
        dev.fusion.cluster.LocalCluster.await(() -> c.engine(1).pastImages() + c.engine(2).pastImages() +
            c.engine(3).pastImages() == 0, java.time.Duration.ofSeconds(5), "every past image discarded");
        long discarded = 0;
        for (int node = 1; node <= 3; node++)
        {
            discarded += c.fusion(node).waitEvents().count("past_images_discarded");
        }
        assertThat(discarded).isEqualTo(kept);
        for (int page = 0; page < 4; page++)
        {
            assertThat(AccountPage.total(c.disk.read(page))).isEqualTo(AccountPage.ROWS * FusionCluster.OPENING_BALANCE);
        }
    }
}
