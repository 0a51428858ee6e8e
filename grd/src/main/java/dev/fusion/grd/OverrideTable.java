package dev.fusion.grd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.IntPredicate;

/**
 * Resource to master overrides: one writer (the directory agent), lock-free readers on any thread. Open
 * addressing with linear probing over two parallel arrays. A slot's key is written once, before its master is
 * stored with release semantics, and never changes afterwards, so a reader that sees a master also sees the key
 * it belongs to. A cleared override keeps its slot (master {@link #ABSENT}) until the next resize, which copies
 * the live overrides into new arrays and publishes them through one volatile write. Each change is O(1)
 * amortised: the copy-on-write snapshot this replaces copied every override on every move, which made a node
 * that had moved tens of thousands of resources spend milliseconds per move and seconds on an object's worth.
 */
final class OverrideTable
{
    /** No override: the ring decides. */
    static final int ABSENT = -1;
    private static final int FREE = Integer.MIN_VALUE;
    private static final int MIN_CAPACITY = 16;
    private static final VarHandle MASTERS = MethodHandles.arrayElementVarHandle(int[].class);

    private static final class Slots
    {
        final long[] keys;
        final int[] masters;
        final int mask;

        Slots(final int capacity)
        {
            keys = new long[capacity];
            masters = new int[capacity];
            java.util.Arrays.fill(masters, FREE);
            mask = capacity - 1;
        }
    }

    private volatile Slots slots = new Slots(MIN_CAPACITY);
    private volatile int live;
    private int taken;

    /**
     * Any thread.
     *
     * @param resource a resource.
     * @return its override, or {@link #ABSENT}.
     */
    int get(final long resource)
    {
        final Slots s = slots;
        int i = index(resource, s.mask);
        while (true)
        {
            final int master = (int)MASTERS.getAcquire(s.masters, i);
            if (master == FREE)
            {
                return ABSENT;
            }
            if (s.keys[i] == resource)
            {
                return master;
            }
            i = (i + 1) & s.mask;
        }
    }

    /**
     * Writer only.
     *
     * @param resource a resource.
     * @param master   its master, or {@link #ABSENT} to clear the override.
     */
    void put(final long resource, final int master)
    {
        final Slots s = slots;
        int i = index(resource, s.mask);
        while (true)
        {
            final int current = s.masters[i];
            if (current == FREE)
            {
                if (master != ABSENT)
                {
                    s.keys[i] = resource;
                    MASTERS.setRelease(s.masters, i, master);
                    live++;
                    if (++taken * 2 > s.masters.length)
                    {
                        resize();
                    }
                }
                return;
            }
            if (s.keys[i] == resource)
            {
                if (current != master)
                {
                    live += (master == ABSENT ? -1 : 0) + (current == ABSENT ? 1 : 0);
                    MASTERS.setRelease(s.masters, i, master);
                }
                return;
            }
            i = (i + 1) & s.mask;
        }
    }

    /**
     * Writer only: clears every override whose master matches.
     *
     * @param master which masters to clear.
     */
    void clearWhere(final IntPredicate master)
    {
        final Slots s = slots;
        for (int i = 0; i < s.masters.length; i++)
        {
            final int current = s.masters[i];
            if (current != FREE && current != ABSENT && master.test(current))
            {
                MASTERS.setRelease(s.masters, i, ABSENT);
                live--;
            }
        }
    }

    /** @return how many resources have an override (any thread; may lag the writer). */
    int size()
    {
        return live;
    }

    private void resize()
    {
        final Slots old = slots;
        int capacity = MIN_CAPACITY;
        while (capacity < live * 4)
        {
            capacity <<= 1;
        }
        final Slots fresh = new Slots(capacity);
        int count = 0;
        for (int i = 0; i < old.masters.length; i++)
        {
            final int master = old.masters[i];
            if (master != FREE && master != ABSENT)
            {
                int j = index(old.keys[i], fresh.mask);
                while (fresh.masters[j] != FREE)
                {
                    j = (j + 1) & fresh.mask;
                }
                fresh.keys[j] = old.keys[i];
                fresh.masters[j] = master;
                count++;
            }
        }
        taken = count;
        slots = fresh; // the volatile write publishes the plain writes above
    }

    private static int index(final long resource, final int mask)
    {
        return (int)MasterRing.mix(resource) & mask;
    }
}
