package dev.fusion.cluster;

import dev.fusion.cluster.transport.TransportAgent;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.DynamicCompositeAgent;

/**
 * A node's duty cycle on its one thread: the transport receives (and, when the media driver runs on this
 * thread, drives it), the attached agents (directory, cache fusion, ...) handle what arrived, then the transport
 * sends what they queued. A request received in a cycle is answered on the wire in the same cycle, where running
 * the transport as a whole before the attached agents would hold every reply for one or two more cycles.
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
        final int received = transport.receive();
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
        return received + handled + transport.send();
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
