package dev.fusion.cluster.quorum;

import dev.fusion.cluster.Primary;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a node's {@link LeaseClient} on a thread of its own, which mostly sleeps: the Aeron Cluster client may
 * block its caller while it follows a new leader, and the node's own thread must never wait on that.
 */
public final class LeaseAgent implements Agent
{
    private final LeaseClient client;
    private final NanoClock clock;
    private final String roleName;
    private volatile boolean leaveRequested;
    private volatile boolean left;
    private volatile int rejoinAs;
    private final AtomicReference<CompletableFuture<Long>> primaryRequest = new AtomicReference<>();

    /**
     * @param client   the session, owned by this agent from now on.
     * @param clock    the node's monotonic clock.
     * @param roleName the thread's name.
     */
    public LeaseAgent(final LeaseClient client, final NanoClock clock, final String roleName)
    {
        this.client = client;
        this.clock = clock;
        this.roleName = roleName;
    }

    @Override
    public int doWork()
    {
        final long nowNs = clock.nanoTime();
        final int newIncarnation = rejoinAs;
        if (0 != newIncarnation)
        {
            rejoinAs = 0;
            client.rejoin(newIncarnation);
        }
        final CompletableFuture<Long> claim = primaryRequest.getAndSet(null);
        if (null != claim)
        {
            client.claimPrimary(claim);
        }
        if (leaveRequested && !left)
        {
            client.leave(nowNs);
            left = true;
            return 1;
        }
        return left ? 0 : client.doWork(nowNs);
    }

    /**
     * Any thread: the node starts over as a new incarnation (see {@link LeaseClient#rejoin}).
     *
     * @param newIncarnation the new incarnation.
     */
    public void requestRejoin(final int newIncarnation)
    {
        rejoinAs = newIncarnation;
    }

    /**
     * Any thread: asks that this node become the replication primary (see {@link LeaseClient#claimPrimary}).
     *
     * @param result completed on the agent's thread with the committed primary epoch, or failed.
     */
    public void requestPrimary(final CompletableFuture<Long> result)
    {
        final CompletableFuture<Long> older = primaryRequest.getAndSet(result);
        if (null != older)
        {
            older.completeExceptionally(new IllegalStateException("superseded by a newer request"));
        }
    }

    /** @return the replication primary named in the newest committed view. */
    public Primary primary()
    {
        return client.primary();
    }

    /** Any thread: asks the agent to tell the quorum this incarnation leaves; see {@link #hasLeft()}. */
    public void requestLeave()
    {
        leaveRequested = true;
    }

    /** @return whether the leave was sent (or the agent has stopped renewing). */
    public boolean hasLeft()
    {
        return left;
    }

    /** @return until when this node holds its lease (monotonic ns); 0 when it holds none. */
    public long leaseExpiryNs()
    {
        return client.leaseExpiryNs();
    }

    @Override
    public void onClose()
    {
        client.close();
    }

    @Override
    public String roleName()
    {
        return roleName;
    }
}
