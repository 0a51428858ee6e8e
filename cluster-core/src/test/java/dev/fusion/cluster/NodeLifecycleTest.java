package dev.fusion.cluster;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NodeLifecycleTest
{
    @Test
    void closeLeavesNoThreadsFilesOrPortsBehind() throws Exception
    {
        final Set<Long> threadsBefore = liveThreadIds();
        final List<String> dirs;
        final List<Member> members;
        try (LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            dirs = cluster.nodes().stream().map(ClusterNode::aeronDirectory).collect(Collectors.toList());
            members = List.copyOf(cluster.node(1).config().members().values());
            assertThat(dirs).allMatch(d -> new File(d).isDirectory());
            assertThat(newThreads(threadsBefore)).anyMatch(name -> name.startsWith("fusion-node"));
        }
        LocalCluster.await(() -> newThreads(threadsBefore).isEmpty(), Duration.ofSeconds(10),
            "threads to end, still alive: " + newThreads(threadsBefore));
        assertThat(dirs).noneMatch(d -> new File(d).exists());
        for (final Member member : members)
        {
            for (final int port : new int[]{member.port(), member.port() + 1})
            {
                try (DatagramSocket socket = new DatagramSocket(port, InetAddress.getLoopbackAddress()))
                {
                    assertThat(socket.getLocalPort()).isEqualTo(port);
                }
            }
        }
    }

    @Test
    void closeIsIdempotentAndSendAfterCloseIsAClearError()
    {
        final LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
        final ClusterNode node = cluster.node(1);
        cluster.close();
        assertThatCode(node::close).doesNotThrowAnyException();
        assertThatThrownBy(() -> node.send(2, 100, Priority.HIGH, new UnsafeBuffer(new byte[1]), 0, 1))
            .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void nodesCanShareOneEmbeddedDriverAndRunItOnTheAgentThread()
    {
        try (LocalCluster shared = LocalCluster.start(2, true, LocalCluster::smallMachineDefaults))
        {
            shared.awaitFullView(Duration.ofSeconds(20));
            assertThat(shared.node(2).aeronDirectory()).isEqualTo(shared.node(1).aeronDirectory());
        }
        try (LocalCluster invoker = LocalCluster.start(2, b -> LocalCluster.smallMachineDefaults(b)
            .driverOnAgentThread(true)))
        {
            invoker.awaitFullView(Duration.ofSeconds(20));
        }
    }

    @Test
    void aNodesThreadComesFromItsFactoryAndAYieldingNodeWorksLikeABackingOffOne() throws Exception
    {
        final List<Thread> made = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(2, b -> LocalCluster.smallMachineDefaults(b)
            .idleMode(IdleMode.YIELDING)
            .agentThreadFactory(r ->
            {
                final Thread t = new Thread(r);
                made.add(t);
                return t;
            })))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            assertThat(made).extracting(Thread::getName).containsExactlyInAnyOrder("fusion-node-1", "fusion-node-2");
            final java.util.concurrent.CompletableFuture<Integer> got = new java.util.concurrent.CompletableFuture<>();
            cluster.node(2).registerHandler(100, (source, type, buffer, offset, length) ->
                got.complete(buffer.getInt(offset)));
            final UnsafeBuffer message = new UnsafeBuffer(new byte[4]);
            message.putInt(0, 42);
            LocalCluster.await(() -> cluster.node(1).send(2, 100, Priority.HIGH, message, 0, 4),
                Duration.ofSeconds(10), "the message to be taken");
            assertThat(got.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(42);
        }
        assertThat(made).noneMatch(Thread::isAlive);
    }

    @Test
    void runsOnAnExternalMediaDriverAndLeavesItRunning()
    {
        final String dir = "/dev/shm/fusion-external-" + java.util.UUID.randomUUID();
        try (io.aeron.driver.MediaDriver driver = io.aeron.driver.MediaDriver.launch(
            new io.aeron.driver.MediaDriver.Context().aeronDirectoryName(dir)
                .threadingMode(io.aeron.driver.ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)))
        {
            try (LocalCluster cluster = LocalCluster.start(2, b -> LocalCluster.smallMachineDefaults(b)
                .embeddedMediaDriver(false).aeronDirectory(dir)))
            {
                cluster.awaitFullView(Duration.ofSeconds(20));
                assertThat(cluster.node(1).aeronDirectory()).isEqualTo(dir);
            }
            assertThat(new File(dir)).as("an external driver's directory is not the node's to delete").isDirectory();
        }
    }

    @Test
    void anExternalDriverThatIsNotRunningIsAClearStartError()
    {
        final int[] ports = LocalCluster.freeUdpPorts(1);
        final ClusterConfig config = LocalCluster.smallMachineDefaults(ClusterConfig.builder().nodeId(1)
            .member(1, "127.0.0.1", ports[0]).embeddedMediaDriver(false)
            .aeronDirectory("/dev/shm/fusion-no-driver-" + java.util.UUID.randomUUID()).driverTimeoutMs(1000)).build();
        assertThatThrownBy(() -> ClusterNode.start(config)).isInstanceOf(RuntimeException.class);
    }

    private static Set<Long> liveThreadIds()
    {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getId).collect(Collectors.toSet());
    }

    private static List<String> newThreads(final Set<Long> before)
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.isAlive() && !before.contains(t.getId()))
            .map(Thread::getName)
            .filter(name -> !name.startsWith("ForkJoinPool") && !name.startsWith("Common-Cleaner") &&
                !name.startsWith("process reaper") && !name.startsWith("Attach Listener"))
            .collect(Collectors.toList());
    }
}
