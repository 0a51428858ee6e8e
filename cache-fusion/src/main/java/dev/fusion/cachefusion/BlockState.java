package dev.fusion.cachefusion;

import dev.fusion.grd.Grant;
import dev.fusion.grd.LockMode;

import java.util.ArrayDeque;

/** What this node's cache-fusion agent knows of one block; touched only by that agent. */
final class BlockState
{
    final long block;
    /** The directory lock this node holds (kept after local users release: it leaves only when asked). */
    LockMode held = LockMode.NULL;
    int sharedPins;
    boolean exclusivePin;
    /** Local requests waiting, in arrival order. */
    final ArrayDeque<Commands.Acquire> waiters = new ArrayDeque<>();
    /** Other nodes' requests this node must give way to (or supply), in arrival order. */
    final ArrayDeque<Commands.Notice> notices = new ArrayDeque<>();
    /** The local request the directory is serving now. */
    Commands.Acquire acquiring;
    /** Its grant, once it arrived, while the supplier's image has not. */
    Grant grant;
    /** An image that arrived before its grant (or after it), keyed by the request id it answers. */
    long stashedRequestId = Long.MIN_VALUE;
    BlockImage stashedImage;
    int stashedFlags;
    long imageDeadlineNs;
    /** The last request this node shipped an image to, so a repeated notice is not answered twice. */
    int shippedTo = -1;
    long shippedRequestId = Long.MIN_VALUE;
    /** Consistent reads served in a row with no local use in between (RAC's fairness rule). */
    int crInARow;

    BlockState(final long block)
    {
        this.block = block;
    }

    boolean pinned()
    {
        return exclusivePin || sharedPins > 0;
    }

    boolean canPin(final LockMode mode)
    {
        return mode == LockMode.EXCLUSIVE ? !pinned() : !exclusivePin;
    }

    void pin(final LockMode mode)
    {
        if (mode == LockMode.EXCLUSIVE)
        {
            exclusivePin = true;
        }
        else
        {
            sharedPins++;
        }
    }

    /** @return false when nothing was pinned. */
    boolean unpin()
    {
        if (exclusivePin)
        {
            exclusivePin = false;
            return true;
        }
        if (sharedPins > 0)
        {
            sharedPins--;
            return true;
        }
        return false;
    }

    boolean idle()
    {
        return held == LockMode.NULL && !pinned() && null == acquiring && waiters.isEmpty() && notices.isEmpty() &&
            null == stashedImage;
    }

    @Override
    public String toString()
    {
        return "BlockState{" + block + ", held=" + held + ", pins=" + sharedPins + (exclusivePin ? "+X" : "") +
            ", waiters=" + waiters.size() + ", notices=" + notices.size() + ", acquiring=" + (null != acquiring) +
            ", grant=" + grant + '}';
    }
}
