package dev.fusion.cluster.quorum;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.LinkCut;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.MemberState;
import dev.fusion.cluster.MembershipView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.agrona.CloseHelper;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

    @Test
    void twoDataNodesAndAWitnessSurviveTheLossOfEitherDataNode(@TempDir final Path dir)
    {
        final int[] ports = LocalCluster.freeUdpPorts(5, 5);
        final ClusterConfig[] configs = new ClusterConfig[4];
        for (final int id : new int[]{1, 2, 3})
        {
            final ClusterConfig.Builder b = LocalCluster.smallMachineDefaults(ClusterConfig.builder().nodeId(id))
                .member(1, "127.0.0.1", ports[0]).member(2, "127.0.0.1", ports[1])
                .voter(1, "127.0.0.1", ports[2]).voter(2, "127.0.0.1", ports[3]).voter(3, "127.0.0.1", ports[4])
                .quorumDirectory(dir.toString());
            configs[id] = b.build();
        }
        assertThat(configs[3].isWitness()).isTrue();
        assertThatThrownBy(() -> ClusterNode.start(configs[3])).hasMessageContaining("is a witness");
        final List<AutoCloseable> running = new ArrayList<>();
        try (QuorumMember witness = QuorumMember.launch(configs[3], 3))
        {
            final ClusterNode first = ClusterNode.start(configs[1]);
            running.add(first);
            final ClusterNode two = ClusterNode.start(configs[2]);
            running.add(two);
            assertThat(first.awaitLease(TIMEOUT.toMillis()) && two.awaitLease(TIMEOUT.toMillis())).isTrue();
            LocalCluster.await(() -> first.view().members().size() == 2 && two.view().members().size() == 2, TIMEOUT,
                "both data nodes in the view");

            first.close();
            LocalCluster.await(() -> two.view().state(1) == MemberState.DEAD, TIMEOUT, "node 2 to see node 1 dead");
            assertThat(two.hasLease()).as("node 2 and the witness are a majority").isTrue();

            final ClusterNode restarted = ClusterNode.start(configs[1]);
            running.add(restarted);
            assertThat(restarted.awaitLease(TIMEOUT.toMillis())).isTrue();
            two.close();
            LocalCluster.await(() -> restarted.view().state(2) == MemberState.DEAD, TIMEOUT,
                "node 1 to see node 2 dead");
            assertThat(restarted.hasLease()).as("node 1 and the witness are a majority").isTrue();
        }
        finally
        {
            for (final AutoCloseable c : running)
            {
                CloseHelper.quietClose(c);
            }
        }
    }

    @Test
    void whenTwoDataNodesLoseEachOtherButBothReachTheVotersTheQuorumEvictsOneOfThemAndItRejoinsAfterTheHeal()
    {
        final Map<Integer, LinkCut> cuts = new ConcurrentHashMap<>();
        cluster = LocalCluster.startWithQuorum(3, b ->
        {
            final LinkCut cut = cuts.computeIfAbsent(b.nodeId(), id -> new LinkCut());
            return LocalCluster.smallMachineDefaults(b).leaseMs(3000, 500, 100).driverCustomizer(cut::install);
        });
        cluster.awaitFullView(TIMEOUT);
        final int oldIncarnation = cluster.node(2).incarnation();

        cuts.get(1).cutTo(cluster.node(2).config().self());
        cuts.get(2).cutTo(cluster.node(1).config().self());

        LocalCluster.await(() -> cluster.node(2).evicted(), TIMEOUT, "the quorum to evict node 2, the higher id");
        LocalCluster.await(() -> cluster.node(1).view().state(2) == MemberState.DEAD &&
            cluster.node(3).view().state(2) == MemberState.DEAD, TIMEOUT, "nodes 1 and 3 to see node 2 declared dead");
        assertThat(cluster.node(2).hasLease()).as("evicted: fenced").isFalse();
        assertThat(cluster.node(1).hasLease()).isTrue();
        assertThat(cluster.node(3).hasLease()).isTrue();
        assertThat(cluster.node(1).view().state(3)).isEqualTo(MemberState.ALIVE);
        assertThat(cluster.node(1).view().state(1)).isEqualTo(MemberState.ALIVE);

        cuts.get(1).cutTo();
        cuts.get(2).cutTo();
        cluster.node(2).rejoin();
        LocalCluster.await(() -> cluster.node(2).hasLease() &&
            cluster.node(1).view().state(2) == MemberState.ALIVE, TIMEOUT, "node 2 to rejoin after the heal");
        assertThat(cluster.node(2).incarnation()).isNotEqualTo(oldIncarnation);
        LocalCluster.await(() -> cluster.node(2).view().states().values().stream()
            .allMatch(s -> s == MemberState.ALIVE), TIMEOUT, "node 2 to see everyone alive");
        assertThat(cluster.node(2).evicted()).isFalse();
    }
}
