package dev.fusion.cachefusion;

import dev.fusion.cluster.LocalCluster;
import dev.fusion.grd.GrdConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Money moves between accounts spread over many blocks, from every node at once; blocks travel between the
 * nodes' caches. The total never changes and every acknowledged transfer is in the final balances: with all
 * nodes up, with one killed mid-run, and with messages dropped and delayed.
 */
class BankTest
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
        return GrdConfig.builder().retryInterval(Duration.ofMillis(100)).remastering(false).build();
    }

    private static GrdConfig remastering()
    {
        return GrdConfig.builder().retryInterval(Duration.ofMillis(100)).remastering(true)
            .minResidence(Duration.ofMillis(200)).build();
    }

    @Test
    void totalIsConstantAndEveryAcknowledgedTransferIsPresent() throws Exception
    {
        c = new FusionCluster(3, 24, dir, remastering(), CacheFusionConfig.defaults(), 12);
        final Bank bank = new Bank(c);
        bank.start(2, 3);
        final List<Long> samples = new ArrayList<>();
        for (int i = 0; i < 4; i++)
        {
            Thread.sleep(500);
            samples.add(bank.consistentTotal(1 + i % 3));
        }
        bank.stop();

        if (!samples.stream().allMatch(t -> t == c.expectedTotal()))
        {
            // diagnostics for a rare failure (1 in ~50 full runs on 2026-11-30, not reproduced in 50 loops):
            // which accounts differ, and each page's state on every node (with -Dfusion.cachefusion.trace=true,
            // its last events)
            System.out.println("SAMPLES " + samples);
            bank.differences(bank.balances(2)).forEach(d -> System.out.println("DIFF " + d));
            for (int page = 0; page < c.disk.pages(); page++)
            {
                final long block = dev.fusion.cachefusion.reference.ReferenceEngine.block(page);
                for (int node = 1; node <= 3; node++)
                {
                    System.out.println("PAGE " + page + " node" + node + " " + c.fusion(node).describe(block));
                }
                if (dev.fusion.grd.GrdTrace.ENABLED)
                {
                    System.out.println("TIMELINE page " + page + " (-Dfusion.grd.trace=true):\n" +
                        dev.fusion.grd.GrdTrace.dump(block));
                }
            }
        }
        assertThat(samples).containsOnly(c.expectedTotal());
        assertThat(bank.acknowledged).hasSizeGreaterThan(100);
        assertThat(bank.failures.get()).as("failures: %s", bank.failureSamples).isZero();
        assertThat(bank.differences(bank.balances(2))).isEmpty();
        assertThat(bank.consistentTotal(3)).isEqualTo(c.expectedTotal());
        long threeWay = 0;
        long shipped = 0;
        for (int node = 1; node <= 3; node++)
        {
            threeWay += c.fusion(node).waitEvents().count("current_3way");
            shipped += c.fusion(node).waitEvents().count("images_shipped");
        }
        assertThat(threeWay).as("blocks travelled between caches").isPositive();
        assertThat(shipped).isPositive();
        assertThat(c.engine(1).evictions() + c.engine(2).evictions() + c.engine(3).evictions())
            .as("the small caches evicted").isPositive();
    }

    /** Repeated: the hand-overs a death interrupts differ from run to run (this found three recovery bugs). */
    @org.junit.jupiter.api.RepeatedTest(3)
    void aKilledNodesCommittedTransfersSurviveAndTheTotalHolds() throws Exception
    {
        c = new FusionCluster(3, 24, dir, grd(), CacheFusionConfig.defaults(), 64);
        final Bank bank = new Bank(c);
        bank.start(2, 3);
        Thread.sleep(1_500);
        final long ackedBefore = bank.acknowledged.size();
        final List<Bank.Transfer> uncertain = killThreeUnderLoad(bank);
        bank.stop();

        assertThat(ackedBefore).isPositive();
        final long total = bank.consistentTotal(1);
        if (total != c.expectedTotal())
        {
            final long[] balances = bank.balances(2);
            for (final String d : bank.differences(balances))
            {
                System.out.println("DIFF " + d);
            }
            for (int page = 0; page < c.disk.pages(); page++)
            {
                final long block = dev.fusion.cachefusion.reference.ReferenceEngine.block(page);
                System.out.println("PAGE " + page + " node1 " + c.fusion(1).describe(block));
                System.out.println("PAGE " + page + " node2 " + c.fusion(2).describe(block));
            }
        }
        assertThat(total).isEqualTo(c.expectedTotal());
        final long[] balances = bank.balances(2);
        assertThat(bank.explains(balances, uncertain))
            .as("final balances = acknowledged transfers + some of node 3's %d in-flight ones", uncertain.size())
            .isTrue();
        final long recovered = c.fusion(1).waitEvents().count("recoveries") +
            c.fusion(2).waitEvents().count("recoveries");
        assertThat(recovered).as("blocks node 3 held dirty were recovered from redo").isPositive();
    }

    /**
     * Kills node 3 while the bank runs and waits until the survivors see it dead and go on transferring.
     *
     * @return node 3's transfers in flight when it died: applied or not, either is right.
     */
    private List<Bank.Transfer> killThreeUnderLoad(final Bank bank)
    {
        c.kill(3);
        final List<Bank.Transfer> uncertain = new ArrayList<>();
        bank.inFlight.forEach((key, t) ->
        {
            if (key.startsWith("3/"))
            {
                uncertain.add(t);
            }
        });
        LocalCluster.await(() -> c.cluster.node(1).view().members().size() == 2 &&
            c.cluster.node(2).view().members().size() == 2, Duration.ofSeconds(10), "node 3 declared dead");
        final long ackedAtDeath = bank.acknowledged.size();
        LocalCluster.await(() -> bank.acknowledged.size() > ackedAtDeath + 50, Duration.ofSeconds(30),
            "survivors keep transferring");
        return uncertain;
    }

    @Test
    void aKilledNodeRestartedUnderLoadTakesItsShareBackAndNothingIsLost() throws Exception
    {
        c = new FusionCluster(3, 24, dir, grd(), CacheFusionConfig.defaults(), 64);
        final Bank bank = new Bank(c);
        bank.start(2, 3);
        Thread.sleep(1_500);
        final List<Bank.Transfer> uncertain = killThreeUnderLoad(bank);
        // node 3 comes back: its directory joins (its arcs handed back under load), its cache starts empty
        c.restart(3, grd(), CacheFusionConfig.defaults(), 64);
        c.cluster.awaitFullView(Duration.ofSeconds(20));
        final long ackedAtRestart = bank.acknowledged.size();
        final long failuresAtRestart = bank.failures.get();
        bank.startNode(3, 2, "3b");
        LocalCluster.await(() -> bank.acknowledged.size() > ackedAtRestart + 300 &&
            bank.acknowledgedBy.containsKey("3b") && bank.acknowledgedBy.get("3b").sum() > 50,
            Duration.ofSeconds(60), "all three nodes transferring again, the restarted one too");
        Thread.sleep(1_000);
        bank.stop();

        assertThat(bank.failures.get() - failuresAtRestart).as("failures after the restart (the first few of the run: %s)",
            bank.failureSamples).isZero();
        assertThat(bank.consistentTotal(1)).isEqualTo(c.expectedTotal());
        assertThat(bank.consistentTotal(3)).isEqualTo(c.expectedTotal());
        final long[] balances = bank.balances(3);
        assertThat(bank.explains(balances, uncertain))
            .as("final balances = acknowledged transfers + some of node 3's %d in-flight ones at its death",
                uncertain.size())
            .isTrue();
    }

    @Test
    void droppedAndDelayedMessagesLoseNothing() throws Exception
    {
        c = new FusionCluster(3, 24, dir, grd(), CacheFusionConfig.defaults().withImageTimeout(Duration.ofMillis(50)),
            64);
        final AtomicLong dropped = new AtomicLong();
        for (int node = 1; node <= 3; node++)
        {
            final SplittableRandom random = new SplittableRandom(node);
            c.cluster.node(node).receiveFilter((source, type, buffer, offset, length) ->
            {
                if (type < 32 || type > 46)
                {
                    return true;
                }
                final int roll = random.nextInt(1000);
                if (roll < 20)
                {
                    dropped.incrementAndGet();
                    return false; // 2% of directory and cache fusion messages lost
                }
                if (roll < 30)
                {
                    LockSupport.parkNanos(2_000_000); // 1% held up 2 ms, and everything behind them
                }
                return true;
            });
        }
        final Bank bank = new Bank(c);
        bank.start(2, 3);
        try
        {
            LocalCluster.await(() -> bank.acknowledged.size() > 300, Duration.ofSeconds(60), "300 transfers");
        }
        catch (final AssertionError stalled)
        {
            for (int page = 0; page < c.disk.pages(); page++)
            {
                final long block = dev.fusion.cachefusion.reference.ReferenceEngine.block(page);
                final int master = c.fusion(1).directory().masterOf(block);
                System.out.println("page " + page + " master " + master + " holders " +
                    c.fusion(master).directory().holders(block).get());
            }
            throw stalled;
        }
        bank.stop();
        for (int node = 1; node <= 3; node++)
        {
            c.cluster.node(node).receiveFilter(null);
        }

        assertThat(dropped.get()).isPositive();
        assertThat(bank.failures.get()).as("failures: %s", bank.failureSamples).isZero();
        final List<String> differences = bank.differences(bank.balances(1));
        if (!differences.isEmpty())
        {
            for (int page = 0; page < c.disk.pages(); page++)
            {
                final long block = dev.fusion.cachefusion.reference.ReferenceEngine.block(page);
                for (int node = 1; node <= 3; node++)
                {
                    System.out.println("PAGE " + page + " node" + node + " " + c.fusion(node).describe(block));
                }
            }
        }
        assertThat(differences).isEmpty();
        assertThat(bank.consistentTotal(2)).isEqualTo(c.expectedTotal());
        long retries = 0;
        for (int node = 1; node <= 3; node++)
        {
            retries += c.fusion(node).waitEvents().count("image_retries") +
                c.fusion(node).directory().stats().retries();
        }
        assertThat(retries).as("lost messages were retried").isPositive();
    }
}
