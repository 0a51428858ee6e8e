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

    /** @param floor moves with a lower version were made before the last death and are refused. */
    private record Snapshot(MasterRing ring, Long2LongHashMap resources, Long2LongHashMap versions,
        Int2IntHashMap objects, long version, long floor)
    {
    }

    /**
     * @param ring the initial ring.
     */
    public MasterMap(final MasterRing ring)
    {
        snapshot = new Snapshot(ring, new Long2LongHashMap(NONE), new Long2LongHashMap(0), new Int2IntHashMap(NONE), 1,
            0);
    }

    /**
     * The version of a move made in a membership epoch: above the resource's last one, and at least the epoch's
     * floor, so a death (which drops every move made before it) orders it after every earlier move.
     *
     * @param previous the resource's last move version ({@link #moveVersion}).
     * @param epoch    the membership epoch the move is made in.
     * @return the new move's version.
     */
    public static long nextVersion(final long previous, final long epoch)
    {
        return Math.max(previous + 1, floorOf(epoch));
    }

    private static long floorOf(final long epoch)
    {
        return epoch << 32;
    }

    /**
     * @param resource a resource.
     * @return true when it is mastered by a move rather than by the ring.
     */
    public boolean moved(final long resource)
    {
        final Snapshot s = snapshot;
        return s.resources.get(resource) != NONE || s.objects.get(ResourceId.objectId(resource)) != NONE;
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
     * Records that a resource is mastered by {@code master} (directory agent only).
     *
     * @param resource the resource.
     * @param master   its new master.
     * @param version  the move's version for this resource; ignored when not newer than the last one seen.
     * @return true when applied.
     */
    public boolean overrideResource(final long resource, final int master, final long version)
    {
        final Snapshot s = snapshot;
        if (version <= s.versions.get(resource) || version < s.floor)
        {
            return false;
        }
        final Long2LongHashMap resources = copy(s.resources, NONE);
        resources.put(resource, master);
        final Long2LongHashMap versions = copy(s.versions, 0);
        versions.put(resource, version);
        snapshot = new Snapshot(s.ring, resources, versions, s.objects, s.version + 1, s.floor);
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
        snapshot = new Snapshot(ring, resources, copy(s.versions, 0), objects, s.version + 1, s.floor);
    }

    /**
     * After a member's death (directory agent only): the ring of the survivors, and every move made before the
     * death dropped, here and on every survivor alike. A move is announced to the members by the node it moved
     * to, so when that node dies before announcing it, or dies after a move away from it, the survivors' overrides
     * would disagree for good (each forwarding the resource's requests to the other); the ring they share does
     * not. Moves carrying an older epoch are refused from now on, however late they arrive.
     *
     * @param ring  the survivors' ring.
     * @param epoch the epoch of the view without the dead member.
     */
    public void afterDeath(final MasterRing ring, final long epoch)
    {
        final Snapshot s = snapshot;
        final long floor = Math.max(s.floor, floorOf(epoch));
        final Long2LongHashMap resources = new Long2LongHashMap(NONE);
        s.resources.forEachLong((resource, master) ->
        {
            if (ring.contains((int)master) && s.versions.get(resource) >= floor)
            {
                resources.put(resource, master); // moved in this epoch already, by a node that saw the death first
            }
        });
        snapshot = new Snapshot(ring, resources, copy(s.versions, 0), new Int2IntHashMap(NONE), s.version + 1, floor);
    }

    private static Long2LongHashMap copy(final Long2LongHashMap source, final long missing)
    {
        final Long2LongHashMap copy = new Long2LongHashMap(Math.max(8, source.size() * 2), 0.65f, missing);
        source.forEachLong(copy::put);
        return copy;
    }
}
