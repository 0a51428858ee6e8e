package dev.fusion.cluster;

import dev.fusion.cluster.transport.TransportAgent;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.DynamicCompositeAgent;

/**
 * A node's duty cycle on its one thread: the attached agents (directory, cache fusion, ...) handle what application
 * threads queued and the transport sends it, before the transport polls the sockets (and, when the media driver
 * runs on this thread, drives it); then the attached agents handle what arrived and the transport sends their
 * replies. A request is on the wire without waiting for the sockets to be polled, and a message received in a cycle
 * is answered in the same cycle, where running the transport as a whole before the attached agents held every
 * reply for one or two more cycles.
 */
final class NodeAgent implements Agent
{
    private final TransportAgent transport;
    private final DynamicCompositeAgent attached;
    private final String roleName;

    NodeAgent(final String roleName, final TransportAgent transport)
    {
        this.roleName = roleName;
        this.transport = transport;
        this.attached = new DynamicCompositeAgent(roleName + "-attached");
    }

    DynamicCompositeAgent attached()
    {
        return attached;
    }

    @Override
    public void onStart()
    {
        transport.onStart();
        attached.onStart();
    }

    @Override
    public int doWork() throws Exception
    {
        // what application threads queued since the last cycle leaves before this cycle polls the sockets,
        // then what arrives is handled and answered; the sockets, heartbeats and failure detector are served even
        // in a cycle whose attached agent threw
        int work = 0;
        try
        {
            work += handleAndSend();
        }
        finally
        {
            work += transport.receive();
        }
        return work + handleAndSend();
    }

    private int handleAndSend() throws Exception
    {
        final int handled;
        try
        {
            handled = attached.doWork();
        }
        catch (final Exception | Error ex)
        {
            transport.send(); // an attached agent that keeps throwing must not stop the node's sending
            throw ex;
        }
        return handled + transport.send();
    }

    @Override
    public void onClose()
    {
        try
        {
            attached.onClose();
        }
        finally
        {
            transport.onClose();
        }
    }

    @Override
    public String roleName()
    {
        return roleName;
    }
}
