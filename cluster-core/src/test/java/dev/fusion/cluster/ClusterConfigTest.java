package dev.fusion.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterConfigTest
{
    private static ClusterConfig.Builder valid()
    {
        return ClusterConfig.builder().nodeId(1).member(1, "127.0.0.1", 20001).member(2, "127.0.0.1", 20002)
            .favourAvailability(true);
    }

    @Test
    void defaultsAreTheDocumentedOnes()
    {
        final ClusterConfig config = valid().build();
        assertThat(config.embeddedMediaDriver()).isTrue();
        assertThat(config.batchMin()).isEqualTo(10);
        assertThat(config.batchMax()).isEqualTo(1000);
        assertThat(config.compressionThreshold()).isEqualTo(4096);
        assertThat(config.compressionAcceleration()).isEqualTo(2);
        assertThat(config.batchBudgetNs(Priority.HIGH)).isEqualTo(50_000);
        assertThat(config.batchBudgetNs(Priority.NORMAL)).isEqualTo(500_000);
        assertThat(config.batchBudgetNs(Priority.LOW)).isEqualTo(2_000_000);
        assertThat(config.bulkTermLength()).isEqualTo(4 << 20);
        assertThat(config.self()).isEqualTo(new Member(1, "127.0.0.1", 20001));
    }

    @Test
    void badValuesNameTheFieldAndTheAcceptedRange()
    {
        assertThatThrownBy(() -> valid().nodeId(0).build())
            .isInstanceOf(ConfigException.class).hasMessage("invalid nodeId: 0 (accepted: 1..65535)");
        assertThatThrownBy(() -> valid().nodeId(3).build())
            .hasMessageContaining("nodeId").hasMessageContaining("one of the member ids [1, 2]");
        assertThatThrownBy(() -> valid().batchSize(20, 10).build())
            .hasMessage("invalid batchMax: 10 (accepted: 20..65535)");
        assertThatThrownBy(() -> valid().bulkTermLength(3 << 20).build())
            .hasMessageContaining("bulkTermLength").hasMessageContaining("power of two");
        assertThatThrownBy(() -> valid().mtu(1000).build()).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> valid().suspectTimeoutMs(2000).deadTimeoutMs(1000).build())
            .hasMessageContaining("deadTimeoutMs").hasMessageContaining("2001..");
        assertThatThrownBy(() -> valid().compressionMinSaving(1.5).build())
            .hasMessageContaining("compressionMinSaving");
        assertThatThrownBy(() -> valid().compressionAcceleration(0).build())
            .hasMessage("invalid compressionAcceleration: 0 (accepted: 1..64)");
        assertThatThrownBy(() -> valid().embeddedMediaDriver(false).build())
            .hasMessageContaining("aeronDirectory");
        assertThatThrownBy(() -> valid().maxMessageLength(1 << 20).build())
            .hasMessageContaining("maxMessageLength");
        assertThatThrownBy(() -> ClusterConfig.builder().nodeId(1).build()).hasMessageContaining("members");
    }

    @Test
    void theDriverHasItsOwnThreadByDefaultAndAutoPutsItOnTheNodesThreadOnASmallMachine()
    {
        final boolean small = ClusterConfig.fewCores();
        assertThat(valid().build().driverOnAgentThread()).isFalse();
        assertThat(valid().driverOnAgentThreadAuto().build().driverOnAgentThread()).isEqualTo(small);
        assertThat(valid().driverOnAgentThread(true).build().driverOnAgentThread()).isTrue();
        assertThat(valid().embeddedMediaDriver(false).aeronDirectory("/dev/shm/x").driverOnAgentThreadAuto().build()
            .driverOnAgentThread()).as("auto with an external driver").isFalse();
        assertThatThrownBy(() -> valid().embeddedMediaDriver(false).aeronDirectory("/dev/shm/x")
            .driverOnAgentThread(true).build()).hasMessageContaining("driverOnAgentThread");
        // a derived config keeps "auto", so it may still switch to an external driver
        final ClusterConfig derived = valid().driverOnAgentThreadAuto().build().toBuilder().embeddedMediaDriver(false)
            .aeronDirectory("/dev/shm/x").build();
        assertThat(derived.driverOnAgentThread()).isFalse();
        assertThat(ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@127.0.0.1:20001",
            "driverOnAgentThread", "auto")).driverOnAgentThread()).isEqualTo(small);
        assertThat(ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@127.0.0.1:20001",
            "driverOnAgentThread", "true")).driverOnAgentThread()).isTrue();
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@127.0.0.1:20001",
            "driverOnAgentThread", "sometimes"))).hasMessage("invalid driverOnAgentThread: 'sometimes' " +
            "(accepted: true, false or auto)");
    }

    @Test
    void nodesBackOffWhenIdleUnlessToldToYield()
    {
        assertThat(valid().build().idleMode()).isEqualTo(IdleMode.BACKOFF);
        assertThat(valid().idleMode(IdleMode.YIELDING).build().toBuilder().build().idleMode())
            .isEqualTo(IdleMode.YIELDING);
        assertThat(ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@127.0.0.1:20001",
            "idleMode", " Yielding")).idleMode()).isEqualTo(IdleMode.YIELDING);
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@127.0.0.1:20001",
            "idleMode", "spin"))).hasMessage("invalid idleMode: 'spin' (accepted: backoff or yielding)");
        assertThatThrownBy(() -> valid().agentThreadFactory(null)).hasMessageContaining("agentThreadFactory");
    }

    @Test
    void loadsProperties(@TempDir final Path dir) throws IOException
    {
        final Path file = dir.resolve("node.properties");
        Files.writeString(file, String.join("\n",
            "nodeId=2",
            "members=1@127.0.0.1:20001, 2@127.0.0.1:20002,3@localhost:20003",
            "bulkTermLength=8m",
            "batchMin=5",
            "batchMax=500",
            "compressionMinSaving=0.2",
            "embeddedMediaDriver=true"));
        final ClusterConfig config = ClusterConfig.load(file);
        assertThat(config.nodeId()).isEqualTo(2);
        assertThat(config.members()).containsOnlyKeys(1, 2, 3);
        assertThat(config.members().get(3).endpoint()).isEqualTo("localhost:20003");
        assertThat(config.bulkTermLength()).isEqualTo(8 << 20);
        assertThat(config.batchMin()).isEqualTo(5);
        assertThat(config.batchMax()).isEqualTo(500);
        assertThat(config.compressionMinSaving()).isEqualTo(0.2);
    }

    @Test
    void loadsYaml(@TempDir final Path dir) throws IOException
    {
        final Path file = dir.resolve("node.yaml");
        Files.writeString(file, String.join("\n",
            "nodeId: 1",
            "members:",
            "  1: 127.0.0.1:20001",
            "  2: 127.0.0.1:20002",
            "favourAvailability: true",
            "heartbeatIntervalMs: 20",
            "suspectTimeoutMs: 100",
            "deadTimeoutMs: 400",
            "controlTermLength: 256k",
            "maxBatchBytes: 16k"));
        final ClusterConfig config = ClusterConfig.load(file);
        assertThat(config.members()).containsOnlyKeys(1, 2);
        assertThat(config.heartbeatIntervalNs()).isEqualTo(20_000_000);
        assertThat(config.deadTimeoutNs()).isEqualTo(400_000_000);
        assertThat(config.controlTermLength()).isEqualTo(256 << 10);
    }

    @Test
    void rejectsUnknownKeysAndMalformedValues()
    {
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@h:1", "batchSise", 5)))
            .isInstanceOf(ConfigException.class).hasMessageContaining("batchSise").hasMessageContaining("unknown key");
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", "one")))
            .hasMessageContaining("nodeId").hasMessageContaining("an integer");
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@nohostport")))
            .hasMessageContaining("members").hasMessageContaining("host:port");
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("nodeId", 1, "members", "1@h:99999")))
            .hasMessageContaining("port");
        assertThatThrownBy(() -> ClusterConfig.fromMap(Map.of("embeddedMediaDriver", "yes")))
            .hasMessageContaining("true or false");
    }

    @Test
    void aTwoMemberClusterNeedsAWitnessUnlessItFavoursAvailability()
    {
        assertThatThrownBy(() -> valid().favourAvailability(false).build())
            .isInstanceOf(ConfigException.class).hasMessageContaining("voters").hasMessageContaining("witness")
            .hasMessageContaining("favourAvailability");
        final ClusterConfig withWitness = valid().favourAvailability(false).voter(1, "127.0.0.1", 30001)
            .voter(2, "127.0.0.1", 30011).voter(3, "127.0.0.1", 30021).build();
        assertThat(withWitness.quorumMembership()).isTrue();
        assertThat(withWitness.isWitness()).isFalse();
        assertThat(withWitness.toBuilder().nodeId(3).build().isWitness()).isTrue();
        assertThatThrownBy(() -> valid().voter(1, "127.0.0.1", 30001).voter(2, "127.0.0.1", 30011).build())
            .hasMessageContaining("voters").hasMessageContaining("3 or 5");
        assertThat(valid().build().quorumMembership()).isFalse();
    }

    @Test
    void yamlThatIsNotAMappingIsRejected(@TempDir final Path dir) throws IOException
    {
        final Path file = dir.resolve("bad.yml");
        Files.writeString(file, "- just\n- a list\n");
        assertThatThrownBy(() -> ClusterConfig.load(file)).hasMessageContaining("mapping");
    }
}
