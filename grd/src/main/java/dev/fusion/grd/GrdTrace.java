package dev.fusion.grd;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Diagnostics for tests that run every node in one JVM: with {@code -Dfusion.grd.trace=true}, the directory's (and
 * cache fusion's) events for each resource, from every node, in one timeline of the last 400. A test that finds an
 * invariant broken freezes the resource's timeline at that moment and prints it. Off by default: each call site is
 * one check of a static final flag.
 */
public final class GrdTrace
{
    /** Whether events are recorded. */
    public static final boolean ENABLED = Boolean.getBoolean("fusion.grd.trace");
    private static final int KEPT = 400;
    private static final Map<Long, ArrayDeque<String>> EVENTS = new ConcurrentHashMap<>();
    private static final Set<Long> FROZEN = ConcurrentHashMap.newKeySet();

    private GrdTrace()
    {
    }

    /**
     * @param resource the resource.
     * @param node     the node the event happened on.
     * @param event    what happened.
     */
    public static void record(final long resource, final int node, final String event)
    {
        if (!ENABLED || FROZEN.contains(resource))
        {
            return;
        }
        final ArrayDeque<String> events = EVENTS.computeIfAbsent(resource, k -> new ArrayDeque<>());
        synchronized (events)
        {
            if (events.size() == KEPT)
            {
                events.pollFirst();
            }
            events.addLast(System.nanoTime() / 1000 % 100_000_000 + " n" + node + " " + event);
        }
    }

    /** @param resource stop recording its events (an invariant just broke). */
    public static void freeze(final long resource)
    {
        FROZEN.add(resource);
    }

    /** @param resource a resource. @return its timeline, one event per line. */
    public static String dump(final long resource)
    {
        final ArrayDeque<String> events = EVENTS.get(resource);
        if (null == events)
        {
            return "(no events)";
        }
        synchronized (events)
        {
            return String.join("\n", events);
        }
    }
}
