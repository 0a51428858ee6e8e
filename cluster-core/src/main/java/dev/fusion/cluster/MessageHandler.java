package dev.fusion.cluster;

import org.agrona.DirectBuffer;

/**
 * Receives messages of one type. Called on the node's transport agent thread: it must not block, and it must
 * copy what it keeps, since the buffer is reused as soon as it returns. An exception it throws is counted and
 * logged; the agent keeps running.
 */
@FunctionalInterface
public interface MessageHandler
{
    /**
     * @param sourceNode the id of the node that sent the message.
     * @param type       the message type the handler was registered for.
     * @param buffer     holding the payload.
     * @param offset     of the payload in the buffer.
     * @param length     of the payload.
     */
    void onMessage(int sourceNode, int type, DirectBuffer buffer, int offset, int length);
}
