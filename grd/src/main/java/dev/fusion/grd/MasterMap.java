package dev.fusion.grd;

import org.agrona.collections.Long2LongHashMap;

/**
 * Who masters each resource: the consistent-hash ring, overridden per resource by remastering. Any thread computes
 * {@link #masterOf(long)} locally and without locking: the ring is published through a volatile reference and the
 * overrides live in a single-writer, lock-free table ({@link OverrideTable}); the directory agent is the only
 * writer. An override naming a node no longer on the ring is ignored, so a reader never sees a dead master even
 * while a ring change is being applied.
 */
public final class MasterMap
{
    private final OverrideTable overrides = new OverrideTable();
    private final Long2LongHashMap moveVersions = new Long2LongHashMap(0);
    private volatile MasterRing ring;
    private volatile long version = 1;

    /**
     * @param ring the initial ring.
     */
    public MasterMap(final MasterRing ring)
    {
        this.ring = ring;
    }

    /**
     * Any thread, lock-free.
     *
     * @param resource a resource id.
     * @return the node that masters it now.
     */
    public int masterOf(final long resource)
    {
        final MasterRing r = ring;
        final int override = overrides.get(resource);
        return override != OverrideTable.ABSENT && r.contains(override) ? override : r.masterOf(resource);
    }

    /**
     * @param resource a resource id.
     * @param on       a ring other than the current one.
     * @return its master with this map's overrides on that ring.
     */
    public int masterOf(final long resource, final MasterRing on)
    {
        final int override = overrides.get(resource);
        return override != OverrideTable.ABSENT && on.contains(override) ? override : on.masterOf(resource);
    }

    /**
     * @param resource a resource id.
     * @return its master by the ring alone, ignoring overrides.
     */
    public int ringMasterOf(final long resource)
    {
        return ring.masterOf(resource);
    }

    /** @return the version of the current mapping; grows with every change. */
    public long version()
    {
        return version;
    }

    /** @return the current ring. */
    public MasterRing ring()
    {
        return ring;
    }

    /** @return how many resources are remastered individually. */
    public int resourceOverrides()
    {
        return overrides.size();
    }

    /**
     * Directory agent only.
     *
     * @param resource a resource.
     * @return the version of its last move, 0 when it never moved.
     */
    public long moveVersion(final long resource)
    {
        return moveVersions.get(resource);
    }

    /**
     * Directory agent only.
     *
     * @param consumer given each resource that ever moved and the version of its last move.
     */
    public void forEachMove(final org.agrona.collections.LongLongConsumer consumer)
    {
        moveVersions.forEachLong(consumer);
    }

    /**
     * Records that a resource is mastered by {@code master} (directory agent only). A move to a node no longer on
     * the ring (an announcement that arrives after the new master's death) leaves the resource with its ring
     * master, as {@link #replaceRing} left the others, and still counts as the resource's latest move.
     *
     * @param resource the resource.
     * @param master   its new master.
     * @param version  the move's version for this resource; ignored when not newer than the last one seen.
     * @return true when applied.
     */
    public boolean overrideResource(final long resource, final int master, final long version)
    {
        if (version <= moveVersions.get(resource))
        {
            return false;
        }
        moveVersions.put(resource, version);
        overrides.put(resource, ring.contains(master) ? master : OverrideTable.ABSENT);
        this.version++;
        return true;
    }

    /**
     * Replaces the ring (after a membership change) and drops overrides that point at nodes no longer on it
     * (directory agent only), so a node that rejoins does not master again what it mastered before its death.
     *
     * @param ring the new ring.
     */
    public void replaceRing(final MasterRing ring)
    {
        this.ring = ring; // first: readers ignore overrides naming nodes off it from now on
        overrides.clearWhere(master -> !ring.contains(master));
        version++;
    }
}
