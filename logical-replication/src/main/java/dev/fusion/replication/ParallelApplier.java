package dev.fusion.replication;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Applies a stream of committed transactions on N workers without changing the result: a coordinator thread
 * owns the {@link DependencyTracker} and the {@link DependencyGraph} window, hands ready transactions to the
 * workers, and releases their successors as they complete. With {@code preserveCommitOrder} (the default) the
 * coordinator commits in source order, so an observer never sees a later transaction without every earlier
 * one; the graph then releases a transaction's successors only when it is committed.
 * <p>
 * {@link #submit} is called by one receiving thread in commit order; it blocks while the window is full (back
 * pressure, bounded memory). Positions at or below the last submitted one are duplicates: skipped and counted.
 * A handler failure stops the applier: nothing after it is applied, and {@link #failure()} says why.
 */
public final class ParallelApplier implements AutoCloseable
{
    private static final Transaction STOP = new Transaction(0, Long.MAX_VALUE, 0, List.of());
    /** The default largest commit group (see {@link ApplyHandler#commitBatch}). */
    public static final int DEFAULT_MAX_COMMIT_BATCH = 64;
    private final int maxCommitBatch;
    /** The current commit group limit (coordinator-owned; read by stats). */
    private volatile int commitBatchLimit = 1;
    private final AtomicLong commitGroups = new AtomicLong();
    private final ArrayList<Transaction> group = new ArrayList<>();

    private final ApplyHandler handler;
    private final boolean preserveCommitOrder;
    private final BlockingQueue<Transaction> inbound;
    private final BlockingQueue<Transaction> ready = new LinkedBlockingQueue<>();
    private final BlockingQueue<Transaction> completed = new LinkedBlockingQueue<>();
    private final DependencyTracker tracker;
    private final DependencyGraph graph;
    private final Thread coordinator;
    private final List<Thread> workers = new ArrayList<>();
    private final AtomicLong watermark = new AtomicLong();
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Object progress = new Object();
    private volatile boolean running = true;
    private long lastSubmitted;
    private final int minWorkers;
    private final int maxWorkers;
    private volatile int activeWorkers;
    private long nextAdaptNs;
    private int idleChecks;
    /** Per worker: transactions applied and nanoseconds spent applying them (written by that worker only). */
    private final java.util.concurrent.atomic.AtomicLongArray workerApplied;
    private final java.util.concurrent.atomic.AtomicLongArray workerBusyNs;
    /** Source commit to applied (committed here), microseconds; recorded by the coordinator. */
    /** Commit-to-apply in microseconds, sized up front for a day (a larger lag is recorded as a day). */
    private static final long MAX_COMMIT_TO_APPLY_US = java.util.concurrent.TimeUnit.DAYS.toMicros(1);
    private final org.HdrHistogram.Recorder commitToApply =
        new org.HdrHistogram.Recorder(1, MAX_COMMIT_TO_APPLY_US, 3);
    private volatile int inFlightCount;
    private volatile long lastAppliedCommitMs;
    private volatile long lastAppliedAtMs;

    /**
     * @param handler    the engine's apply SPI.
     * @param config     workers, ordering, window and key history.
     * @param startAfter the engine's persisted applied watermark: positions up to it are skipped.
     */
    public ParallelApplier(final ApplyHandler handler, final ApplierConfig config, final long startAfter)
    {
        this(handler, config.minWorkers(), config.workers(), config.preserveCommitOrder(), config.window(),
            config.maxKeyHistory(), config.maxCommitBatch(), startAfter);
    }

    /**
     * @param handler             the engine's apply SPI.
     * @param workers             worker threads, 1..64.
     * @param preserveCommitOrder commit in source order (recommended).
     * @param window              the most transactions in flight, >= 1.
     * @param maxKeyHistory       the most key hashes the tracker remembers.
     * @param startAfter          the engine's persisted applied watermark: positions up to it are skipped.
     */
    public ParallelApplier(
        final ApplyHandler handler,
        final int workers,
        final boolean preserveCommitOrder,
        final int window,
        final int maxKeyHistory,
        final long startAfter)
    {
        this(handler, workers, workers, preserveCommitOrder, window, maxKeyHistory, DEFAULT_MAX_COMMIT_BATCH,
            startAfter);
    }

    private ParallelApplier(
        final ApplyHandler handler,
        final int minWorkers,
        final int workers,
        final boolean preserveCommitOrder,
        final int window,
        final int maxKeyHistory,
        final int maxCommitBatch,
        final long startAfter)
    {
        if (workers < 1 || workers > 64)
        {
            throw new IllegalArgumentException("workers must be 1..64, got " + workers);
        }
        if (window < 1)
        {
            throw new IllegalArgumentException("window must be positive, got " + window);
        }
        if (maxCommitBatch < 1)
        {
            throw new IllegalArgumentException("maxCommitBatch must be positive, got " + maxCommitBatch);
        }
        this.handler = handler;
        this.maxCommitBatch = maxCommitBatch;
        this.preserveCommitOrder = preserveCommitOrder;
        this.inbound = new ArrayBlockingQueue<>(window);
        this.tracker = new DependencyTracker(maxKeyHistory);
        this.graph = new DependencyGraph(window);
        this.lastSubmitted = startAfter;
        this.watermark.set(startAfter);
        this.minWorkers = Math.max(1, Math.min(minWorkers, workers));
        this.maxWorkers = workers;
        this.activeWorkers = this.minWorkers;
        this.workerApplied = new java.util.concurrent.atomic.AtomicLongArray(workers);
        this.workerBusyNs = new java.util.concurrent.atomic.AtomicLongArray(workers);
        for (int i = 0; i < workers; i++)
        {
            final int index = i;
            final Thread worker = new Thread(() -> work(index), "fusion-apply-worker-" + i);
            worker.setDaemon(true);
            this.workers.add(worker);
        }
        coordinator = new Thread(this::coordinate, "fusion-apply-coordinator");
        coordinator.setDaemon(true);
        coordinator.start();
        this.workers.forEach(Thread::start);
    }

    /**
     * @param txn the next committed transaction, in commit order.
     * @return false when it was a duplicate (position not above the last one) and was skipped.
     * @throws InterruptedException  when interrupted while the window is full.
     * @throws IllegalStateException when the applier failed or is closed.
     */
    public boolean submit(final Transaction txn) throws InterruptedException
    {
        checkRunning();
        if (txn.position() <= lastSubmitted)
        {
            duplicates.incrementAndGet();
            return false;
        }
        lastSubmitted = txn.position();
        while (!inbound.offer(txn, 10, TimeUnit.MILLISECONDS))
        {
            checkRunning();
        }
        LockSupport.unpark(coordinator);
        return true;
    }

    private void checkRunning()
    {
        final Throwable cause = failure.get();
        if (null != cause)
        {
            throw new IllegalStateException("apply failed: " + cause, cause);
        }
        if (!running)
        {
            throw new IllegalStateException("applier is closed");
        }
    }

    /**
     * Waits until every transaction up to {@code position} is applied (and committed).
     *
     * @param position  a submitted position.
     * @param timeoutMs how long at most.
     * @return true when reached.
     * @throws InterruptedException when interrupted.
     */
    public boolean awaitWatermark(final long position, final long timeoutMs) throws InterruptedException
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        synchronized (progress)
        {
            while (watermark.get() < position && null == failure.get())
            {
                final long left = deadline - System.currentTimeMillis();
                if (left <= 0)
                {
                    return false;
                }
                progress.wait(left);
            }
        }
        return watermark.get() >= position;
    }

    /**
     * Moves the applier past a full sync: everything up to {@code position} is now in the engine.
     *
     * @param position the snapshot's position.
     * @throws IllegalStateException when transactions are still in flight.
     */
    public void resetTo(final long position)
    {
        if (watermark.get() != lastSubmitted)
        {
            throw new IllegalStateException("cannot reset while transactions are in flight (watermark " +
                watermark.get() + ", submitted " + lastSubmitted + ")");
        }
        if (position > lastSubmitted)
        {
            lastSubmitted = position;
            watermark.set(position);
            synchronized (progress)
            {
                progress.notifyAll();
            }
        }
    }

    /** @return the highest position P such that every submitted transaction up to P is applied. */
    public long watermark()
    {
        return watermark.get();
    }

    /** @return transactions applied. */
    public long applied()
    {
        return applied.get();
    }

    /** @return duplicate (or out-of-order) transactions skipped. */
    public long duplicates()
    {
        return duplicates.get();
    }

    /** @return the barriers met so far, by cause (read after {@link #awaitWatermark} for a stable figure). */
    public Map<BarrierCause, Long> barriers()
    {
        final Map<BarrierCause, Long> counts = new EnumMap<>(BarrierCause.class);
        for (final BarrierCause cause : BarrierCause.values())
        {
            counts.put(cause, tracker.barriers(cause));
        }
        return counts;
    }

    /** @return the failure that stopped the applier, or null. */
    public Throwable failure()
    {
        return failure.get();
    }

    /** @return groups committed (see {@link ApplyHandler#commitBatch}); applied / groups is the mean group size. */
    public long commitGroups()
    {
        return commitGroups.get();
    }

    /** @return the current commit group limit (1 .. the configured maximum). */
    public int commitBatchLimit()
    {
        return commitBatchLimit;
    }

    /** @return workers taking work now (between the configured bounds). */
    public int activeWorkers()
    {
        return activeWorkers;
    }

    /**
     * Every 50 ms: one more worker while transactions wait ready for one, one fewer after half a second with
     * nothing waiting. Ready transactions are independent, so their count is the parallelism on offer.
     */
    private void adapt(final long now)
    {
        if (now - nextAdaptNs < 0 || minWorkers == maxWorkers)
        {
            return;
        }
        nextAdaptNs = now + TimeUnit.MILLISECONDS.toNanos(50);
        final int waiting = ready.size();
        if (waiting > 0 && activeWorkers < maxWorkers)
        {
            activeWorkers++;
            idleChecks = 0;
        }
        else if (waiting == 0 && ++idleChecks >= 10 && activeWorkers > minWorkers)
        {
            activeWorkers--;
            idleChecks = 0;
        }
    }

    private void work(final int index)
    {
        try
        {
            while (running)
            {
                if (index >= activeWorkers)
                {
                    LockSupport.parkNanos(1_000_000);
                    continue;
                }
                final Transaction txn = ready.poll(10, TimeUnit.MILLISECONDS);
                if (null == txn)
                {
                    continue;
                }
                if (txn == STOP)
                {
                    return;
                }
                final long startNs = System.nanoTime();
                handler.apply(txn);
                if (!preserveCommitOrder)
                {
                    handler.commit(txn);
                }
                workerBusyNs.lazySet(index, workerBusyNs.get(index) + System.nanoTime() - startNs);
                workerApplied.lazySet(index, workerApplied.get(index) + 1);
                completed.add(txn);
                LockSupport.unpark(coordinator);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        catch (final Throwable ex)
        {
            fail(ex);
        }
    }

    // coordinator-owned state
    private final LongArrayList dependencies = new LongArrayList();
    private final LongArrayList released = new LongArrayList();
    private final Long2ObjectHashMap<Transaction> inFlight = new Long2ObjectHashMap<>();
    private final ArrayDeque<Transaction> order = new ArrayDeque<>();
    private final java.util.HashSet<Long> done = new java.util.HashSet<>();

    private void admit(final Transaction txn)
    {
        final BarrierCause barrier = tracker.track(txn, dependencies);
        inFlight.put(txn.position(), txn);
        order.add(txn);
        if (graph.add(txn.position(), dependencies, null != barrier))
        {
            ready.add(txn);
        }
    }

    private void coordinate()
    {
        try
        {
            while (running)
            {
                boolean idle = true;
                adapt(System.nanoTime());
                Transaction txn;
                while (!graph.isFull() && null != (txn = inbound.poll()))
                {
                    idle = false;
                    admit(txn);
                    inFlightCount = order.size();
                }
                while (null != (txn = completed.poll()))
                {
                    idle = false;
                    done.add(txn.position());
                    if (!preserveCommitOrder)
                    {
                        release(txn.position());
                    }
                }
                // commit (or, without order preservation, just advance the watermark) in source order, in groups
                while (!order.isEmpty() && done.contains(order.peek().position()))
                {
                    group.clear();
                    while (group.size() < commitBatchLimit && !order.isEmpty() &&
                        done.contains(order.peek().position()))
                    {
                        final Transaction head = order.poll();
                        done.remove(head.position());
                        group.add(head);
                    }
                    final boolean more = !order.isEmpty() && done.contains(order.peek().position());
                    if (preserveCommitOrder)
                    {
                        if (group.size() == 1)
                        {
                            handler.commit(group.get(0));
                        }
                        else
                        {
                            handler.commitBatch(group);
                        }
                        for (int i = 0; i < group.size(); i++)
                        {
                            release(group.get(i).position());
                        }
                    }
                    commitGroups.incrementAndGet();
                    // group commit: the limit doubles while committed groups are full and more wait, and halves
                    // when groups stay small, so a light load commits one by one (latency) and a backlog in groups
                    if (group.size() == commitBatchLimit && more)
                    {
                        commitBatchLimit = Math.min(maxCommitBatch, commitBatchLimit * 2);
                    }
                    else if (group.size() <= commitBatchLimit / 4)
                    {
                        commitBatchLimit = Math.max(1, commitBatchLimit / 2);
                    }
                    final long nowMs = System.currentTimeMillis();
                    for (int i = 0; i < group.size(); i++)
                    {
                        final Transaction t = group.get(i);
                        inFlight.remove(t.position());
                        applied.incrementAndGet();
                        commitToApply.recordValue(
                            Math.min(MAX_COMMIT_TO_APPLY_US, Math.max(0, nowMs - t.commitTimeMs()) * 1000));
                    }
                    final Transaction last = group.get(group.size() - 1);
                    lastAppliedCommitMs = last.commitTimeMs();
                    lastAppliedAtMs = nowMs;
                    inFlightCount = order.size();
                    watermark.set(last.position());
                    synchronized (progress)
                    {
                        progress.notifyAll();
                    }
                }
                if (idle)
                {
                    // submit() and the workers unpark the coordinator; the timeout only bounds a lost wake-up
                    LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
                }
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        catch (final Throwable ex)
        {
            fail(ex);
        }
    }

    private void release(final long position)
    {
        graph.complete(position, released);
        for (int i = 0; i < released.size(); i++)
        {
            ready.add(inFlight.get(released.getLong(i)));
        }
    }

    private void fail(final Throwable cause)
    {
        if (failure.compareAndSet(null, cause))
        {
            System.getLogger(ParallelApplier.class.getName()).log(System.Logger.Level.ERROR,
                "parallel apply stopped: nothing after the failed transaction is applied", cause);
        }
        running = false;
        synchronized (progress)
        {
            progress.notifyAll();
        }
    }

    /** @return transactions admitted to the dependency window and not yet committed. */
    public int inFlight()
    {
        return inFlightCount;
    }

    /** @return transactions each worker applied so far. */
    public long[] workerApplied()
    {
        final long[] counts = new long[workerApplied.length()];
        for (int i = 0; i < counts.length; i++)
        {
            counts[i] = workerApplied.get(i);
        }
        return counts;
    }

    /** @return nanoseconds each worker spent in the apply handler so far. */
    public long[] workerBusyNs()
    {
        final long[] busy = new long[workerBusyNs.length()];
        for (int i = 0; i < busy.length; i++)
        {
            busy[i] = workerBusyNs.get(i);
        }
        return busy;
    }

    /**
     * Source commit to local commit, in microseconds, since the last call (the recorder's interval).
     *
     * @param recycle a histogram to reuse, or null.
     * @return the interval histogram.
     */
    public org.HdrHistogram.Histogram commitToApplyInterval(final org.HdrHistogram.Histogram recycle)
    {
        return commitToApply.getIntervalHistogram(recycle);
    }

    /** @return the source commit time of the last transaction applied, epoch ms (0 before any). */
    public long lastAppliedCommitMs()
    {
        return lastAppliedCommitMs;
    }

    /** @return when the last transaction was applied here, epoch ms (0 before any). */
    public long lastAppliedAtMs()
    {
        return lastAppliedAtMs;
    }

    /** @return the worker threads configured (the most that may run). */
    public int workers()
    {
        return workerApplied.length();
    }

    /** Stops the coordinator and workers; what was not applied stays unapplied (the watermark says where). */
    @Override
    public void close() throws InterruptedException
    {
        running = false;
        coordinator.join(5000);
        for (final Thread worker : workers)
        {
            worker.join(5000);
        }
    }
}
