package dev.fusion.cachefusion;

import dev.fusion.grd.Grant;
import dev.fusion.grd.LockMode;
import org.agrona.collections.LongArrayList;

import java.util.ArrayDeque;

/** What this node's cache-fusion agent knows of one block; touched only by that agent. */
final class BlockState
{
    final long block;
    final int node;
    /** The directory lock this node holds (kept after local users release: it leaves only when asked). */
    LockMode held = LockMode.NULL;
    /** The request id of the grant {@link #held} came with: notices naming another one are stale. */
    long grantRequestId = Long.MIN_VALUE;
    /** Local pins, shared with application threads (the lock-free path for blocks held here). */
    final PinWord pins;
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
    int stashedFrom = -1;
    /** The membership epoch when it was stashed. */
    long stashedEpoch;
    long imageDeadlineNs;
    /** The last request this node shipped an image to, so a repeated notice is not answered twice. */
    int shippedTo = -1;
    long shippedRequestId = Long.MIN_VALUE;
    /** The version shipped: kept (with the state) until the disk has it, so a lost image can be sent again. */
    long shippedVersion = -1;
    /**
     * Recoveries' past-image queries (pairs of source node and recovery id) waiting for this node to give up the
     * EXCLUSIVE hold it is handing over: the image it will ship is the newest one.
     */
    final LongArrayList deferredPiQueries = new LongArrayList();
    /** Consistent reads served in a row with no local use in between (RAC's fairness rule). */
    int crInARow;
    /** On the agent's list of blocks its timers look at (a request out, a grant waiting for its image, waiters). */
    boolean timed;

    /** The last events of this block on this node, for the slow-get warning (diagnostics, off the hot path). */
    final ArrayDeque<String> trace = new ArrayDeque<>();

    BlockState(final long block, final int node)
    {
        this.block = block;
        this.node = node;
        this.pins = new PinWord(block);
    }

    /** Callers guard with {@code if (BlockState.TRACE)}, so the message is not even built when tracing is off. */
    void trace(final String event)
    {
        dev.fusion.grd.GrdTrace.record(block, node, "cf " + event);
        if (TRACE)
        {
            if (trace.size() == 40)
            {
                trace.pollFirst();
            }
            trace.addLast(System.nanoTime() / 1000 % 100_000_000 + " " + event);
        }
    }

    static final boolean TRACE = Boolean.getBoolean("fusion.cachefusion.trace");

    boolean pinned()
    {
        return pins.pinned();
    }

    boolean exclusivePinned()
    {
        return pins.exclusivePinned();
    }

    boolean canPin(final LockMode mode)
    {
        return mode == LockMode.EXCLUSIVE ? !pinned() : !exclusivePinned();
    }

    void pin(final LockMode mode)
    {
        pins.pin(mode);
    }

    /** Nothing here worth keeping: the agent forgets the state (a new one starts when the block is used again). */
    boolean idle()
    {
        return held == LockMode.NULL && !pinned() && null == acquiring && null == grant && waiters.isEmpty() &&
            notices.isEmpty() && null == stashedImage && shippedTo == -1 && deferredPiQueries.isEmpty();
    }

    /** @return whether the agent's timers have anything to look at here. */
    boolean timing()
    {
        return null != acquiring || null != grant || !waiters.isEmpty();
    }

    @Override
    public String toString()
    {
        return "BlockState{" + block + ", held=" + held + ", pins=" + pins.sharedPins() +
            (pins.exclusivePinned() ? "+X" : "") +
            ", waiters=" + waiters.size() + ", notices=" + notices.size() + ", acquiring=" + (null != acquiring) +
            ", grant=" + grant + ", grantId=" + grantRequestId + ", shippedTo=" + shippedTo + '/' + shippedRequestId +
            (TRACE ? ", trace=" + trace : "") + '}';
    }
}
