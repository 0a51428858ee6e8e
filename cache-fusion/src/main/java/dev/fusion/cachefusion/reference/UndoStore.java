package dev.fusion.cachefusion.reference;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Committed versions of each page, newest last, bounded per page: what consistent reads roll back to. Shared
 * by the nodes of one process (it stands for an undo tablespace on shared storage); a node in a process of its
 * own keeps the versions it produced or received.
 */
public final class UndoStore
{
    private final int versionsPerPage;
    private final Map<Integer, ConcurrentSkipListMap<Long, byte[]>> versions = new ConcurrentHashMap<>();
    private final Map<Integer, Long> droppedUpTo = new ConcurrentHashMap<>();

    /**
     * @param versionsPerPage how many versions of a page are kept.
     */
    public UndoStore(final int versionsPerPage)
    {
        if (versionsPerPage < 1)
        {
            throw new IllegalArgumentException("invalid versionsPerPage: " + versionsPerPage + " (accepted: >= 1)");
        }
        this.versionsPerPage = versionsPerPage;
    }

    void record(final int page, final long version, final byte[] image)
    {
        final ConcurrentSkipListMap<Long, byte[]> v = versions.computeIfAbsent(page, p -> new ConcurrentSkipListMap<>());
        v.putIfAbsent(version, image);
        while (v.size() > versionsPerPage)
        {
            final Map.Entry<Long, byte[]> dropped = v.pollFirstEntry();
            if (null != dropped)
            {
                droppedUpTo.merge(page, dropped.getKey(), Math::max);
            }
        }
    }

    /**
     * @param page a page.
     * @param scn  an SCN.
     * @return the newest version of the page at or below the SCN, or null when it is no longer kept.
     */
    public byte[] asOf(final int page, final long scn)
    {
        final ConcurrentSkipListMap<Long, byte[]> v = versions.get(page);
        if (null == v)
        {
            return null;
        }
        final Map.Entry<Long, byte[]> e = v.floorEntry(scn);
        return null == e ? null : e.getValue();
    }

    /** @return the newest version kept of a page, or -1 when none. */
    public long newest(final int page)
    {
        final ConcurrentSkipListMap<Long, byte[]> v = versions.get(page);
        return null == v || v.isEmpty() ? -1 : v.lastKey();
    }

    /** @return the newest version of a page no longer kept (-1 when none was dropped). */
    public long droppedUpTo(final int page)
    {
        return droppedUpTo.getOrDefault(page, -1L);
    }
}
