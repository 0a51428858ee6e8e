package dev.fusion.cluster;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ext.DebugReceiveChannelEndpoint;
import io.aeron.driver.ext.DebugSendChannelEndpoint;
import io.aeron.driver.ext.LossGenerator;
import org.agrona.concurrent.UnsafeBuffer;

import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Set;

/**
 * For drills and fault tests, like {@link ReceiveFilter}: cuts a node off the network at the media driver, through
 * Aeron's debug channel endpoints. Install it on a node's config ({@link ClusterConfig.Builder#driverCustomizer},
 * so it applies to the node's own driver and to its voter's); while {@link #cut} is on, those drivers drop every
 * datagram they would send or receive, as a partition would. {@link #cutTo} instead drops only what this node's
 * transport sends to given peers' transports, so installed on both ends it cuts the data link between two nodes
 * while both still reach the quorum's voters.
 */
public final class LinkCut implements LossGenerator
{
    private volatile boolean cut;
    private volatile Set<InetSocketAddress> cutTo = Set.of();

    /** @param on true to drop everything from now on, false to heal. */
    public void cut(final boolean on)
    {
        cut = on;
    }

    /** @return whether the link is cut. */
    public boolean isCut()
    {
        return cut;
    }

    /**
     * Drops every datagram sent to the transport endpoints (control and bulk) of the given peers, from now on; an
     * empty list heals. The voters' traffic is left alone.
     *
     * @param peers the peers whose transports this node stops reaching.
     */
    public void cutTo(final Member... peers)
    {
        final Set<InetSocketAddress> addresses = new HashSet<>();
        for (final Member peer : peers)
        {
            addresses.add(new InetSocketAddress(peer.host(), peer.port()));
            addresses.add(new InetSocketAddress(peer.host(), peer.port() + 1));
        }
        cutTo = Set.copyOf(addresses);
    }

    @Override
    public boolean shouldDropFrame(final InetSocketAddress address, final UnsafeBuffer buffer, final int length)
    {
        final Set<InetSocketAddress> peers = cutTo;
        return cut || (!peers.isEmpty() && null != address && peers.contains(address));
    }

    /**
     * @param context a driver context.
     * @return the context, with send and receive endpoints that consult this cut.
     */
    public MediaDriver.Context install(final MediaDriver.Context context)
    {
        return context
            .sendChannelEndpointSupplier((channel, status, ctx) -> new DebugSendChannelEndpoint(channel, status, ctx,
                this, this))
            .receiveChannelEndpointSupplier((channel, dispatcher, status, ctx) ->
                new DebugReceiveChannelEndpoint(channel, dispatcher, status, ctx, this, this));
    }
}
