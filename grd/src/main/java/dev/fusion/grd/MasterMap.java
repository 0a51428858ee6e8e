package dev.fusion.grd;

import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.Long2LongHashMap;

/**
 * Who masters each resource: the consistent-hash ring, overridden per object or per resource by remastering.
 * Any thread computes {@link #masterOf(long)} locally and without locking: the ring and both override tables
 * are immutable snapshots published through one volatile reference; the directory agent (single writer)
 * publishes a new snapshot with a higher version on each change.
 */
public final class MasterMap
{
    private static final int NONE = -1;

    private volatile Snapshot snapshot;

    private record Snapshot(
        MasterRing ring, Long2LongHashMap resources, Long2LongHashMap versions, Int2IntHashMap objects, long version)
    {
    }

    /**
     * @param ring the initial ring.
     */
    public MasterMap(final MasterRing ring)
    {
        snapshot = new Snapshot(ring, new Long2LongHashMap(NONE), new Long2LongHashMap(0), new Int2IntHashMap(NONE), 1);
    }

    /**
     * @param resource a resource id.
     * @return the node that masters it now.
     */
    public int masterOf(final long resource)
    {
        final Snapshot s = snapshot;
        final long byResource = s.resources.get(resource);
        if (byResource != NONE)
        {
            return (int)byResource;
        }
        final int byObject = s.objects.get(ResourceId.objectId(resource));
        if (byObject != NONE)
        {
            return byObject;
        }
        return s.ring.masterOf(resource);
    }

    /**
     * @param resource a resource id.
     * @return its master by the ring alone, ignoring overrides.
     */
    public int ringMasterOf(final long resource)
    {
        return snapshot.ring.masterOf(resource);
    }

    /** @return the version of the current mapping; grows with every change. */
    public long version()
    {
        return snapshot.version;
    }

    /** @return the current ring. */
    public MasterRing ring()
    {
        return snapshot.ring;
    }

    /** @return how many resources are remastered individually. */
    public int resourceOverrides()
    {
        return snapshot.resources.size();
    }

    /**
     * @param resource a resource.
     * @return the version of its last move, 0 when it never moved.
     */
    public long moveVersion(final long resource)
    {
        return snapshot.versions.get(resource);
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
        final Snapshot s = snapshot;
        if (version <= s.versions.get(resource))
        {
            return false;
        }
        final Long2LongHashMap resources = copy(s.resources, NONE);
        if (s.ring.contains(master))
        {
            resources.put(resource, master);
        }
        else
        {
            resources.remove(resource);
        }
        final Long2LongHashMap versions = copy(s.versions, 0);
        versions.put(resource, version);
        snapshot = new Snapshot(s.ring, resources, versions, s.objects, s.version + 1);
        return true;
    }

    /**
     * Replaces the ring (after a membership change) and drops overrides that point at nodes no longer on it
     * (directory agent only).
     *
     * @param ring the new ring.
     */
    public void replaceRing(final MasterRing ring)
    {
        final Snapshot s = snapshot;
        final Long2LongHashMap resources = new Long2LongHashMap(NONE);
        s.resources.forEachLong((resource, master) ->
        {
            if (ring.contains((int)master))
            {
                resources.put(resource, master);
            }
        });
        final Int2IntHashMap objects = new Int2IntHashMap(NONE);
        s.objects.forEachInt((object, master) ->
        {
            if (ring.contains(master))
            {
                objects.put(object, master);
            }
        });
        snapshot = new Snapshot(ring, resources, copy(s.versions, 0), objects, s.version + 1);
    }

    private static Long2LongHashMap copy(final Long2LongHashMap source, final long missing)
    {
        final Long2LongHashMap copy = new Long2LongHashMap(Math.max(8, source.size() * 2), 0.65f, missing);
        source.forEachLong(copy::put);
        return copy;
    }
}
