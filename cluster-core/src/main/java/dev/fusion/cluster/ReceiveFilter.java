package dev.fusion.cluster;

import org.agrona.DirectBuffer;

/**
 * Decides, before dispatch, whether a received message reaches its handler: the hook for fault-injection tests
 * and drills (drop a share of one module's messages, or stall the receiver to delay them). A rejected message is
 * counted as {@link DropCause#INJECTED}. Called on the transport agent thread.
 */
@FunctionalInterface
public interface ReceiveFilter
{
    /**
     * @param sourceNode the sender.
     * @param type       the message type.
     * @param buffer     holding the payload.
     * @param offset     of the payload.
     * @param length     of the payload.
     * @return true to dispatch it, false to drop it.
     */
    boolean accept(int sourceNode, int type, DirectBuffer buffer, int offset, int length);
}
