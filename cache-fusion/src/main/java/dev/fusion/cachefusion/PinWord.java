package dev.fusion.cachefusion;

import dev.fusion.grd.LockMode;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One block's local pins and the mode application threads may pin it in without the agent, in one word updated
 * by CAS: a get of a block this node already holds costs a CAS, no queue hop. The agent closes the gate while it
 * has anything to do for the block (a notice to serve, a local waiter, its own request out); pins then go through
 * it, and a release that finds the gate closed tells it.
 * <pre>
 * bits 0-1  mode the fast path may use (0 none, 1 SHARED, 2 EXCLUSIVE)
 * bit  2    pinned EXCLUSIVE
 * bit  3    gate closed
 * bits 16+  SHARED pins
 * </pre>
 */
final class PinWord
{
    private static final long MODE_MASK = 3;
    private static final long X_PIN = 4;
    private static final long GATE = 8;
    private static final long S_ONE = 1L << 16;

    private final AtomicLong word = new AtomicLong(GATE);
    private final CompletableFuture<BlockGrant> sharedHeld;
    private final CompletableFuture<BlockGrant> exclusiveHeld;
    /** Set by a fast pin, cleared by the agent: a local use, for the consistent-read fairness rule. */
    private volatile boolean used;

    PinWord(final long block)
    {
        sharedHeld = CompletableFuture.completedFuture(new BlockGrant(block, LockMode.SHARED, GetKind.LOCAL, 0, 0));
        exclusiveHeld = CompletableFuture.completedFuture(
            new BlockGrant(block, LockMode.EXCLUSIVE, GetKind.LOCAL, 0, 0));
    }

    /**
     * Application thread: pins without the agent when the gate is open and the held mode covers {@code mode}.
     *
     * @return the (shared, completed) grant, or null to go through the agent.
     */
    CompletableFuture<BlockGrant> tryPin(final LockMode mode)
    {
        while (true)
        {
            final long w = word.get();
            final long held = w & MODE_MASK;
            if ((w & GATE) != 0 || held == 0 || (w & X_PIN) != 0)
            {
                return null;
            }
            final long next;
            if (mode == LockMode.EXCLUSIVE)
            {
                if (held != 2 || (w >>> 16) != 0)
                {
                    return null;
                }
                next = w | X_PIN;
            }
            else
            {
                next = w + S_ONE;
            }
            if (word.compareAndSet(w, next))
            {
                if (!used)
                {
                    used = true;
                }
                return held == 2 ? exclusiveHeld : sharedHeld;
            }
        }
    }

    /**
     * Application thread: drops one pin (the EXCLUSIVE one, else a SHARED one).
     *
     * @return 1 when the gate is closed (the agent must look), 0 when not, -1 when nothing was pinned.
     */
    int unpin()
    {
        while (true)
        {
            final long w = word.get();
            final long next;
            if ((w & X_PIN) != 0)
            {
                next = w & ~X_PIN;
            }
            else if ((w >>> 16) != 0)
            {
                next = w - S_ONE;
            }
            else
            {
                return -1;
            }
            if (word.compareAndSet(w, next))
            {
                return (next & GATE) != 0 ? 1 : 0;
            }
        }
    }

    /** Agent: pins for a waiter it grants (the gate may be closed). */
    void pin(final LockMode mode)
    {
        if (mode == LockMode.EXCLUSIVE)
        {
            word.getAndUpdate(w -> w | X_PIN);
        }
        else
        {
            word.getAndAdd(S_ONE);
        }
    }

    boolean pinned()
    {
        final long w = word.get();
        return (w & X_PIN) != 0 || (w >>> 16) != 0;
    }

    boolean exclusivePinned()
    {
        return (word.get() & X_PIN) != 0;
    }

    int sharedPins()
    {
        return (int)(word.get() >>> 16);
    }

    /** Agent: no fast pins from now on. Close before reading the pins to decide anything. */
    void close()
    {
        word.getAndUpdate(w -> w | GATE);
    }

    /**
     * Agent: publishes the mode held and whether the fast path may use it.
     *
     * @param held the mode this node holds.
     * @param open whether nothing waits on the agent for this block.
     */
    void publish(final LockMode held, final boolean open)
    {
        final long mode = held == LockMode.EXCLUSIVE ? 2 : held == LockMode.SHARED ? 1 : 0;
        word.getAndUpdate(w -> (w & ~(MODE_MASK | GATE)) | mode | (open && mode != 0 ? 0 : GATE));
    }

    /** Agent: whether a fast pin happened since the last call. */
    boolean takeUsed()
    {
        if (used)
        {
            used = false;
            return true;
        }
        return false;
    }
}
