package dev.fusion.grd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.fusion.grd.LockMode.EXCLUSIVE;
import static dev.fusion.grd.LockMode.NULL;
import static dev.fusion.grd.LockMode.SHARED;
import static org.assertj.core.api.Assertions.assertThat;

class DirectoryEntryTest
{
    /** Records outcomes in order. */
    static final class Outcomes implements GrantListener
    {
        final List<String> events = new ArrayList<>();
        final Map<Long, LockMode> granted = new HashMap<>();
        final Map<Long, RejectReason> rejected = new HashMap<>();

        @Override
        public void onGrant(final long resource, final long requestId, final int node, final LockMode mode)
        {
            events.add("grant " + requestId + " " + node + " " + mode);
            granted.put(requestId, mode);
        }

        @Override
        public void onReject(final long resource, final long requestId, final int node, final RejectReason reason)
        {
            events.add("reject " + requestId + " " + node + " " + reason);
            rejected.put(requestId, reason);
        }
    }

    private final DirectoryEntry entry = new DirectoryEntry(ResourceId.of(7, 42));
    private final Outcomes out = new Outcomes();

    @Test
    void compatibilityMatrix()
    {
        assertThat(SHARED.compatibleWith(SHARED)).isTrue();
        assertThat(SHARED.compatibleWith(EXCLUSIVE)).isFalse();
        assertThat(EXCLUSIVE.compatibleWith(SHARED)).isFalse();
        assertThat(EXCLUSIVE.compatibleWith(EXCLUSIVE)).isFalse();
        for (final LockMode m : LockMode.values())
        {
            assertThat(NULL.compatibleWith(m)).isTrue();
            assertThat(m.compatibleWith(NULL)).isTrue();
        }
    }

    @Test
    void sharedRequestsAreGrantedTogether()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        entry.acquire(3, 3, SHARED, out);
        assertThat(entry.holders()).containsOnlyKeys(1, 2, 3);
        assertThat(out.granted).containsOnlyKeys(1L, 2L, 3L);
    }

    @Test
    void anExclusiveWaiterIsNotStarvedByLaterSharedRequests()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, EXCLUSIVE, out);
        entry.acquire(3, 3, SHARED, out);
        entry.acquire(4, 4, SHARED, out);
        assertThat(out.granted).containsOnlyKeys(1L);
        entry.release(1, out);
        assertThat(out.granted).containsOnlyKeys(1L, 2L);
        entry.release(2, out);
        assertThat(out.granted).containsOnlyKeys(1L, 2L, 3L, 4L);
        assertThat(out.events).containsExactly("grant 1 1 SHARED", "grant 2 2 EXCLUSIVE", "grant 3 3 SHARED",
            "grant 4 4 SHARED");
    }

    @Test
    void aLoneSharedHolderConvertsAtOnceAndAnExclusiveHolderDowngrades()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 1, EXCLUSIVE, out);
        assertThat(entry.modeOf(1)).isEqualTo(EXCLUSIVE);
        entry.acquire(3, 2, SHARED, out);
        assertThat(out.granted).doesNotContainKey(3L);
        assertThat(entry.downgrade(1, SHARED, out)).isTrue();
        assertThat(entry.holders()).containsEntry(1, SHARED).containsEntry(2, SHARED);
    }

    @Test
    void conversionsGoAheadOfNewRequestsAndASecondConversionIsADeadlock()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        entry.acquire(3, 3, EXCLUSIVE, out);
        entry.acquire(4, 1, EXCLUSIVE, out);
        assertThat(entry.queue()).extracting(LockRequest::requestId).containsExactly(4L, 3L);
        entry.acquire(5, 2, EXCLUSIVE, out);
        assertThat(out.rejected).containsEntry(5L, RejectReason.CONVERSION_DEADLOCK);
        entry.release(2, out);
        assertThat(entry.modeOf(1)).isEqualTo(EXCLUSIVE);
        entry.release(1, out);
        assertThat(entry.modeOf(3)).isEqualTo(EXCLUSIVE);
    }

    @Test
    void badRequestsChangeNothing()
    {
        entry.acquire(1, 1, SHARED, out);
        assertThat(entry.release(2, out)).isFalse();
        assertThat(entry.downgrade(1, EXCLUSIVE, out)).isFalse();
        assertThat(entry.downgrade(2, NULL, out)).isFalse();
        assertThat(entry.cancel(99, 1, out)).isFalse();
        entry.acquire(2, 2, NULL, out);
        assertThat(out.rejected).containsEntry(2L, RejectReason.INVALID_MODE);
        assertThat(entry.holders()).containsExactly(Map.entry(1, SHARED));
    }

    @Test
    void retriesAreIdempotent()
    {
        entry.acquire(1, 1, EXCLUSIVE, out);
        entry.acquire(2, 2, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        assertThat(entry.queue()).hasSize(1);
        entry.acquire(1, 1, EXCLUSIVE, out);
        assertThat(out.events).containsExactly("grant 1 1 EXCLUSIVE", "grant 1 1 EXCLUSIVE");
    }

    @Test
    void aDeadExclusiveHolderBlocksGrantsUntilRecovered()
    {
        entry.acquire(1, 1, EXCLUSIVE, out);
        entry.acquire(2, 2, SHARED, out);
        assertThat(entry.removeNode(1, out)).isTrue();
        assertThat(entry.recovering()).isTrue();
        assertThat(out.granted).doesNotContainKey(2L);
        entry.recovered(out);
        assertThat(out.granted).containsKey(2L);
    }

    /** Random operations from 4 nodes; after each step no incompatible modes are held and the queue is served. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomisedOperationsKeepTheInvariants(final long seed)
    {
        final Random random = new Random(seed);
        final DirectoryEntry e = new DirectoryEntry(1);
        final Outcomes o = new Outcomes();
        final Map<Long, Integer> outstanding = new HashMap<>();
        long nextId = 1;
        for (int step = 0; step < 5_000; step++)
        {
            final int node = 1 + random.nextInt(4);
            final int op = random.nextInt(10);
            if (op < 4)
            {
                final long id = nextId++;
                outstanding.put(id, node);
                e.acquire(id, node, random.nextBoolean() ? SHARED : EXCLUSIVE, o);
            }
            else if (op < 7)
            {
                e.release(node, o);
            }
            else if (op < 8)
            {
                e.downgrade(node, random.nextBoolean() ? SHARED : NULL, o);
            }
            else if (op < 9 && !e.queue().isEmpty())
            {
                final LockRequest r = e.queue().get(random.nextInt(e.queue().size()));
                e.cancel(r.requestId(), r.node(), o);
            }
            else if (!e.holders().isEmpty() && random.nextInt(20) == 0)
            {
                final int dead = e.holders().keySet().iterator().next();
                e.removeNode(dead, o);
                outstanding.values().removeIf(n -> n == dead);
                e.recovered(o);
            }
            assertCompatible(e);
            assertThat(e.queue().isEmpty() || !grantable(e)).as("head of the queue is blocked for a reason").isTrue();
        }
        for (int node = 1; node <= 4; node++)
        {
            e.release(node, o);
            while (!e.holders().isEmpty())
            {
                e.holders().keySet().stream().findFirst().ifPresent(n -> e.release(n, o));
            }
        }
        assertThat(e.queue()).as("everything queued is served once holders go").isEmpty();
        outstanding.keySet().removeAll(o.granted.keySet());
        outstanding.keySet().removeAll(o.rejected.keySet());
        assertThat(outstanding).as("every request of a live node was answered").isEmpty();
    }

    private static void assertCompatible(final DirectoryEntry e)
    {
        final List<Map.Entry<Integer, LockMode>> holders = new ArrayList<>(e.holders().entrySet());
        for (int i = 0; i < holders.size(); i++)
        {
            for (int j = i + 1; j < holders.size(); j++)
            {
                assertThat(holders.get(i).getValue().compatibleWith(holders.get(j).getValue()))
                    .as("incompatible holders %s", e).isTrue();
            }
        }
    }

    private static boolean grantable(final DirectoryEntry e)
    {
        final LockRequest head = e.queue().get(0);
        return e.holders().entrySet().stream()
            .allMatch(h -> h.getKey() == head.node() || head.mode().compatibleWith(h.getValue()));
    }
}
