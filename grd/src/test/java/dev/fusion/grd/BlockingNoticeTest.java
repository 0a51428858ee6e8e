package dev.fusion.grd;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.fusion.grd.LockMode.EXCLUSIVE;
import static dev.fusion.grd.LockMode.NULL;
import static dev.fusion.grd.LockMode.SHARED;
import static org.assertj.core.api.Assertions.assertThat;

/** What a master tells holders and grantees so cache fusion can move a block's image. */
class BlockingNoticeTest
{
    record Notice(int holder, LockMode keep, int requester, long requestId, boolean ship, long holderGrant,
        boolean granting)
    {
    }

    record Granted(long requestId, int node, LockMode mode, int supplier)
    {
    }

    static final class Recorder implements GrantListener
    {
        final List<Notice> notices = new ArrayList<>();
        final List<Granted> grants = new ArrayList<>();
        final List<String> rejects = new ArrayList<>();

        @Override
        public void onGrant(final long resource, final long requestId, final int node, final LockMode mode)
        {
            throw new AssertionError("the entry names a supplier with every grant");
        }

        @Override
        public void onGrant(final long resource, final long requestId, final int node, final LockMode mode,
            final int supplier)
        {
            grants.add(new Granted(requestId, node, mode, supplier));
        }

        @Override
        public void onBlocking(final long resource, final int holder, final LockMode keep, final int requester,
            final LockMode requested, final long requestId, final boolean ship, final long holderGrant,
            final boolean granting)
        {
            notices.add(new Notice(holder, keep, requester, requestId, ship, holderGrant, granting));
        }

        @Override
        public void onReject(final long resource, final long requestId, final int node, final RejectReason reason)
        {
            rejects.add(requestId + " " + reason);
        }
    }

    private final DirectoryEntry entry = new DirectoryEntry(ResourceId.of(3, 9));
    private final Recorder out = new Recorder();

    @Test
    void anExclusiveHolderIsToldToShipAndTheGrantNamesIt()
    {
        entry.acquire(10, 1, EXCLUSIVE, out);
        assertThat(out.grants).containsExactly(new Granted(10, 1, EXCLUSIVE, -1)); // nobody had it: disk
        entry.acquire(20, 2, EXCLUSIVE, out);
        assertThat(out.notices).containsExactly(new Notice(1, NULL, 2, 20, true, 10, true));
        entry.acquire(20, 2, EXCLUSIVE, out); // a retry: told again, same supplier
        assertThat(out.notices).hasSize(2).last().isEqualTo(new Notice(1, NULL, 2, 20, true, 10, true));
        entry.release(1, 10, out);
        assertThat(out.grants).last().isEqualTo(new Granted(20, 2, EXCLUSIVE, 1));
        entry.acquire(20, 2, EXCLUSIVE, out); // the grant's answer was lost: granted again, same supplier
        assertThat(out.grants).last().isEqualTo(new Granted(20, 2, EXCLUSIVE, 1));
    }

    @Test
    void sharedHoldersAllGiveWayToExclusiveAndExactlyOneShips()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        assertThat(out.grants.get(1).supplier()).as("a SHARED grant next to a holder is supplied by it").isEqualTo(1);
        assertThat(out.notices).containsExactly(new Notice(1, SHARED, 2, 2, true, 1, true));
        out.notices.clear();
        entry.acquire(3, 3, EXCLUSIVE, out);
        assertThat(out.notices).extracting(Notice::holder).containsExactlyInAnyOrder(1, 2);
        assertThat(out.notices).extracting(Notice::keep).containsOnly(NULL);
        assertThat(out.notices).filteredOn(Notice::ship).hasSize(1);
        assertThat(out.notices).as("two holders in the way: the grant waits for both").noneMatch(Notice::granting);
    }

    @Test
    void aSharedRequestBehindAnExclusiveHolderIsGrantedWhenItKeepsShared()
    {
        entry.acquire(1, 1, EXCLUSIVE, out);
        entry.acquire(2, 2, SHARED, out);
        assertThat(out.notices).containsExactly(new Notice(1, SHARED, 2, 2, true, 1, true));
        entry.downgrade(1, SHARED, 1, out);
        assertThat(out.grants).last().isEqualTo(new Granted(2, 2, SHARED, 1));
    }

    @Test
    void aHoldReportedWithItsRequestSurvivesThatRequestSentAgainFresh()
    {
        // a master rebuilt after a death: node 2 reports a hold it uses on an image that carried the grant of its
        // request 215 (the old master died before answering), then sends 215 again, "fresh" (it holds nothing else)
        entry.restoreHolder(2, EXCLUSIVE, 215);
        entry.acquire(551, 1, EXCLUSIVE, out, true);
        assertThat(out.notices).containsExactly(new Notice(2, NULL, 1, 551, true, 215, true));
        entry.acquire(215, 2, EXCLUSIVE, out, true);
        assertThat(out.grants).containsExactly(new Granted(215, 2, EXCLUSIVE, -1));
        assertThat(entry.modeOf(2)).isEqualTo(EXCLUSIVE);
        assertThat(entry.modeOf(1)).as("not granted while node 2 holds it").isEqualTo(NULL);
        entry.release(2, 215, out);
        assertThat(out.grants).last().isEqualTo(new Granted(551, 1, EXCLUSIVE, 2));
    }

    @Test
    void aHoldReportedWithItsGrantOverridesTheShippersStaleExclusiveReport()
    {
        // node 1 shipped the block to node 2 with the grant and reported before its release was sent
        entry.restoreHolder(1, EXCLUSIVE);
        entry.restoreHolder(2, EXCLUSIVE, 215);
        assertThat(entry.holders()).containsExactly(java.util.Map.entry(2, EXCLUSIVE));
        entry.restoreHolder(1, EXCLUSIVE); // its report arriving after node 2's
        assertThat(entry.holders()).containsExactly(java.util.Map.entry(2, EXCLUSIVE));
        entry.acquire(300, 3, EXCLUSIVE, out);
        assertThat(out.notices).containsExactly(new Notice(2, NULL, 3, 300, true, 215, true));
    }

    @Test
    void aSurvivingMasterGrantsAReportedRequestOnceOnly()
    {
        entry.acquire(534, 1, EXCLUSIVE, out);
        entry.acquire(215, 2, EXCLUSIVE, out);
        assertThat(out.notices).containsExactly(new Notice(1, NULL, 2, 215, true, 534, true));
        // node 2 got the image with the grant; another node died, and node 2 reports before node 1's release lands
        entry.restoreHolder(2, EXCLUSIVE, 215);
        assertThat(entry.queue()).isEmpty();
        entry.acquire(215, 2, EXCLUSIVE, out, true); // sent again: a retry of the recorded grant
        assertThat(entry.release(1, 534, out)).as("node 1 no longer counted").isFalse();
        assertThat(out.grants).containsExactly(new Granted(534, 1, EXCLUSIVE, -1), new Granted(215, 2, EXCLUSIVE, -1));
        assertThat(entry.modeOf(2)).isEqualTo(EXCLUSIVE);
    }

    @Test
    void aNewRequestForAModeHeldAlreadyBecomesTheHoldersGrant()
    {
        entry.acquire(10, 1, EXCLUSIVE, out);
        entry.acquire(11, 1, EXCLUSIVE, out); // e.g. asked again after a copy of 10 was refused on the way
        assertThat(out.grants).containsExactly(new Granted(10, 1, EXCLUSIVE, -1), new Granted(11, 1, EXCLUSIVE, -1));
        entry.acquire(20, 2, EXCLUSIVE, out);
        assertThat(out.notices).as("the notice names the grant node 1 now holds under")
            .containsExactly(new Notice(1, NULL, 2, 20, true, 11, true));
        entry.release(1, 10, out);
        assertThat(entry.modeOf(1)).as("a release of the older grant is stale").isEqualTo(EXCLUSIVE);
        entry.release(1, 11, out);
        assertThat(out.grants).last().isEqualTo(new Granted(20, 2, EXCLUSIVE, 1));
    }

    @Test
    void aConverterKeepsItsCopyAndNobodyShips()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        out.notices.clear();
        entry.acquire(5, 1, EXCLUSIVE, out);
        assertThat(out.notices).containsExactly(new Notice(2, NULL, 1, 5, false, 2, false));
        entry.release(2, 2, out);
        assertThat(out.grants).last().isEqualTo(new Granted(5, 1, EXCLUSIVE, -1));
    }

    @Test
    void lateReleasesStaleCopiesAndFreshRequestsAreTold()
    {
        entry.acquire(100, 1, EXCLUSIVE, out);
        entry.release(1, 100, out);
        entry.acquire(200, 1, EXCLUSIVE, out, true);
        // the release of grant 100 arrives again, late: it must not release grant 200
        assertThat(entry.release(1, 100, out)).isTrue();
        assertThat(entry.modeOf(1)).isEqualTo(EXCLUSIVE);
        // a copy of request 100 still in flight: dropped
        final int grants = out.grants.size();
        entry.acquire(100, 1, EXCLUSIVE, out);
        assertThat(out.grants).hasSize(grants);
        // node 1 gave the resource up but its release is lost; its new (fresh) request releases the old hold
        entry.acquire(300, 2, EXCLUSIVE, out);
        entry.acquire(400, 1, EXCLUSIVE, out, true);
        assertThat(out.grants).contains(new Granted(300, 2, EXCLUSIVE, 1));
        assertThat(entry.modeOf(2)).isEqualTo(EXCLUSIVE);
        assertThat(entry.modeOf(1)).isEqualTo(NULL);
    }

    @Test
    void aRefusedRequestRetriedIsRefusedAgainNotQueued()
    {
        entry.acquire(1, 1, SHARED, out);
        entry.acquire(2, 2, SHARED, out);
        entry.acquire(3, 1, EXCLUSIVE, out);
        entry.acquire(4, 2, EXCLUSIVE, out);
        assertThat(out.rejects).containsExactly("4 CONVERSION_DEADLOCK");
        entry.acquire(4, 2, EXCLUSIVE, out);
        assertThat(out.rejects).hasSize(2);
        assertThat(entry.queue()).extracting(LockRequest::requestId).containsExactly(3L);
    }
}
