package dev.fusion.cluster.quorum;

import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

class QuorumMembershipTest
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private LocalCluster cluster;

    @AfterEach
    void close()
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    @Test
    void threeNodesRunningTheVotersGetLeasesAndInstallTheSameCommittedViews()
    {
        cluster = LocalCluster.startWithQuorum(3, b -> b);
        final Map<Integer, List<MembershipView>> seen = new ConcurrentHashMap<>();
        for (final ClusterNode node : cluster.nodes())
        {
            final List<MembershipView> views = new CopyOnWriteArrayList<>();
            seen.put(node.nodeId(), views);
            node.addMembershipListener((before, after) -> views.add(after));
        }
        cluster.awaitFullView(TIMEOUT);

        for (final ClusterNode node : cluster.nodes())
        {
            assertThat(node.hasLease()).isTrue();
            assertThat(node.view().states().values()).containsOnly(MemberState.ALIVE);
        }
        cluster.stop(3);
        LocalCluster.await(() -> cluster.node(1).view().state(3) == MemberState.DEAD &&
            cluster.node(2).view().state(3) == MemberState.DEAD, TIMEOUT, "nodes 1 and 2 to see node 3 leave");
        assertThat(cluster.node(1).view().epoch()).isEqualTo(cluster.node(2).view().epoch());

        // whatever each saw of the sequence, an epoch means the same view on every node
        for (final MembershipView a : seen.get(1))
        {
            for (final MembershipView b : seen.get(2))
            {
                if (a.epoch() == b.epoch())
                {
                    assertThat(a.states()).isEqualTo(b.states());
                }
            }
        }
        assertThat(cluster.node(1).hasLease()).isTrue();
    }

    @Test
    void aRestartedNodeJoinsAsANewIncarnationAfterItsOldOneIsDeclaredDead()
    {
        cluster = LocalCluster.startWithQuorum(3, b -> b);
        cluster.awaitFullView(TIMEOUT);
        final int oldIncarnation = cluster.node(3).incarnation();
        final List<MembershipView> views = new CopyOnWriteArrayList<>();
        cluster.node(1).addMembershipListener((before, after) -> views.add(after));

        cluster.stop(3);
        final ClusterNode restarted = cluster.restart(3);
        assertThat(restarted.awaitLease(TIMEOUT.toMillis())).isTrue();
        cluster.awaitFullView(TIMEOUT);

        assertThat(restarted.incarnation()).isNotEqualTo(oldIncarnation);
        assertThat(views).anySatisfy(v -> assertThat(v.state(3)).isEqualTo(MemberState.DEAD));
        assertThat(views.get(views.size() - 1).state(3)).isEqualTo(MemberState.ALIVE);
    }
}
