package dev.fusion.cachefusion;

import dev.fusion.grd.Grant;
import dev.fusion.grd.LockMode;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Work handed to the cache-fusion agent by application threads and by the directory. */
final class Commands
{
    private Commands()
    {
    }

    sealed interface Command permits Acquire, Release, GiveUp, ReadConsistent, GrantDone, Notice, HoldersDone,
        Recover, Checkpoint
    {
    }

    static final class Acquire implements Command
    {
        final long block;
        final LockMode mode;
        final CompletableFuture<BlockGrant> future;
        final long startNs;
        final long deadlineNs;
        LockMode heldBefore = LockMode.NULL;
        boolean reported;
        /** The directory request's id, once sent. */
        long requestId = Long.MIN_VALUE;
        /** Installed from an image that carried the grant; the master's grant itself has not arrived yet. */
        boolean installed;
        /** The directory's count of membership changes when the request was sent. */
        long viewChanges;
        /** Directory requests sent again after the grant an installed image carried failed. */
        int regrants;

        Acquire(final long block, final LockMode mode, final CompletableFuture<BlockGrant> future,
            final long startNs, final long deadlineNs)
        {
            this.block = block;
            this.mode = mode;
            this.future = future;
            this.startNs = startNs;
            this.deadlineNs = deadlineNs;
        }
    }

    record Release(long block) implements Command
    {
    }

    /** Downgrade or evict: give the lock up to {@code keep} once local users are done. */
    record GiveUp(long block, LockMode keep, boolean evict, CompletableFuture<Boolean> future) implements Command
    {
    }

    record ReadConsistent(long block, long scn, CompletableFuture<BlockImage> future, long startNs, long deadlineNs)
        implements Command
    {
    }

    record GrantDone(Acquire acquire, Grant grant, Throwable error) implements Command
    {
    }

    /** A directory notice: another node waits for (or is granted) this block. */
    static final class Notice implements Command
    {
        final long block;
        final int requester;
        final LockMode requested;
        final LockMode keep;
        final boolean ship;
        final long requestId;
        final long holderGrant;
        /** The master grants the request as soon as this node gives way (or did): the image may carry the grant. */
        final boolean granting;
        /** The block's master when the notice arrived (the node that sent it). */
        final int master;
        final long arrivedNs;
        boolean waited;

        Notice(final long block, final int requester, final LockMode requested, final LockMode keep,
            final boolean ship, final long requestId, final long holderGrant, final boolean granting, final int master,
            final long arrivedNs)
        {
            this.granting = granting;
            this.master = master;
            this.holderGrant = holderGrant;
            this.block = block;
            this.requester = requester;
            this.requested = requested;
            this.keep = keep;
            this.ship = ship;
            this.requestId = requestId;
            this.arrivedNs = arrivedNs;
        }
    }

    record HoldersDone(long block, long scn, long crId, int requester, Map<Integer, LockMode> holders,
        Throwable error) implements Command
    {
    }

    record Recover(long block, int deadNode, CompletableFuture<Void> future) implements Command
    {
    }

    record Checkpoint(CompletableFuture<Integer> future) implements Command
    {
    }
}
