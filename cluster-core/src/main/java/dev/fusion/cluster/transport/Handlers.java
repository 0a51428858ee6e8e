package dev.fusion.cluster.transport;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.MessageHandler;
import dev.fusion.cluster.ReceiveFilter;

/**
 * Message handlers by type. Registration copies the table (rare, off the hot path); the transport agent reads
 * it through a volatile reference without locking.
 */
public final class Handlers
{
    private volatile MessageHandler[] table = new MessageHandler[ClusterConfig.MAX_MESSAGE_TYPE + 1];
    private volatile ReceiveFilter filter;

    /**
     * @param filter consulted before each dispatch; null for none.
     */
    public void filter(final ReceiveFilter filter)
    {
        this.filter = filter;
    }

    ReceiveFilter filter()
    {
        return filter;
    }

    /**
     * @param type    a user message type, {@link ClusterConfig#FIRST_USER_MESSAGE_TYPE}..
     *                {@link ClusterConfig#MAX_MESSAGE_TYPE}.
     * @param handler receives messages of that type.
     * @throws IllegalArgumentException when the type is out of range.
     * @throws IllegalStateException    when the type already has a handler.
     */
    public synchronized void register(final int type, final MessageHandler handler)
    {
        if (type < ClusterConfig.FIRST_USER_MESSAGE_TYPE || type > ClusterConfig.MAX_MESSAGE_TYPE)
        {
            throw new IllegalArgumentException("message type " + type + " out of range " +
                ClusterConfig.FIRST_USER_MESSAGE_TYPE + ".." + ClusterConfig.MAX_MESSAGE_TYPE);
        }
        if (null == handler)
        {
            throw new NullPointerException("handler");
        }
        if (null != table[type])
        {
            throw new IllegalStateException("message type " + type + " already has a handler");
        }
        final MessageHandler[] copy = table.clone();
        copy[type] = handler;
        table = copy;
    }

    /**
     * Removes a handler, so a component can stop and start again on a running node; messages of the type are then
     * dropped as {@link dev.fusion.cluster.DropCause#UNKNOWN_TYPE} until a handler is registered.
     *
     * @param type    a message type.
     * @param handler the handler registered for it; another one is left in place.
     * @return whether it was removed.
     */
    public synchronized boolean unregister(final int type, final MessageHandler handler)
    {
        if (type < 0 || type >= table.length || table[type] != handler || null == handler)
        {
            return false;
        }
        final MessageHandler[] copy = table.clone();
        copy[type] = null;
        table = copy;
        return true;
    }

    /**
     * @param type a message type.
     * @return its handler, or null.
     */
    MessageHandler get(final int type)
    {
        final MessageHandler[] t = table;
        return type >= 0 && type < t.length ? t[type] : null;
    }
}
