package dev.fusion.cluster;

import dev.fusion.cluster.membership.QuorumMembership;
import dev.fusion.cluster.quorum.CommittedView;
import dev.fusion.cluster.quorum.LeaseAgent;
import dev.fusion.cluster.quorum.LeaseClient;
import dev.fusion.cluster.quorum.QuorumMember;
import dev.fusion.cluster.transport.Handlers;
import dev.fusion.cluster.transport.MetricsRecorder;
import dev.fusion.cluster.transport.TransportAgent;
import dev.fusion.cluster.transport.TransportCounters;
import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.DynamicCompositeAgent;
import org.agrona.concurrent.SystemEpochNanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.File;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One member of a Fusion cluster: an Aeron client (on an embedded media driver by default) and the transport
 * agent that moves prioritized, batched, compressed messages to and from the other members, beats the heart
 * and keeps the membership view.
 * <pre>{@code
 * try (ClusterNode node = ClusterNode.start(config)) {
 *     node.registerHandler(42, (source, type, buffer, offset, length) -> ...);
 *     node.send(2, 42, Priority.HIGH, buffer, 0, length);
 * }
 * }</pre>
 * {@link #send} may be called from any thread; handlers and membership listeners run on the transport agent's
 * thread and must not block.
 */
public final class ClusterNode implements AutoCloseable
{
    /** Aeron counter type id of Fusion's transport counters, as shown by AeronStat. */
    public static final int COUNTER_TYPE_ID = 1_700_000;

    private static final System.Logger LOG = System.getLogger(ClusterNode.class.getName());
    private static final long AGENT_ERROR_LOG_INTERVAL_NS = TimeUnit.SECONDS.toNanos(5);

    private final ClusterConfig config;
    private final String aeronDirectory;
    private volatile int incarnation;
    private final Handlers handlers = new Handlers();
    private final MetricsRecorder metrics = new MetricsRecorder();
    private final List<MembershipListener> listeners = new CopyOnWriteArrayList<>();
    private MediaDriver driver;
    private Aeron aeron;
    private TransportCounters counters;
    private TransportAgent agent;
    private AgentRunner runner;
    private DynamicCompositeAgent agents;
    private QuorumMember voter;
    private Aeron quorumAeron;
    private LeaseAgent leaseAgent;
    private AgentRunner leaseRunner;
    private volatile MembershipView view;
    private volatile boolean closed;
    private volatile long agentErrors;
    private long agentErrorsLogged;
    private long lastAgentErrorLogNs;

    private ClusterNode(final ClusterConfig config)
    {
        this.config = config;
        this.aeronDirectory = null != config.aeronDirectory() ? config.aeronDirectory() : defaultAeronDirectory(config.nodeId());
        this.incarnation = newIncarnation(0);
    }

    private static int newIncarnation(final int old)
    {
        int inc;
        do
        {
            inc = ThreadLocalRandom.current().nextInt();
        }
        while (inc == 0 || inc == old);
        return inc;
    }

    /**
     * Starts a node: launches the embedded media driver unless configured otherwise, connects, adds the
     * publications and subscriptions, and starts the transport agent.
     *
     * @param config a validated config.
     * @return the running node.
     * @throws RuntimeException when Aeron cannot start; everything started so far is closed again.
     */
    public static ClusterNode start(final ClusterConfig config)
    {
        if (config.isWitness())
        {
            throw new IllegalArgumentException("node " + config.nodeId() + " is a witness (a voter that is no member): " +
                "run it with ./fusion witness, not as a node");
        }
        final ClusterNode node = new ClusterNode(Objects.requireNonNull(config, "config"));
        try
        {
            node.launch();
            return node;
        }
        catch (final RuntimeException | Error ex)
        {
            node.close();
            throw ex;
        }
    }

    static String defaultAeronDirectory(final int nodeId)
    {
        final File shm = new File("/dev/shm");
        final String base = shm.isDirectory() ? shm.getPath() : System.getProperty("java.io.tmpdir");
        return new File(base, "fusion-node-" + nodeId + "-" + UUID.randomUUID()).getPath();
    }

    private void launch()
    {
        if (config.voters().containsKey(config.nodeId()))
        {
            voter = QuorumMember.launch(config, config.nodeId());
        }
        if (config.embeddedMediaDriver())
        {
            driver = MediaDriver.launch(config.driverCustomizer().apply(new MediaDriver.Context()
                .aeronDirectoryName(aeronDirectory)
                .threadingMode(config.driverOnAgentThread() ? ThreadingMode.INVOKER : ThreadingMode.SHARED)
                .sharedIdleStrategy(config.idleMode().newStrategy(config.idleMaxParkNs()))
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .termBufferSparseFile(true)
                .socketRcvbufLength(config.socketBufferBytes())
                .socketSndbufLength(config.socketBufferBytes())
                .initialWindowLength(config.socketBufferBytes())
                .driverTimeoutMs(config.driverTimeoutMs())
                .warnIfDirectoryExists(false)));
        }
        final AgentInvoker driverInvoker = config.driverOnAgentThread() ? driver.sharedAgentInvoker() : null;
        aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDirectory)
            .driverAgentInvoker(driverInvoker)
            .useConductorAgentInvoker(null != driverInvoker)
            .driverTimeoutMs(config.driverTimeoutMs()));
        final String prefix = "fusion node " + config.nodeId() + ": ";
        counters = new TransportCounters(name -> (AtomicCounter)aeron.addCounter(COUNTER_TYPE_ID, prefix + name));
        agent = new TransportAgent(config, aeron, driverInvoker, aeron.conductorAgentInvoker(), incarnation, handlers, counters, metrics,
            new SystemNanoClock(), new SystemEpochNanoClock(), this::onViewChange,
            config.quorumMembership() ? this::leaseExpiryNs : null);
        view = agent.view();
        final NodeAgent nodeAgent = new NodeAgent("fusion-node-" + config.nodeId(), agent);
        agents = nodeAgent.attached();
        runner = new AgentRunner(config.idleMode().newStrategy(config.idleMaxParkNs()), this::onAgentError, null,
            nodeAgent);
        AgentRunner.startOnThread(runner, config.agentThreadFactory());
        if (config.quorumMembership())
        {
            startLeaseAgent((QuorumMembership)agent.membership());
        }
        LOG.log(System.Logger.Level.INFO, () -> "node " + config.nodeId() + " started on " +
            config.self().endpoint() + " (aeron dir " + aeronDirectory + ", incarnation " + incarnation + ")");
        if (!config.quorumMembership() && config.members().size() > 1 && !config.favourAvailability())
        {
            LOG.log(System.Logger.Level.WARNING, "node " + config.nodeId() + " decides membership alone (no voters " +
                "configured): a partition or a pause longer than deadTimeoutMs lets two nodes master and write the " +
                "same blocks; configure voters (docs/operations.md, \"Partitions and pauses\")");
        }
    }

    /**
     * The quorum session runs on a thread of its own with its own Aeron client (the node's may be driven by the
     * node's thread, which a client following a new leader must not block); started once the node's thread runs,
     * since that thread may be the one driving the media driver.
     */
    private void startLeaseAgent(final QuorumMembership membership)
    {
        quorumAeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDirectory)
            .driverTimeoutMs(config.driverTimeoutMs()));
        final LeaseClient client = new LeaseClient(
            new LeaseClient.Settings(config.nodeId(), incarnation,
                QuorumMember.clientContext(config, config.self().host()).aeron(quorumAeron).ownsAeronClient(false),
                config.leaseNs(), config.leaseRenewIntervalNs(), membership, config.suspectTimeoutNs()),
            new LeaseClient.Listener()
            {
                @Override
                public void onView(final CommittedView view)
                {
                    if (!membership.offer(view))
                    {
                        LOG.log(System.Logger.Level.ERROR, "node " + config.nodeId() + " fell too far behind the " +
                            "quorum's views; fenced");
                    }
                }

                @Override
                public void onEvicted(final int deadIncarnation)
                {
                    membership.onEvicted(deadIncarnation);
                }
            });
        leaseAgent = new LeaseAgent(client, new SystemNanoClock(), "fusion-lease-" + config.nodeId());
        leaseRunner = new AgentRunner(
            new BackoffIdleStrategy(10, 5, TimeUnit.MICROSECONDS.toNanos(10), QuorumMember.IDLE_MAX_PARK_NS),
            this::onAgentError, null, leaseAgent);
        AgentRunner.startOnThread(leaseRunner, config.agentThreadFactory());
    }

    private long leaseExpiryNs()
    {
        final LeaseAgent lease = leaseAgent;
        return null == lease ? 0 : lease.leaseExpiryNs();
    }

    /**
     * Lock-free, from any thread: whether this node may act as a member now. Always true when each node decides
     * membership alone; with a quorum ({@link ClusterConfig#voters()}), true only while the node holds a lease the
     * quorum renewed and has not declared dead. A node without one masters nothing, grants nothing, uses no cached
     * block and sends nothing: the others may declare it dead once {@code lease + margin} has passed.
     *
     * @return whether this node holds its lease.
     */
    public boolean hasLease()
    {
        final TransportAgent transport = agent;
        if (null == transport || closed)
        {
            return false;
        }
        return !config.quorumMembership() || transport.holdsLease(System.nanoTime());
    }

    /**
     * Lock-free, from any thread: the replication primary the quorum last committed, as this node knows it.
     *
     * @return the primary and its epoch; {@link Primary#NONE} before one is named, or without a quorum.
     */
    public Primary primary()
    {
        final LeaseAgent lease = leaseAgent;
        return null == lease ? Primary.NONE : lease.primary();
    }

    /**
     * Asks the quorum that this node become the replication primary. It is granted when no primary was named yet,
     * when the named one is not alive (declared dead after its lease ran out), or when this node is it already (a
     * restarted primary keeps its epoch). Each change of primary takes the next primary epoch, so exactly one
     * node at a time holds the newest.
     *
     * @param timeoutMs how long to wait for the quorum's answer.
     * @return the primary epoch this node publishes under.
     * @throws IllegalStateException when the cluster has no quorum, another primary is alive, this node holds no
     *                               lease, or the quorum did not answer in time.
     * @throws InterruptedException  when interrupted while waiting.
     */
    public long claimPrimary(final long timeoutMs) throws InterruptedException
    {
        final LeaseAgent lease = leaseAgent;
        if (!config.quorumMembership() || null == lease)
        {
            throw new IllegalStateException("node " + config.nodeId() + " has no membership quorum (no voters " +
                "configured): a promotion cannot be a committed decision");
        }
        final CompletableFuture<Long> result = new CompletableFuture<>();
        lease.requestPrimary(result);
        try
        {
            return result.get(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final TimeoutException ex)
        {
            result.completeExceptionally(ex);
            throw new IllegalStateException("node " + config.nodeId() + ": the quorum did not answer its claim to be " +
                "the primary within " + timeoutMs + " ms (holds a lease: " + hasLease() + ")");
        }
        catch (final ExecutionException ex)
        {
            if (ex.getCause() instanceof IllegalStateException refused)
            {
                throw new IllegalStateException(refused.getMessage(), refused);
            }
            throw new IllegalStateException("node " + config.nodeId() + ": claim to be the primary failed", ex);
        }
    }

    /**
     * Waits until this node holds its lease (at once without a quorum). A node with a quorum gets its first lease
     * once a majority of the voters runs and has committed its join.
     *
     * @param timeoutMs how long to wait.
     * @return whether it holds one.
     */
    public boolean awaitLease(final long timeoutMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!hasLease())
        {
            if (closed || System.nanoTime() - deadline >= 0)
            {
                return false;
            }
            try
            {
                Thread.sleep(5);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /**
     * @return whether the quorum declared this node's incarnation dead: it stays fenced until it {@link #rejoin}s
     * (or its process restarts).
     */
    public boolean evicted()
    {
        return null != agent && agent.membership() instanceof QuorumMembership q && q.evicted();
    }

    /**
     * Brings a node the quorum declared dead back as a new incarnation, without restarting its process: a healed
     * partition, a resumed pause. Nothing the old incarnation held may survive, so first close what runs on this
     * node (directory, cache fusion, replication) and drop the engine's cached blocks; then call this, wait for
     * the lease ({@link #awaitLease}), and start them again: the directory joins as a restarted one does. Frames
     * of the old incarnation are dropped by every member.
     *
     * @return the new incarnation.
     * @throws IllegalStateException when the node has no quorum, is not evicted, or is closed.
     */
    public int rejoin()
    {
        checkOpen();
        if (!config.quorumMembership() || !evicted())
        {
            throw new IllegalStateException("node " + config.nodeId() + " can rejoin only once the quorum has " +
                "declared it dead (quorum membership: " + config.quorumMembership() + ", evicted: " + evicted() + ")");
        }
        final int next = newIncarnation(incarnation);
        agent.rejoinAs(next);
        while (agent.incarnation() != next)
        {
            checkOpen();
            Thread.yield();
        }
        incarnation = next;
        leaseAgent.requestRejoin(next);
        LOG.log(System.Logger.Level.INFO, () -> "node " + config.nodeId() + " rejoins as incarnation " + next);
        return next;
    }

    /** On the node's thread: an agent that throws on every cycle logs once per interval, with the count. */
    private void onAgentError(final Throwable error)
    {
        agentErrors++;
        final long now = System.nanoTime();
        if (0 == lastAgentErrorLogNs || now - lastAgentErrorLogNs >= AGENT_ERROR_LOG_INTERVAL_NS)
        {
            final long suppressed = agentErrors - 1 - agentErrorsLogged;
            agentErrorsLogged = agentErrors;
            lastAgentErrorLogNs = now;
            LOG.log(System.Logger.Level.ERROR, "node " + config.nodeId() + " agent error" +
                (suppressed > 0 ? " (" + suppressed + " more since the last one logged)" : ""), error);
        }
    }

    /** @return errors thrown by the node's agents (transport and attached) since start. */
    public long agentErrors()
    {
        return agentErrors;
    }

    private void onViewChange(final MembershipView newView)
    {
        final MembershipView previous = view;
        view = newView;
        if (newView.epoch() > previous.epoch())
        {
            LOG.log(System.Logger.Level.INFO, () -> "node " + config.nodeId() + " view epoch " + newView.epoch() +
                " members " + newView.members() + " " + newView.states());
            for (final MembershipListener listener : listeners)
            {
                try
                {
                    listener.onViewChange(previous, newView);
                }
                catch (final RuntimeException ex)
                {
                    LOG.log(System.Logger.Level.ERROR, "membership listener threw", ex);
                }
            }
        }
    }

    /** @return this node's id. */
    public int nodeId()
    {
        return config.nodeId();
    }

    /** @return this node's config. */
    public ClusterConfig config()
    {
        return config;
    }

    /** @return the Aeron directory this node's client (and embedded driver) uses; AeronStat reads it. */
    public String aeronDirectory()
    {
        return aeronDirectory;
    }

    /**
     * @return this node's incarnation: a restarted (or rejoined) node has a new one, so its old frames can be
     * fenced.
     */
    public int incarnation()
    {
        return incarnation;
    }

    /**
     * Registers the handler of a message type; do it before peers send that type, or their messages are
     * dropped as {@link DropCause#UNKNOWN_TYPE}.
     *
     * @param type    {@link ClusterConfig#FIRST_USER_MESSAGE_TYPE}..{@link ClusterConfig#MAX_MESSAGE_TYPE}.
     * @param handler called on the transport agent thread.
     */
    public void registerHandler(final int type, final MessageHandler handler)
    {
        handlers.register(type, handler);
    }

    /**
     * Removes a handler registered with {@link #registerHandler}, so the component that owns it can stop and start
     * again while the node runs. Messages of the type are dropped as {@link DropCause#UNKNOWN_TYPE} meanwhile.
     *
     * @param type    the message type.
     * @param handler the handler registered; a different one is left in place.
     * @return whether it was removed.
     */
    public boolean unregisterHandler(final int type, final MessageHandler handler)
    {
        return handlers.unregister(type, handler);
    }

    /**
     * Installs a filter that sees every received message before its handler and may drop it: for
     * fault-injection tests and drills, never for production traffic.
     *
     * @param filter the filter, or null to remove it.
     */
    public void receiveFilter(final ReceiveFilter filter)
    {
        handlers.filter(filter);
    }

    /**
     * Queues a message for a peer. Never blocks: it copies the payload into the peer's send queue for that
     * priority, and the transport agent sends it.
     *
     * @param peer     the destination node id.
     * @param type     the message type.
     * @param priority the priority, which picks the stream and the batching.
     * @param buffer   holding the payload.
     * @param offset   of the payload.
     * @param length   of the payload.
     * @return true when queued; false when the queue is full (back pressure: retry later) or the peer is not in
     * the view because it was declared dead (see {@link #view()}).
     * @throws IllegalArgumentException for an unknown peer, this node's own id, a reserved type or an oversize
     *                                  payload.
     * @throws IllegalStateException    when the node is closed.
     */
    public boolean send(
        final int peer, final int type, final Priority priority, final DirectBuffer buffer, final int offset,
        final int length)
    {
        checkOpen();
        return agent.offer(peer, type, priority, buffer, offset, length);
    }

    /**
     * Runs another agent on this node's thread, twice in each duty cycle, each time followed by the transport's
     * send half: before the sockets are polled and after. The way modules such as the directory avoid a thread
     * (and a thread hand-off per message) of their own; what they queue leaves at once, and a reply to a message
     * leaves in the cycle that received it. Blocks until the agent is added.
     *
     * @param other an agent; its {@code onStart} runs on the node's thread.
     * @throws IllegalStateException when the node is closed.
     */
    public void attach(final Agent other)
    {
        Objects.requireNonNull(other, "agent");
        while (!agents.tryAdd(other))
        {
            checkOpen();
            Thread.yield();
        }
        while (!agents.hasAddAgentCompleted())
        {
            checkOpen();
            Thread.yield();
        }
    }

    /**
     * Stops running an attached agent (its {@code onClose} runs on the node's thread). Blocks until removed;
     * returns at once when the node is closed (closing the node closes its attached agents).
     *
     * @param other an attached agent.
     */
    public void detach(final Agent other)
    {
        while (!closed && !agents.tryRemove(other))
        {
            Thread.yield();
        }
        while (!closed && !agents.hasRemoveAgentCompleted())
        {
            Thread.yield();
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("node " + config.nodeId() + " is closed");
        }
    }

    /** @return the current membership view; lock-free. */
    public MembershipView view()
    {
        return view;
    }

    /** @param listener told of every membership change from now on, on the transport agent thread. */
    public void addMembershipListener(final MembershipListener listener)
    {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** @param listener no longer told of membership changes (a change being delivered may still reach it). */
    public void removeMembershipListener(final MembershipListener listener)
    {
        listeners.remove(listener);
    }

    /** @return a snapshot of the transport's counters and histograms. */
    public TransportMetrics metrics()
    {
        return metrics.snapshot(counters);
    }

    /**
     * Tells the quorum this incarnation leaves, so the others need not wait for its lease to run out; the lease
     * ends at once, so from here on the node sends nothing.
     */
    private void leave()
    {
        final LeaseAgent lease = leaseAgent;
        if (null == lease || null == leaseRunner || leaseRunner.isClosed())
        {
            return;
        }
        lease.requestLeave();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
        while (!lease.hasLeft() && System.nanoTime() - deadline < 0)
        {
            Thread.yield();
        }
    }

    /** Stops the agent, then closes the client and the embedded driver, deleting its directory. Idempotent. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        leave();
        CloseHelper.quietClose(runner);
        CloseHelper.quietClose(leaseRunner);
        CloseHelper.quietClose(quorumAeron);
        if (null == runner && null != agent)
        {
            agent.onClose();
        }
        CloseHelper.quietClose(counters);
        CloseHelper.quietClose(aeron);
        CloseHelper.quietClose(driver);
        if (null != driver)
        {
            IoUtil.delete(new File(aeronDirectory), true);
        }
        CloseHelper.quietClose(voter);
        LOG.log(System.Logger.Level.INFO, () -> "node " + config.nodeId() + " closed");
    }
}
