package dev.fusion.cachefusion;

import dev.fusion.cachefusion.reference.AccountPage;
import dev.fusion.cachefusion.reference.ReferenceEngine;
import dev.fusion.grd.LockMode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** The bank workload: random transfers from every node; what was acknowledged, and what was in flight. */
final class Bank
{
    record Transfer(long from, long to, long amount)
    {
    }

    final FusionCluster c;
    final int accounts;
    final ConcurrentLinkedQueue<Transfer> acknowledged = new ConcurrentLinkedQueue<>();
    /** Acknowledged transfers by node (the key's part before '/': "3b" for a restarted node 3). */
    final Map<String, java.util.concurrent.atomic.LongAdder> acknowledgedBy =
        new java.util.concurrent.ConcurrentHashMap<>();
    /** Per node and thread: the transfer started and not yet acknowledged (null when none). */
    final Map<String, Transfer> inFlight = new java.util.concurrent.ConcurrentHashMap<>();
    final AtomicLong failures = new AtomicLong();
    final ConcurrentLinkedQueue<String> failureSamples = new ConcurrentLinkedQueue<>();
    final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> threads = new ArrayList<>();

    Bank(final FusionCluster c)
    {
        this.c = c;
        this.accounts = c.disk.pages() * AccountPage.ROWS;
    }

    void start(final int threadsPerNode, final int nodes)
    {
        for (int node = 1; node <= nodes; node++)
        {
            for (int t = 0; t < threadsPerNode; t++)
            {
                final int n = node;
                final String key = node + "/" + t;
                final Thread thread = new Thread(() -> work(n, key), "bank-" + key);
                thread.setDaemon(true);
                threads.add(thread);
                thread.start();
            }
        }
    }

    /** More threads on one node (a restarted one), their keys starting with {@code prefix}. */
    void startNode(final int node, final int threadsPerNode, final String prefix)
    {
        for (int t = 0; t < threadsPerNode; t++)
        {
            final String key = prefix + "/" + t;
            final Thread thread = new Thread(() -> work(node, key), "bank-" + key);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    private void work(final int node, final String key)
    {
        final SplittableRandom random = new SplittableRandom(key.hashCode());
        final ReferenceEngine engine = c.engine(node);
        while (running.get() && c.alive(node))
        {
            final long from = random.nextInt(accounts);
            long to = random.nextInt(accounts);
            if (to == from)
            {
                to = (to + 1) % accounts;
            }
            final Transfer t = new Transfer(from, to, 1 + random.nextInt(50));
            inFlight.put(key, t);
            try
            {
                engine.transfer(t.from(), t.to(), t.amount(), 20_000);
                acknowledged.add(t);
                acknowledgedBy.computeIfAbsent(key.substring(0, key.indexOf('/')),
                    k -> new java.util.concurrent.atomic.LongAdder()).increment();
                inFlight.remove(key);
            }
            catch (final Exception ex)
            {
                if (c.alive(node))
                {
                    inFlight.remove(key); // failed before commit: not applied
                    if (failures.incrementAndGet() < 5)
                    {
                        failureSamples.add(key + ": " + ex);
                    }
                }
            }
        }
    }

    void stop() throws InterruptedException
    {
        running.set(false);
        for (final Thread t : threads)
        {
            t.join(30_000);
        }
    }

    /** A consistent total: every page taken SHARED, in page order, all at once. */
    long consistentTotal(final int node) throws Exception
    {
        final CacheFusion f = c.fusion(node);
        final int pages = c.disk.pages();
        long total = 0;
        int held = 0;
        try
        {
            for (int page = 0; page < pages; page++)
            {
                f.acquire(ReferenceEngine.block(page), LockMode.SHARED).get(30, TimeUnit.SECONDS);
                held++;
                total += AccountPage.total(c.engine(node).current(ReferenceEngine.block(page)).bytes());
            }
        }
        finally
        {
            for (int page = 0; page < held; page++)
            {
                f.release(ReferenceEngine.block(page));
            }
        }
        return total;
    }

    /** Every balance, read SHARED from one node. */
    long[] balances(final int node) throws Exception
    {
        final long[] balances = new long[accounts];
        for (int page = 0; page < c.disk.pages(); page++)
        {
            final long block = ReferenceEngine.block(page);
            c.fusion(node).acquire(block, LockMode.SHARED).get(30, TimeUnit.SECONDS);
            try
            {
                final byte[] bytes = c.engine(node).current(block).bytes();
                for (int row = 0; row < AccountPage.ROWS; row++)
                {
                    balances[page * AccountPage.ROWS + row] = AccountPage.balance(bytes, row);
                }
            }
            finally
            {
                c.fusion(node).release(block);
            }
        }
        return balances;
    }

    /**
     * @param actual balances read at the end.
     * @return the accounts whose balance differs from what the acknowledged transfers produce (at most 10).
     */
    List<String> differences(final long[] actual)
    {
        final long[] expected = expected();
        final List<String> out = new ArrayList<>();
        for (int a = 0; a < actual.length && out.size() < 10; a++)
        {
            if (actual[a] != expected[a])
            {
                out.add("account " + a + " (page " + a / AccountPage.ROWS + "): expected " + expected[a] + ", was " +
                    actual[a]);
            }
        }
        return out;
    }

    /** @return balances the acknowledged transfers alone produce. */
    long[] expected()
    {
        final long[] balances = new long[accounts];
        java.util.Arrays.fill(balances, FusionCluster.OPENING_BALANCE);
        for (final Transfer t : acknowledged)
        {
            balances[(int)t.from()] -= t.amount();
            balances[(int)t.to()] += t.amount();
        }
        return balances;
    }

    /**
     * @param actual   the balances read at the end.
     * @param uncertain transfers a killed node had started but not acknowledged (each may or may not have
     *                  committed).
     * @return true when the actual balances are the acknowledged transfers plus some subset of the uncertain.
     */
    boolean explains(final long[] actual, final List<Transfer> uncertain)
    {
        final long[] expected = expected();
        for (int mask = 0; mask < 1 << uncertain.size(); mask++)
        {
            final Map<Integer, Long> delta = new HashMap<>();
            for (int i = 0; i < uncertain.size(); i++)
            {
                if ((mask & 1 << i) != 0)
                {
                    final Transfer t = uncertain.get(i);
                    delta.merge((int)t.from(), -t.amount(), Long::sum);
                    delta.merge((int)t.to(), t.amount(), Long::sum);
                }
            }
            boolean all = true;
            for (int a = 0; a < actual.length && all; a++)
            {
                all = actual[a] == expected[a] + delta.getOrDefault(a, 0L);
            }
            if (all)
            {
                return true;
            }
        }
        return false;
    }
}
