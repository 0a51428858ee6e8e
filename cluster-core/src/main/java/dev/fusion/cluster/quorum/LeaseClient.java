package dev.fusion.cluster.quorum;

import dev.fusion.cluster.Primary;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.logbuffer.Header;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.CompletableFuture;

/**
 * Owned by the node's agent thread: this node's session with the membership quorum. It joins with the node's
 * incarnation, renews the lease every renew interval, and installs the committed views in epoch order.
 * <p>
 * The lease: a reply to a renewal (or join) sent at {@code t} on this node's monotonic clock keeps the lease until
 * {@code t + lease}. The quorum counts from when it committed the renewal, which is later, and waits a margin more
 * before it declares this node dead, so this node's lease ends first. {@link #leaseExpiryNs} is read lock-free
 * by any thread.
 * <p>
 * With each renewal it reports the live peers the node has not heard for the suspect timeout (the quorum decides
 * what a lasting silence means), and it asks, when told to, that this node become the replication primary.
 */
public final class LeaseClient implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(LeaseClient.class.getName());
    private static final int SENT_WINDOW = 64;
    private static final long RECONNECT_BACKOFF_NS = 200_000_000L;

    /** What the node is told, on its agent thread. */
    public interface Listener
    {
        /**
         * A committed view, in epoch order.
         *
         * @param view the view.
         */
        void onView(CommittedView view);

        /**
         * The quorum declared this incarnation dead: it holds no lease again and must rejoin as a new one.
         *
         * @param incarnation the incarnation declared dead (the node may have rejoined as another since).
         */
        void onEvicted(int incarnation);
    }

    private final Settings settings;
    private final Listener listener;
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[QuorumMessages.REQUEST_LENGTH]);
    private final int[] silentIds = new int[QuorumMessages.MAX_NODES];
    private final int[] silentIncarnations = new int[QuorumMessages.MAX_NODES];
    private final long[] sentIds = new long[SENT_WINDOW];
    private final long[] sentNs = new long[SENT_WINDOW];
    private final EgressListener egress = new EgressListener()
    {
        @Override
        public void onMessage(
            final long clusterSessionId,
            final long timestamp,
            final DirectBuffer buffer,
            final int offset,
            final int length,
            final Header header)
        {
            onEgress(buffer, offset, length);
        }
    };
    private AeronCluster.AsyncConnect connecting;
    private AeronCluster cluster;
    private long nextConnectNs;
    private long nextRenewNs;
    private long nextRequestId = 1;
    private long epoch = -1;
    private boolean joined;
    private boolean evicted;
    private long malformed;
    private CompletableFuture<Long> promotion;
    private long promotionId;
    private long nextPromoteNs;
    private volatile long leaseExpiryNs;
    private volatile Primary primary = Primary.NONE;

    /**
     * The session's settings.
     *
     * @param nodeId           this node.
     * @param incarnation      this process's incarnation.
     * @param context          the Aeron Cluster client context (ingress endpoints, egress channel, Aeron client);
     *                         the egress listener is set here.
     * @param leaseNs          how long a renewal keeps the lease.
     * @param renewIntervalNs  how often to renew.
     * @param silence          which live peers this node has not heard; null reports none.
     * @param suspectTimeoutNs the silence reported as a suspicion.
     */
    public record Settings(
        int nodeId,
        int incarnation,
        AeronCluster.Context context,
        long leaseNs,
        long renewIntervalNs,
        PeerSilence silence,
        long suspectTimeoutNs)
    {
    }

    private int incarnation;

    /**
     * @param settings the session's settings.
     * @param listener told of views and eviction on the agent thread.
     */
    public LeaseClient(final Settings settings, final Listener listener)
    {
        this.settings = settings;
        this.listener = listener;
        this.incarnation = settings.incarnation;
        java.util.Arrays.fill(sentIds, -1);
    }

    /** @return until when (monotonic ns) this node holds its lease; 0 before the first renewal. */
    public long leaseExpiryNs()
    {
        return leaseExpiryNs;
    }

    /** @return whether the quorum declared this incarnation dead. */
    public boolean evicted()
    {
        return evicted;
    }

    /** @return the replication primary named in the newest committed view this node holds. */
    public Primary primary()
    {
        return primary;
    }

    /**
     * Asks the quorum that this node become the replication primary; asked again every renew interval until
     * answered. The future completes with the primary epoch the quorum committed for it, or fails with an
     * {@link IllegalStateException} when another primary is alive or this node is fenced.
     *
     * @param result completed on this client's thread.
     */
    public void claimPrimary(final CompletableFuture<Long> result)
    {
        if (null != promotion)
        {
            promotion.completeExceptionally(new IllegalStateException("superseded by a newer request"));
        }
        promotion = result;
        promotionId = 0;
        nextPromoteNs = 0;
    }

    /** @return the epoch of the last view installed, -1 before the first. */
    public long epoch()
    {
        return epoch;
    }

    /**
     * Starts over as a new incarnation of the node, after the quorum declared the old one dead: it joins again
     * with the next renewal.
     *
     * @param newIncarnation the new incarnation (never 0, never the old one).
     */
    public void rejoin(final int newIncarnation)
    {
        incarnation = newIncarnation;
        failPromotion("node " + settings.nodeId + " rejoined as a new incarnation");
        joined = false;
        evicted = false;
        leaseExpiryNs = 0;
        java.util.Arrays.fill(sentIds, -1);
        nextRenewNs = 0;
    }

    /**
     * One duty cycle: connects, reads what the quorum sent, renews when due.
     *
     * @param nowNs the node's monotonic time.
     * @return work done.
     */
    public int doWork(final long nowNs)
    {
        if (evicted)
        {
            return 0;
        }
        if (null == cluster)
        {
            return connect(nowNs);
        }
        int work = 0;
        try
        {
            work += cluster.pollEgress();
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + settings.nodeId + ": quorum session failed, reconnecting", ex);
            disconnect(nowNs);
            return 1;
        }
        if (cluster.isClosed())
        {
            LOG.log(System.Logger.Level.WARNING, "node " + settings.nodeId + ": quorum session closed, reconnecting");
            disconnect(nowNs);
            return 1;
        }
        if (nowNs - nextRenewNs >= 0 && !evicted)
        {
            nextRenewNs = nowNs + settings.renewIntervalNs;
            request(joined ? QuorumMessages.RENEW : QuorumMessages.JOIN, nowNs);
            if (joined && null != settings.silence)
            {
                reportSilence(nowNs);
            }
            work++;
        }
        if (null != promotion && joined && nowNs - nextPromoteNs >= 0)
        {
            nextPromoteNs = nowNs + settings.renewIntervalNs;
            promotionId = request(QuorumMessages.PROMOTE, nowNs);
            work++;
        }
        return work;
    }

    /**
     * Tells the quorum this incarnation leaves (the node is closing), so it is declared dead without waiting for
     * its lease. Best effort.
     */
    public void leave(final long nowNs)
    {
        if (null != cluster && joined && !evicted)
        {
            request(QuorumMessages.LEAVE, nowNs);
        }
        leaseExpiryNs = 0;
    }

    private int connect(final long nowNs)
    {
        if (null == connecting)
        {
            if (nowNs - nextConnectNs < 0)
            {
                return 0;
            }
            try
            {
                connecting = AeronCluster.asyncConnect(settings.context.clone().egressListener(egress));
            }
            catch (final RuntimeException ex)
            {
                nextConnectNs = nowNs + RECONNECT_BACKOFF_NS;
                LOG.log(System.Logger.Level.WARNING, "node " + settings.nodeId + ": cannot reach the quorum: " + ex);
                return 1;
            }
        }
        try
        {
            final AeronCluster connected = connecting.poll();
            if (null != connected)
            {
                connecting = null;
                cluster = connected;
                nextRenewNs = nowNs;
                LOG.log(System.Logger.Level.INFO, () -> "node " + settings.nodeId + ": connected to the quorum (leader " +
                    connected.leaderMemberId() + ")");
            }
            return 1;
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(connecting);
            connecting = null;
            nextConnectNs = nowNs + RECONNECT_BACKOFF_NS;
            LOG.log(System.Logger.Level.DEBUG, () -> "node " + settings.nodeId + ": quorum connect failed: " + ex);
            return 1;
        }
    }

    private void disconnect(final long nowNs)
    {
        CloseHelper.quietClose(cluster);
        cluster = null;
        nextConnectNs = nowNs + RECONNECT_BACKOFF_NS;
    }

    private long request(final int type, final long nowNs)
    {
        final long id = nextRequestId++;
        final int length = QuorumMessages.putRequest(message, type, settings.nodeId, incarnation, id, epoch);
        final int slot = (int)(id & (SENT_WINDOW - 1));
        sentIds[slot] = id;
        sentNs[slot] = nowNs; // before the offer: the lease counts from no later than the quorum's receipt
        cluster.offer(message, 0, length); // a renewal lost to back pressure or an election is followed by the next
        return id;
    }

    private void reportSilence(final long nowNs)
    {
        final int count = settings.silence.silentPeers(nowNs, settings.suspectTimeoutNs, silentIds, silentIncarnations);
        for (int i = 0; i < count; i++)
        {
            final int length = QuorumMessages.putSuspect(message, QuorumMessages.SUSPECT, settings.nodeId, incarnation,
                nextRequestId++, epoch, silentIds[i], silentIncarnations[i]);
            cluster.offer(message, 0, length);
        }
    }

    private void failPromotion(final String reason)
    {
        if (null != promotion)
        {
            promotion.completeExceptionally(new IllegalStateException(reason));
            promotion = null;
        }
    }

    private void onEgress(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < 1)
        {
            onMalformed();
            return;
        }
        final int type = QuorumMessages.type(buffer, offset);
        if (type == QuorumMessages.VIEW)
        {
            final CommittedView view = QuorumMessages.readView(buffer, offset, length);
            if (null == view)
            {
                onMalformed();
            }
            else if (view.epoch() > epoch)
            {
                epoch = view.epoch();
                if (!primary.is(view.primary(), view.primaryEpoch()))
                {
                    primary = new Primary(view.primary(), view.primaryEpoch());
                }
                listener.onView(view);
            }
        }
        else if (type == QuorumMessages.REPLY && length == QuorumMessages.REPLY_LENGTH)
        {
            onReply(buffer, offset);
        }
        else
        {
            onMalformed();
        }
    }

    private void onReply(final DirectBuffer buffer, final int offset)
    {
        if (QuorumMessages.node(buffer, offset) != settings.nodeId ||
            QuorumMessages.incarnation(buffer, offset) != incarnation)
        {
            return;
        }
        final long id = QuorumMessages.requestId(buffer, offset);
        final MembershipStateMachine.Outcome result = QuorumMessages.result(buffer, offset);
        if (null != promotion && id == promotionId)
        {
            onPromotionReply(result);
        }
        if (result == MembershipStateMachine.Outcome.FENCED)
        {
            failPromotion("node " + settings.nodeId + " holds no lease: the quorum declared it dead, or is " +
                "evicting it");
            if (joined && !evicted)
            {
                evicted = true;
                leaseExpiryNs = 0;
                LOG.log(System.Logger.Level.ERROR, "node " + settings.nodeId + " incarnation " +
                    Integer.toHexString(incarnation) + ": the quorum declared it dead, or is evicting it; fenced");
                listener.onEvicted(incarnation);
            }
            return;
        }
        final int slot = (int)(id & (SENT_WINDOW - 1));
        // the lease counts only once this node holds every view up to the one the renewal was answered in
        if ((result == MembershipStateMachine.Outcome.RENEWED || result == MembershipStateMachine.Outcome.JOINED) &&
            sentIds[slot] == id && QuorumMessages.epoch(buffer, offset) <= epoch)
        {
            joined = true;
            final long expiry = sentNs[slot] + settings.leaseNs;
            if (expiry - leaseExpiryNs > 0)
            {
                leaseExpiryNs = expiry;
            }
        }
    }

    private void onPromotionReply(final MembershipStateMachine.Outcome result)
    {
        final Primary named = primary;
        if (result == MembershipStateMachine.Outcome.PROMOTED && named.nodeId() == settings.nodeId)
        {
            promotion.complete(named.epoch());
            promotion = null;
        }
        else if (result == MembershipStateMachine.Outcome.REFUSED)
        {
            failPromotion("node " + named.nodeId() + " is the primary (epoch " + named.epoch() + ") and alive in " +
                "the quorum's view: node " + settings.nodeId + " is not promoted");
        }
    }

    private void onMalformed()
    {
        malformed++;
        if (Long.bitCount(malformed) == 1)
        {
            LOG.log(System.Logger.Level.WARNING, "node " + settings.nodeId + ": dropped a malformed message from the " +
                "quorum (" + malformed + " so far)");
        }
    }

    @Override
    public void close()
    {
        failPromotion("node " + settings.nodeId + " is closing");
        CloseHelper.quietCloseAll(connecting, cluster);
        connecting = null;
        cluster = null;
    }
}
