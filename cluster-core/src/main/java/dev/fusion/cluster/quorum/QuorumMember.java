package dev.fusion.cluster.quorum;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.Member;
import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.cluster.ClusteredMediaDriver;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One voting member of the membership quorum: an Aeron Cluster member (media driver, archive and consensus module,
 * all on SHARED threads that back off when idle) running the {@link MembershipService}. A Fusion node that is a
 * voter runs one in its process; a witness runs one alone ({@code ./fusion witness}).
 * <p>
 * Ports, from the voter's configured port P: P ingress, P+1 consensus, P+2 log, P+3 catch-up, P+4 archive control.
 * Timeouts are Aeron's own test values, sized for a small machine: a leader heartbeat timeout of 1 s, so a new
 * leader is elected within about 2 s of the old one's death.
 */
public final class QuorumMember implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(QuorumMember.class.getName());
    static final long LEADER_HEARTBEAT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(1);
    static final long LEADER_HEARTBEAT_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);
    static final long ELECTION_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(500);
    static final long STARTUP_CANVASS_TIMEOUT_NS = 2 * LEADER_HEARTBEAT_TIMEOUT_NS;
    static final long SESSION_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(5);
    /** Cluster time between lease checks: a silent node is declared dead at most this late. */
    static final long EXPIRY_TICK_MS = 50;
    private static final int MAX_SESSIONS = 256;
    /** Longest park of an idle voter or lease thread. */
    public static final long IDLE_MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(5);

    private final int voterId;
    private final String aeronDirectory;
    private final File baseDirectory;
    private ClusteredMediaDriver driver;
    private ClusteredServiceContainer container;

    private QuorumMember(final int voterId, final String aeronDirectory, final File baseDirectory)
    {
        this.voterId = voterId;
        this.aeronDirectory = aeronDirectory;
        this.baseDirectory = baseDirectory;
    }

    /**
     * Starts the voter with this id. Its Raft log and archive start empty: a voter that restarts catches up from
     * the leader (see docs/operations.md for what that means for a voter that restarts during an election).
     *
     * @param config  the cluster's config (voters, members, lease timing); the same on every voter.
     * @param voterId one of the config's voter ids.
     * @return the running voter.
     * @throws IllegalArgumentException when the id is not a voter's.
     */
    public static QuorumMember launch(final ClusterConfig config, final int voterId)
    {
        final Member voter = config.voters().get(voterId);
        if (null == voter)
        {
            throw new IllegalArgumentException("voter " + voterId + " is not configured; voters are " +
                config.voters().keySet());
        }
        final String base = null != config.quorumDirectory() ? config.quorumDirectory() :
            new File(System.getProperty("java.io.tmpdir"), "fusion-quorum").getPath();
        final File baseDirectory = new File(base, "voter-" + voterId + "-" + voter.port());
        final String aeronDirectory = new File(shmOrTmp(), "fusion-voter-" + voterId + "-" + UUID.randomUUID()).getPath();
        final QuorumMember member = new QuorumMember(voterId, aeronDirectory, baseDirectory);
        try
        {
            member.start(config, voter);
            return member;
        }
        catch (final RuntimeException | Error ex)
        {
            member.close();
            throw ex;
        }
    }

    private void start(final ClusterConfig config, final Member voter)
    {
        IoUtil.delete(baseDirectory, true);
        final int memberIndex = memberIndex(config, voterId);
        final Supplier<IdleStrategy> idle = QuorumMember::idleStrategy;
        final MediaDriver.Context driverContext = new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(idleStrategy())
            .termBufferSparseFile(true)
            .publicationTermBufferLength(256 << 10)
            .ipcTermBufferLength(256 << 10)
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false);
        final Archive.Context archiveContext = new Archive.Context()
            .archiveId(voterId)
            .archiveDir(new File(baseDirectory, "archive"))
            .deleteArchiveOnStart(true)
            .controlChannel("aeron:udp?endpoint=" + voter.host() + ":" + (voter.port() + 4))
            .localControlChannel("aeron:ipc?term-length=64k")
            .replicationChannel("aeron:udp?endpoint=" + voter.host() + ":0")
            .recordingEventsEnabled(false)
            .segmentFileLength(1 << 20)
            .threadingMode(ArchiveThreadingMode.SHARED)
            .idleStrategySupplier(idle);
        final AeronArchive.Context archiveClient = new AeronArchive.Context()
            .controlRequestChannel(archiveContext.localControlChannel())
            .controlResponseChannel(archiveContext.localControlChannel())
            .aeronDirectoryName(aeronDirectory);
        final File clusterDir = new File(baseDirectory, "cluster");
        final ConsensusModule.Context consensus = new ConsensusModule.Context()
            .clusterMemberId(memberIndex)
            .clusterMembers(clusterMembers(config))
            .clusterDir(clusterDir)
            .deleteDirOnStart(true)
            .ingressChannel("aeron:udp?term-length=64k")
            .logChannel("aeron:udp?term-length=256k")
            .replicationChannel("aeron:udp?endpoint=" + voter.host() + ":0")
            .archiveContext(archiveClient.clone())
            .serviceCount(1)
            .maxConcurrentSessions(MAX_SESSIONS)
            .leaderHeartbeatTimeoutNs(LEADER_HEARTBEAT_TIMEOUT_NS)
            .leaderHeartbeatIntervalNs(LEADER_HEARTBEAT_INTERVAL_NS)
            .electionTimeoutNs(ELECTION_TIMEOUT_NS)
            .startupCanvassTimeoutNs(STARTUP_CANVASS_TIMEOUT_NS)
            .sessionTimeoutNs(SESSION_TIMEOUT_NS)
            .idleStrategySupplier(idle)
            .errorHandler(this::onError);
        driver = ClusteredMediaDriver.launch(config.driverCustomizer().apply(driverContext), archiveContext, consensus);
        final MembershipStateMachine.Settings settings = new MembershipStateMachine.Settings(
            config.members().keySet().stream().mapToInt(Integer::intValue).toArray(),
            TimeUnit.NANOSECONDS.toMillis(config.leaseNs()),
            TimeUnit.NANOSECONDS.toMillis(config.leaseMarginNs()),
            TimeUnit.NANOSECONDS.toMillis(config.absentTimeoutNs()),
            TimeUnit.NANOSECONDS.toMillis(config.suspicionNs()),
            TimeUnit.NANOSECONDS.toMillis(config.leaseRenewIntervalNs()));
        container = ClusteredServiceContainer.launch(new ClusteredServiceContainer.Context()
            .aeronDirectoryName(aeronDirectory)
            .archiveContext(archiveClient.clone())
            .clusterDir(clusterDir)
            .clusteredService(new MembershipService(settings, EXPIRY_TICK_MS))
            .serviceId(0)
            .idleStrategySupplier(idle)
            .errorHandler(this::onError));
        LOG.log(System.Logger.Level.INFO, () -> "quorum voter " + voterId + " (member " + memberIndex + ") started on " +
            voter.host() + ":" + voter.port() + ".." + (voter.port() + 4));
    }

    /**
     * The voter's threads back off to 5 ms parks: membership traffic is a renewal per node every 200 ms and
     * heartbeats every 100 ms, and on a small machine each wake-up of an idle voter thread is a slice taken from the
     * node's own busy threads.
     */
    static IdleStrategy idleStrategy()
    {
        return new BackoffIdleStrategy(10, 5, TimeUnit.MICROSECONDS.toNanos(10), IDLE_MAX_PARK_NS);
    }

    private void onError(final Throwable error)
    {
        LOG.log(System.Logger.Level.WARNING, "quorum voter " + voterId + ": " + error, error);
    }

    /** @return the voter's id. */
    public int voterId()
    {
        return voterId;
    }

    /**
     * A client context for the quorum: ingress to every voter, egress to this host. The caller sets the Aeron
     * client (or directory) and the egress listener.
     *
     * @param config    the cluster's config.
     * @param egressHost the host the voters answer to.
     * @return an unconcluded context, to clone for each connection attempt.
     */
    public static AeronCluster.Context clientContext(final ClusterConfig config, final String egressHost)
    {
        final List<String> endpoints = new ArrayList<>();
        for (final Map.Entry<Integer, Member> voter : config.voters().entrySet())
        {
            endpoints.add(memberIndex(config, voter.getKey()) + "=" + voter.getValue().host() + ":" +
                voter.getValue().port());
        }
        return new AeronCluster.Context()
            .ingressChannel("aeron:udp?term-length=64k")
            .ingressEndpoints(String.join(",", endpoints))
            .egressChannel("aeron:udp?endpoint=" + egressHost + ":0|term-length=64k")
            .messageTimeoutNs(TimeUnit.SECONDS.toNanos(2));
    }

    /** Aeron Cluster numbers members from 0: a voter's member id is its rank among the voter ids. */
    static int memberIndex(final ClusterConfig config, final int voterId)
    {
        int index = 0;
        for (final int id : config.voters().keySet())
        {
            if (id == voterId)
            {
                return index;
            }
            index++;
        }
        throw new IllegalArgumentException("voter " + voterId + " is not configured");
    }

    static String clusterMembers(final ClusterConfig config)
    {
        final StringBuilder b = new StringBuilder();
        for (final Map.Entry<Integer, Member> entry : config.voters().entrySet())
        {
            final Member v = entry.getValue();
            final String host = v.host();
            b.append(memberIndex(config, entry.getKey()))
                .append(',').append(host).append(':').append(v.port())
                .append(',').append(host).append(':').append(v.port() + 1)
                .append(',').append(host).append(':').append(v.port() + 2)
                .append(',').append(host).append(':').append(v.port() + 3)
                .append(',').append(host).append(':').append(v.port() + 4)
                .append('|');
        }
        return b.substring(0, b.length() - 1);
    }

    private static File shmOrTmp()
    {
        final File shm = new File("/dev/shm");
        return shm.isDirectory() ? shm : new File(System.getProperty("java.io.tmpdir"));
    }

    /** Stops the service, the consensus module, the archive and the driver; deletes the voter's directories. */
    @Override
    public void close()
    {
        CloseHelper.quietCloseAll(container, driver);
        container = null;
        driver = null;
        IoUtil.delete(baseDirectory, true);
        IoUtil.delete(new File(aeronDirectory), true);
    }
}
