package dev.fusion.cluster;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The configuration of one cluster node: who it is, who the members are, the media driver, the failure
 * detector's timeouts and the transport's batching, compression and buffer sizes.
 * <p>
 * Build it in code with {@link #builder()}, or load it from a {@code .properties} or {@code .yaml} file with
 * {@link #load(Path)}; both take the same keys (the builder's method names). Every value is validated when the
 * config is built: a bad one raises a {@link ConfigException} naming the key and the accepted range.
 */
public final class ClusterConfig
{
    /** Message types below this are reserved for the transport itself. */
    public static final int FIRST_USER_MESSAGE_TYPE = 16;
    /** The largest message type a handler can be registered for. */
    public static final int MAX_MESSAGE_TYPE = 4095;

    private final int nodeId;
    private final Map<Integer, Member> members;
    private final boolean embeddedMediaDriver;
    private final String aeronDirectory;
    private final int mtu;
    private final int controlTermLength;
    private final int bulkTermLength;
    private final int controlQueueBytes;
    private final int bulkQueueBytes;
    private final int maxMessageLength;
    private final int maxBatchBytes;
    private final int batchMin;
    private final int batchMax;
    private final long highBudgetNs;
    private final long normalBudgetNs;
    private final long lowBudgetNs;
    private final long linkCapacityBytesPerSecond;
    private final int compressionThreshold;
    private final double compressionMinSaving;
    private final int compressionAcceleration;
    private final boolean compressIdleLink;
    private final long heartbeatIntervalNs;
    private final long suspectTimeoutNs;
    private final long deadTimeoutNs;
    private final long absentTimeoutNs;
    private final long idleMaxParkNs;
    private final IdleMode idleMode;
    private final ThreadFactory agentThreadFactory;
    private final long driverTimeoutMs;
    private final int socketBufferBytes;
    private final boolean driverOnAgentThread;
    private final Boolean driverOnAgentThreadSetting;
    private final Map<Integer, Member> voters;
    private final long leaseNs;
    private final long leaseMarginNs;
    private final long leaseRenewIntervalNs;
    private final String quorumDirectory;
    private final boolean favourAvailability;
    private final java.util.function.UnaryOperator<io.aeron.driver.MediaDriver.Context> driverCustomizer;

    /**
     * Below this many processors {@code driverOnAgentThread=auto} runs the embedded driver on the node's thread:
     * its own SHARED thread makes two busy threads per node, and on a small machine a message then waits for a
     * scheduler slice at every hand-off (measured in docs/benchmarks.md).
     */
    public static final int AUTO_INVOKER_BELOW_CORES = 4;

    /** @return true when this machine has fewer than {@link #AUTO_INVOKER_BELOW_CORES} processors. */
    public static boolean fewCores()
    {
        return Runtime.getRuntime().availableProcessors() < AUTO_INVOKER_BELOW_CORES;
    }

    private ClusterConfig(final Builder b)
    {
        nodeId = b.nodeId;
        members = Collections.unmodifiableMap(new TreeMap<>(b.members));
        embeddedMediaDriver = b.embeddedMediaDriver;
        aeronDirectory = b.aeronDirectory;
        mtu = b.mtu;
        controlTermLength = b.controlTermLength;
        bulkTermLength = b.bulkTermLength;
        controlQueueBytes = b.controlQueueBytes;
        bulkQueueBytes = b.bulkQueueBytes;
        maxMessageLength = b.maxMessageLength;
        maxBatchBytes = b.maxBatchBytes;
        batchMin = b.batchMin;
        batchMax = b.batchMax;
        highBudgetNs = TimeUnit.MICROSECONDS.toNanos(b.highBudgetUs);
        normalBudgetNs = TimeUnit.MICROSECONDS.toNanos(b.normalBudgetUs);
        lowBudgetNs = TimeUnit.MICROSECONDS.toNanos(b.lowBudgetUs);
        linkCapacityBytesPerSecond = b.linkCapacityBytesPerSecond;
        compressionThreshold = b.compressionThreshold;
        compressionMinSaving = b.compressionMinSaving;
        compressionAcceleration = b.compressionAcceleration;
        compressIdleLink = b.compressIdleLink;
        heartbeatIntervalNs = TimeUnit.MILLISECONDS.toNanos(b.heartbeatIntervalMs);
        suspectTimeoutNs = TimeUnit.MILLISECONDS.toNanos(b.suspectTimeoutMs);
        deadTimeoutNs = TimeUnit.MILLISECONDS.toNanos(b.deadTimeoutMs);
        absentTimeoutNs = TimeUnit.MILLISECONDS.toNanos(b.absentTimeoutMs);
        idleMaxParkNs = TimeUnit.MICROSECONDS.toNanos(b.idleMaxParkUs);
        idleMode = b.idleMode;
        agentThreadFactory = b.agentThreadFactory;
        driverTimeoutMs = b.driverTimeoutMs;
        socketBufferBytes = b.socketBufferBytes;
        driverOnAgentThreadSetting = b.driverOnAgentThread;
        voters = Collections.unmodifiableMap(new TreeMap<>(b.voters));
        leaseNs = TimeUnit.MILLISECONDS.toNanos(b.leaseMs);
        leaseMarginNs = TimeUnit.MILLISECONDS.toNanos(b.leaseMarginMs);
        leaseRenewIntervalNs = TimeUnit.MILLISECONDS.toNanos(b.leaseRenewIntervalMs);
        quorumDirectory = b.quorumDirectory;
        favourAvailability = b.favourAvailability;
        driverCustomizer = b.driverCustomizer;
        driverOnAgentThread = null != b.driverOnAgentThread ? b.driverOnAgentThread : embeddedMediaDriver && fewCores();
    }

    /** @return a builder with the defaults. */
    public static Builder builder()
    {
        return new Builder();
    }

    /** @return a builder holding this config's values, to derive a variant. */
    public Builder toBuilder()
    {
        final Builder b = new Builder();
        b.nodeId = nodeId;
        b.members.putAll(members);
        b.embeddedMediaDriver = embeddedMediaDriver;
        b.aeronDirectory = aeronDirectory;
        b.mtu = mtu;
        b.controlTermLength = controlTermLength;
        b.bulkTermLength = bulkTermLength;
        b.controlQueueBytes = controlQueueBytes;
        b.bulkQueueBytes = bulkQueueBytes;
        b.maxMessageLength = maxMessageLength;
        b.maxBatchBytes = maxBatchBytes;
        b.batchMin = batchMin;
        b.batchMax = batchMax;
        b.highBudgetUs = TimeUnit.NANOSECONDS.toMicros(highBudgetNs);
        b.normalBudgetUs = TimeUnit.NANOSECONDS.toMicros(normalBudgetNs);
        b.lowBudgetUs = TimeUnit.NANOSECONDS.toMicros(lowBudgetNs);
        b.linkCapacityBytesPerSecond = linkCapacityBytesPerSecond;
        b.compressionThreshold = compressionThreshold;
        b.compressionMinSaving = compressionMinSaving;
        b.compressionAcceleration = compressionAcceleration;
        b.compressIdleLink = compressIdleLink;
        b.heartbeatIntervalMs = TimeUnit.NANOSECONDS.toMillis(heartbeatIntervalNs);
        b.suspectTimeoutMs = TimeUnit.NANOSECONDS.toMillis(suspectTimeoutNs);
        b.deadTimeoutMs = TimeUnit.NANOSECONDS.toMillis(deadTimeoutNs);
        b.absentTimeoutMs = TimeUnit.NANOSECONDS.toMillis(absentTimeoutNs);
        b.idleMaxParkUs = TimeUnit.NANOSECONDS.toMicros(idleMaxParkNs);
        b.idleMode = idleMode;
        b.agentThreadFactory = agentThreadFactory;
        b.driverTimeoutMs = driverTimeoutMs;
        b.socketBufferBytes = socketBufferBytes;
        b.driverOnAgentThread = driverOnAgentThreadSetting;
        b.voters.putAll(voters);
        b.leaseMs = TimeUnit.NANOSECONDS.toMillis(leaseNs);
        b.leaseMarginMs = TimeUnit.NANOSECONDS.toMillis(leaseMarginNs);
        b.leaseRenewIntervalMs = TimeUnit.NANOSECONDS.toMillis(leaseRenewIntervalNs);
        b.quorumDirectory = quorumDirectory;
        b.favourAvailability = favourAvailability;
        b.driverCustomizer = driverCustomizer;
        return b;
    }

    /**
     * Loads a config from a {@code .properties}, {@code .yaml} or {@code .yml} file.
     * Members are given as {@code members=1@host:port,2@host:port} in properties, or as a map
     * {@code members: {1: "host:port"}} in YAML.
     *
     * @param file the file.
     * @return the validated config.
     * @throws ConfigException on an unknown key or a bad value; {@link java.io.UncheckedIOException} when unreadable.
     */
    public static ClusterConfig load(final Path file)
    {
        final String name = file.getFileName().toString();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8))
        {
            final Map<String, Object> values = new LinkedHashMap<>();
            if (name.endsWith(".yaml") || name.endsWith(".yml"))
            {
                final Object root = new Yaml(new SafeConstructor(new LoaderOptions())).load(reader);
                if (root != null && !(root instanceof Map))
                {
                    throw new ConfigException(file.toString(), "a YAML config must be a mapping of keys to values");
                }
                if (root != null)
                {
                    ((Map<?, ?>)root).forEach((k, v) -> values.put(String.valueOf(k), v));
                }
            }
            else
            {
                final Properties properties = new Properties();
                properties.load(reader);
                properties.stringPropertyNames().forEach(k -> values.put(k, properties.getProperty(k)));
            }
            return fromMap(values);
        }
        catch (final IOException ex)
        {
            throw new java.io.UncheckedIOException("cannot read config " + file, ex);
        }
    }

    /**
     * Loads a config from properties (same keys as {@link #load(Path)}).
     *
     * @param in a properties stream.
     * @return the validated config.
     * @throws IOException when the stream cannot be read.
     */
    public static ClusterConfig fromProperties(final InputStream in) throws IOException
    {
        final Properties properties = new Properties();
        properties.load(in);
        final Map<String, Object> values = new LinkedHashMap<>();
        properties.stringPropertyNames().forEach(k -> values.put(k, properties.getProperty(k)));
        return fromMap(values);
    }

    /**
     * Builds a config from keys and values (strings, numbers, booleans, or a map for {@code members}).
     *
     * @param values the keys and values.
     * @return the validated config.
     */
    public static ClusterConfig fromMap(final Map<String, Object> values)
    {
        final Builder b = builder();
        values.forEach((key, value) -> ConfigKeys.apply(b, key, value));
        return b.build();
    }

    /** @return this node's id. */
    public int nodeId()
    {
        return nodeId;
    }

    /** @return every member, this node included, by id. */
    public Map<Integer, Member> members()
    {
        return members;
    }

    /** @return this node's member entry. */
    public Member self()
    {
        return members.get(nodeId);
    }

    /** @return true to launch an embedded media driver (SHARED threading, own directory, deleted on start). */
    public boolean embeddedMediaDriver()
    {
        return embeddedMediaDriver;
    }

    /** @return the Aeron directory, or null to let the node pick a unique one for its embedded driver. */
    public String aeronDirectory()
    {
        return aeronDirectory;
    }

    /** @return the UDP MTU of the node's publications. */
    public int mtu()
    {
        return mtu;
    }

    /** @return the term length of the control stream's publications. */
    public int controlTermLength()
    {
        return controlTermLength;
    }

    /** @return the term length of the bulk stream's publications. */
    public int bulkTermLength()
    {
        return bulkTermLength;
    }

    /** @return the capacity of each per-peer send queue of a control priority (CRITICAL, HIGH). */
    public int controlQueueBytes()
    {
        return controlQueueBytes;
    }

    /** @return the capacity of each per-peer send queue of a bulk priority (NORMAL, LOW). */
    public int bulkQueueBytes()
    {
        return bulkQueueBytes;
    }

    /** @return the largest message payload accepted on the bulk priorities. */
    public int maxMessageLength()
    {
        return maxMessageLength;
    }

    /** @return the largest message payload accepted on the control priorities. */
    public int maxControlMessageLength()
    {
        return Math.min(maxMessageLength, Math.min(controlQueueBytes, controlTermLength) / 8 - 64);
    }

    /** @return the most payload bytes one batch frame carries. */
    public int maxBatchBytes()
    {
        return maxBatchBytes;
    }

    /** @return the smallest batch size (messages) the adaptive controller uses. */
    public int batchMin()
    {
        return batchMin;
    }

    /** @return the largest batch size (messages) the adaptive controller uses; 1 turns batching off. */
    public int batchMax()
    {
        return batchMax;
    }

    /**
     * @param priority a batched priority.
     * @return the longest a message of that priority may wait in a batch, in nanoseconds.
     */
    public long batchBudgetNs(final Priority priority)
    {
        switch (priority)
        {
            case HIGH: return highBudgetNs;
            case NORMAL: return normalBudgetNs;
            case LOW: return lowBudgetNs;
            default: return 0;
        }
    }

    /** @return the link capacity the batching controller measures the send rate against. */
    public long linkCapacityBytesPerSecond()
    {
        return linkCapacityBytesPerSecond;
    }

    /** @return the frame payload size from which LZ4 is tried; 0 turns compression off. */
    public int compressionThreshold()
    {
        return compressionThreshold;
    }

    /** @return the fraction LZ4 must save for the compressed form to be sent. */
    public double compressionMinSaving()
    {
        return compressionMinSaving;
    }

    /**
     * @return LZ4's acceleration: 1 compresses best, higher values faster and less (used where LZ4 runs natively,
     * ignored by its pure-Java fallback).
     */
    public int compressionAcceleration()
    {
        return compressionAcceleration;
    }

    /**
     * @return true when bulk-stream messages and frames are compressed even while the link to the peer is idle;
     * false (the default) compresses them only while it is busy (a send queue backlog, back pressure, or a send
     * rate above half {@link #linkCapacityBytesPerSecond}): on an idle link compressing and inflating an 8 KiB
     * page costs more time than the bytes it saves take on the wire, and a lone block image waits for neither.
     */
    public boolean compressIdleLink()
    {
        return compressIdleLink;
    }

    /** @return the heartbeat interval in nanoseconds. */
    public long heartbeatIntervalNs()
    {
        return heartbeatIntervalNs;
    }

    /** @return the silence after which a member is suspected, in nanoseconds. */
    public long suspectTimeoutNs()
    {
        return suspectTimeoutNs;
    }

    /** @return the silence after which a member is declared dead and fenced, in nanoseconds. */
    public long deadTimeoutNs()
    {
        return deadTimeoutNs;
    }

    /**
     * @return how long after this node starts a member never heard from is declared dead (and off the master
     * ring) until it appears, in nanoseconds.
     */
    public long absentTimeoutNs()
    {
        return absentTimeoutNs;
    }

    /** @return the longest the transport agent parks when idle, in nanoseconds. */
    public long idleMaxParkNs()
    {
        return idleMaxParkNs;
    }

    /** @return what the node's thread (and the embedded driver's SHARED thread) does when idle. */
    public IdleMode idleMode()
    {
        return idleMode;
    }

    /** @return makes the thread the node's agent runs on (default: a plain thread). */
    public ThreadFactory agentThreadFactory()
    {
        return agentThreadFactory;
    }

    /** @return the media driver liveness timeout, in milliseconds. */
    public long driverTimeoutMs()
    {
        return driverTimeoutMs;
    }

    /** @return the UDP socket send and receive buffer size asked of the embedded driver (the OS may cap it). */
    public int socketBufferBytes()
    {
        return socketBufferBytes;
    }

    /**
     * @return true when the embedded driver runs in Aeron's INVOKER mode on the node's thread (one thread per
     * node in all); false (the default) for its own SHARED-mode thread. With {@code auto}, true with the embedded
     * driver on a machine with fewer than {@link #AUTO_INVOKER_BELOW_CORES} processors.
     */
    public boolean driverOnAgentThread()
    {
        return driverOnAgentThread;
    }

    /**
     * @return the voting members of the membership quorum (Aeron Cluster), by voter id; empty when membership is
     * decided locally by each node's failure detector (no protection against partitions: see
     * docs/operations.md). A voter whose id is a member's runs inside that member's process; any other is a
     * witness ({@code ./fusion witness}). Each voter uses five UDP ports from its port: ingress, consensus, log,
     * catch-up and archive control.
     */
    public Map<Integer, Member> voters()
    {
        return voters;
    }

    /**
     * @return true when this config's node id is a voter's that is no member's: a witness, run with
     * {@code ./fusion witness} ({@link dev.fusion.cluster.quorum.Witness}), never as a {@link ClusterNode}.
     */
    public boolean isWitness()
    {
        return !members.containsKey(nodeId) && voters.containsKey(nodeId);
    }

    /**
     * @return whether a two-member cluster may run without voters: each node then decides membership alone and, cut
     * off from the other, goes on as if it were dead (both sides write). Off by default: two members need a witness.
     */
    public boolean favourAvailability()
    {
        return favourAvailability;
    }

    /** @return true when membership is decided by the voters' quorum rather than locally. */
    public boolean quorumMembership()
    {
        return !voters.isEmpty();
    }

    /** @return how long a committed renewal keeps this node's lease, from when the node sent it. */
    public long leaseNs()
    {
        return leaseNs;
    }

    /** @return how much longer than the lease the quorum waits before it declares a silent node dead. */
    public long leaseMarginNs()
    {
        return leaseMarginNs;
    }

    /** @return how often a node renews its lease. */
    public long leaseRenewIntervalNs()
    {
        return leaseRenewIntervalNs;
    }

    /**
     * With a quorum, how long a node's report that it cannot hear a live peer must stand before the quorum evicts
     * one side of that link: a peer silent for {@code suspectTimeoutMs} is reported, again with every renewal, and
     * the quorum acts once the silence has lasted {@code deadTimeoutMs} (at least five renewals).
     *
     * @return the time in nanoseconds.
     */
    public long suspicionNs()
    {
        return Math.max(5 * leaseRenewIntervalNs, deadTimeoutNs - suspectTimeoutNs);
    }

    /**
     * @return applied last to the context of every media driver this node embeds (its own and, on a voter, the
     * voter's): any Aeron driver option the config has no key for.
     */
    public java.util.function.UnaryOperator<io.aeron.driver.MediaDriver.Context> driverCustomizer()
    {
        return driverCustomizer;
    }

    /** @return where a voter keeps its Raft log and archive; null: a directory under java.io.tmpdir. */
    public String quorumDirectory()
    {
        return quorumDirectory;
    }

    @Override
    public String toString()
    {
        return "ClusterConfig{nodeId=" + nodeId + ", members=" + members.values() +
            (voters.isEmpty() ? "" : ", voters=" + voters.values()) +
            ", embeddedMediaDriver=" + embeddedMediaDriver + ", batch=" + batchMin + ".." + batchMax +
            ", compressionThreshold=" + compressionThreshold + '}';
    }

    /** Collects and validates the values of a {@link ClusterConfig}; every setter has a sane default. */
    public static final class Builder
    {
        int nodeId = -1;
        final Map<Integer, Member> members = new TreeMap<>();
        boolean embeddedMediaDriver = true;
        String aeronDirectory;
        int mtu = 1408;
        int controlTermLength = 1 << 20;
        int bulkTermLength = 4 << 20;
        int controlQueueBytes = 256 << 10;
        int bulkQueueBytes = 2 << 20;
        int maxMessageLength = 128 << 10;
        int maxBatchBytes = 64 << 10;
        int batchMin = 10;
        int batchMax = 1000;
        long highBudgetUs = 50;
        long normalBudgetUs = 500;
        long lowBudgetUs = 2000;
        long linkCapacityBytesPerSecond = 1L << 30;
        int compressionThreshold = 4096;
        double compressionMinSaving = 0.10;
        int compressionAcceleration = 2;
        boolean compressIdleLink;
        long heartbeatIntervalMs = 100;
        long suspectTimeoutMs = 500;
        long deadTimeoutMs = 2000;
        long absentTimeoutMs = 10_000;
        long idleMaxParkUs = 100;
        IdleMode idleMode = IdleMode.BACKOFF;
        ThreadFactory agentThreadFactory = Thread::new;
        long driverTimeoutMs = 10_000;
        int socketBufferBytes = 2 << 20;
        /** null: auto. */
        Boolean driverOnAgentThread = Boolean.FALSE;
        final Map<Integer, Member> voters = new TreeMap<>();
        long leaseMs = 3000;
        long leaseMarginMs = 1000;
        long leaseRenewIntervalMs = 200;
        String quorumDirectory;
        boolean favourAvailability;
        java.util.function.UnaryOperator<io.aeron.driver.MediaDriver.Context> driverCustomizer = c -> c;

        private Builder()
        {
        }

        /** @return the node id set so far, -1 when none (lets a customizer tell the nodes of a cluster apart). */
        public int nodeId()
        {
            return nodeId;
        }

        /** @param id this node's id, 1..65535. @return this */
        public Builder nodeId(final int id)
        {
            nodeId = id;
            return this;
        }

        /** @param id a member's id. @param host its host. @param port its UDP port. @return this */
        public Builder member(final int id, final String host, final int port)
        {
            members.put(id, new Member(id, host, port));
            return this;
        }

        /**
         * Adds a voting member of the membership quorum (see {@link ClusterConfig#voters()}).
         *
         * @param id   the voter id: a member's id (the voter runs in that node's process) or another (a witness).
         * @param host its host.
         * @param port the first of its five UDP ports.
         * @return this
         */
        public Builder voter(final int id, final String host, final int port)
        {
            voters.put(id, new Member(id, host, port));
            return this;
        }

        /**
         * @param lease    how long a committed renewal keeps a node's lease (ms).
         * @param margin   how much longer the quorum waits before declaring a silent node dead (ms).
         * @param interval how often a node renews (ms).
         * @return this
         */
        public Builder leaseMs(final long lease, final long margin, final long interval)
        {
            leaseMs = lease;
            leaseMarginMs = margin;
            leaseRenewIntervalMs = interval;
            return this;
        }

        /**
         * In code only: adjusts the context of every media driver the node embeds (its own and its voter's), after
         * Fusion has set its options; for driver options that have no key (e.g. Aeron's debug channel endpoints,
         * with which the demo cuts a node off).
         *
         * @param customizer returns the context to launch with.
         * @return this
         */
        public Builder driverCustomizer(final java.util.function.UnaryOperator<io.aeron.driver.MediaDriver.Context> customizer)
        {
            driverCustomizer = java.util.Objects.requireNonNull(customizer, "customizer");
            return this;
        }

        /**
         * @param availability true to let a two-member cluster run without voters, each node deciding membership
         *                     alone (see {@link ClusterConfig#favourAvailability()}).
         * @return this
         */
        public Builder favourAvailability(final boolean availability)
        {
            favourAvailability = availability;
            return this;
        }

        /** @param dir where a voter keeps its Raft log and archive. @return this */
        public Builder quorumDirectory(final String dir)
        {
            quorumDirectory = dir;
            return this;
        }

        /** @param list members to add. @return this */
        public Builder members(final List<Member> list)
        {
            list.forEach(m -> members.put(m.id(), m));
            return this;
        }

        /** @param embedded true to launch an embedded media driver. @return this */
        public Builder embeddedMediaDriver(final boolean embedded)
        {
            embeddedMediaDriver = embedded;
            return this;
        }

        /** @param dir the Aeron directory (required with an external driver). @return this */
        public Builder aeronDirectory(final String dir)
        {
            aeronDirectory = dir;
            return this;
        }

        /** @param bytes UDP MTU, 64..65504, a multiple of 32. @return this */
        public Builder mtu(final int bytes)
        {
            mtu = bytes;
            return this;
        }

        /** @param bytes control term length, a power of two, 64 KiB..64 MiB. @return this */
        public Builder controlTermLength(final int bytes)
        {
            controlTermLength = bytes;
            return this;
        }

        /** @param bytes bulk term length, a power of two, 64 KiB..1 GiB. @return this */
        public Builder bulkTermLength(final int bytes)
        {
            bulkTermLength = bytes;
            return this;
        }

        /** @param bytes per-peer CRITICAL/HIGH send queue capacity, a power of two. @return this */
        public Builder controlQueueBytes(final int bytes)
        {
            controlQueueBytes = bytes;
            return this;
        }

        /** @param bytes per-peer NORMAL/LOW send queue capacity, a power of two. @return this */
        public Builder bulkQueueBytes(final int bytes)
        {
            bulkQueueBytes = bytes;
            return this;
        }

        /** @param bytes the largest message payload. @return this */
        public Builder maxMessageLength(final int bytes)
        {
            maxMessageLength = bytes;
            return this;
        }

        /** @param bytes the most payload bytes in one batch frame. @return this */
        public Builder maxBatchBytes(final int bytes)
        {
            maxBatchBytes = bytes;
            return this;
        }

        /** @param min smallest adaptive batch size. @param max largest (1 turns batching off). @return this */
        public Builder batchSize(final int min, final int max)
        {
            batchMin = min;
            batchMax = max;
            return this;
        }

        /** @param high HIGH budget. @param normal NORMAL budget. @param low LOW budget, all in us. @return this */
        public Builder batchBudgetsUs(final long high, final long normal, final long low)
        {
            highBudgetUs = high;
            normalBudgetUs = normal;
            lowBudgetUs = low;
            return this;
        }

        /** @param bytesPerSecond the link capacity batching measures against. @return this */
        public Builder linkCapacityBytesPerSecond(final long bytesPerSecond)
        {
            linkCapacityBytesPerSecond = bytesPerSecond;
            return this;
        }

        /** @param bytes frame size from which LZ4 is tried; 0 turns it off. @return this */
        public Builder compressionThreshold(final int bytes)
        {
            compressionThreshold = bytes;
            return this;
        }

        /** @param fraction the saving LZ4 must reach, 0..0.9. @return this */
        public Builder compressionMinSaving(final double fraction)
        {
            compressionMinSaving = fraction;
            return this;
        }

        /**
         * @param acceleration LZ4's acceleration, 1..64: 1 compresses best; the default 2 compressed 8 KiB pages of
         *                     rows ~18% faster for a ratio of 1.54 instead of 1.58 (docs/benchmarks.md).
         * @return this
         */
        public Builder compressionAcceleration(final int acceleration)
        {
            compressionAcceleration = acceleration;
            return this;
        }

        /**
         * @param always compress bulk messages even while the link is idle (default false: only while it is busy).
         * @return this
         */
        public Builder compressIdleLink(final boolean always)
        {
            compressIdleLink = always;
            return this;
        }

        /** @param ms heartbeat interval. @return this */
        public Builder heartbeatIntervalMs(final long ms)
        {
            heartbeatIntervalMs = ms;
            return this;
        }

        /** @param ms silence before suspicion. @return this */
        public Builder suspectTimeoutMs(final long ms)
        {
            suspectTimeoutMs = ms;
            return this;
        }

        /** @param ms silence before a member is declared dead. @return this */
        public Builder deadTimeoutMs(final long ms)
        {
            deadTimeoutMs = ms;
            return this;
        }

        /**
         * @param ms how long after this node starts a member never heard from is declared dead (so a node that
         *           starts while another is down does not wait for it or route to it); it joins when it appears.
         * @return this
         */
        public Builder absentTimeoutMs(final long ms)
        {
            absentTimeoutMs = ms;
            return this;
        }

        /** @param us the longest the idle transport agent parks. @return this */
        public Builder idleMaxParkUs(final long us)
        {
            idleMaxParkUs = us;
            return this;
        }

        /**
         * @param mode what the node's thread (and the embedded driver's SHARED thread) does when a duty cycle
         *             found no work; {@link IdleMode#BACKOFF} by default.
         * @return this
         */
        public Builder idleMode(final IdleMode mode)
        {
            idleMode = Objects.requireNonNull(mode, "idleMode");
            return this;
        }

        /**
         * Code only (no config key): where the node's agent thread comes from, e.g. a factory whose threads pin
         * themselves to a CPU. The thread is named {@code fusion-node-<id>} after it is made.
         *
         * @param factory makes the node's thread; it must not start it.
         * @return this
         */
        public Builder agentThreadFactory(final ThreadFactory factory)
        {
            agentThreadFactory = Objects.requireNonNull(factory, "agentThreadFactory");
            return this;
        }

        /** @param ms media driver liveness timeout. @return this */
        public Builder driverTimeoutMs(final long ms)
        {
            driverTimeoutMs = ms;
            return this;
        }

        /** @param bytes UDP socket buffer size for the embedded driver, 64 KiB..64 MiB. @return this */
        public Builder socketBufferBytes(final int bytes)
        {
            socketBufferBytes = bytes;
            return this;
        }

        /**
         * @param onAgentThread true to run the embedded driver's duty cycle on the node's thread (Aeron INVOKER
         *                      mode: one busy thread per node); false (the default) for a SHARED driver thread.
         * @return this
         */
        public Builder driverOnAgentThread(final boolean onAgentThread)
        {
            driverOnAgentThread = onAgentThread;
            return this;
        }

        /**
         * The embedded driver on the node's thread when the machine has fewer than
         * {@link #AUTO_INVOKER_BELOW_CORES} processors, on a SHARED thread of its own otherwise (config files:
         * {@code driverOnAgentThread=auto}).
         *
         * @return this
         */
        public Builder driverOnAgentThreadAuto()
        {
            driverOnAgentThread = null;
            return this;
        }

        /**
         * @return the validated config.
         * @throws ConfigException naming the first bad field and its accepted range.
         */
        public ClusterConfig build()
        {
            range("nodeId", nodeId, 1, 65535);
            if (members.isEmpty())
            {
                throw new ConfigException("members", "none given", "at least this node, as id -> host:port");
            }
            members.values().forEach(m ->
            {
                range("members (id)", m.id(), 1, 65535);
                range("members (port of node " + m.id() + ")", m.port(), 1, 65534);
                if (m.host() == null || m.host().isBlank())
                {
                    throw new ConfigException("members", "node " + m.id() + " has no host", "host:port");
                }
            });
            if (!members.containsKey(nodeId) && !voters.containsKey(nodeId))
            {
                throw new ConfigException("nodeId", String.valueOf(nodeId), "one of the member ids " + members.keySet() +
                    (voters.isEmpty() ? "" : " or, for a witness, of the voter ids " + voters.keySet()));
            }
            if (!embeddedMediaDriver && (aeronDirectory == null || aeronDirectory.isBlank()))
            {
                throw new ConfigException("aeronDirectory", "missing", "the external media driver's directory");
            }
            if (Boolean.TRUE.equals(driverOnAgentThread) && !embeddedMediaDriver)
            {
                throw new ConfigException("driverOnAgentThread", "true", "only with embeddedMediaDriver=true");
            }
            range("mtu", mtu, 64, 65504);
            if (mtu % 32 != 0)
            {
                throw new ConfigException("mtu", String.valueOf(mtu), "a multiple of 32");
            }
            powerOfTwo("controlTermLength", controlTermLength, 64 << 10, 64 << 20);
            powerOfTwo("bulkTermLength", bulkTermLength, 64 << 10, 1 << 30);
            powerOfTwo("controlQueueBytes", controlQueueBytes, 16 << 10, 64 << 20);
            powerOfTwo("bulkQueueBytes", bulkQueueBytes, 16 << 10, 1 << 30);
            final int frameOverhead = 64;
            range("maxMessageLength", maxMessageLength, 1,
                Math.min(bulkQueueBytes / 8, bulkTermLength / 8) - frameOverhead);
            range("maxBatchBytes", maxBatchBytes, 1024,
                Math.min(controlTermLength / 8, bulkTermLength / 8) - frameOverhead);
            range("batchMin", batchMin, 1, 65535);
            range("batchMax", batchMax, batchMin, 65535);
            range("highBudgetUs", highBudgetUs, 0, 1_000_000);
            range("normalBudgetUs", normalBudgetUs, 0, 1_000_000);
            range("lowBudgetUs", lowBudgetUs, 0, 1_000_000);
            range("linkCapacityBytesPerSecond", linkCapacityBytesPerSecond, 1 << 20, Long.MAX_VALUE);
            range("compressionThreshold", compressionThreshold, 0, Integer.MAX_VALUE);
            if (!(compressionMinSaving >= 0.0 && compressionMinSaving <= 0.9))
            {
                throw new ConfigException("compressionMinSaving", String.valueOf(compressionMinSaving), "0.0..0.9");
            }
            range("compressionAcceleration", compressionAcceleration, 1, 64);
            range("heartbeatIntervalMs", heartbeatIntervalMs, 1, 60_000);
            range("suspectTimeoutMs", suspectTimeoutMs, heartbeatIntervalMs * 2, 600_000);
            range("deadTimeoutMs", deadTimeoutMs, suspectTimeoutMs + 1, 3_600_000);
            range("absentTimeoutMs", absentTimeoutMs, deadTimeoutMs, 86_400_000);
            range("idleMaxParkUs", idleMaxParkUs, 1, 1_000_000);
            range("driverTimeoutMs", driverTimeoutMs, 1000, 3_600_000);
            range("socketBufferBytes", socketBufferBytes, 64 << 10, 64 << 20);
            if (voters.isEmpty() && members.size() == 2 && !favourAvailability)
            {
                throw new ConfigException("voters", "none for a cluster of two members", "3 voters: the two members " +
                    "and a witness (./fusion witness), so that either member can be lost and the other keeps a " +
                    "majority; or favourAvailability=true to let each node decide membership alone (both sides of a " +
                    "cut then go on writing)");
            }
            if (!voters.isEmpty())
            {
                if (voters.size() != 3 && voters.size() != 5)
                {
                    throw new ConfigException("voters", voters.size() + " given",
                        "3 or 5 (a two-node cluster adds a witness as its third voter)");
                }
                voters.values().forEach(v ->
                {
                    range("voters (id)", v.id(), 1, 65535);
                    range("voters (port of voter " + v.id() + ")", v.port(), 1, 65535 - 4);
                });
                range("leaseRenewIntervalMs", leaseRenewIntervalMs, 10, 60_000);
                range("leaseMs", leaseMs, leaseRenewIntervalMs * 3, 600_000);
                range("leaseMarginMs", leaseMarginMs, Math.max(100, leaseMs / 10), 600_000);
            }
            return new ClusterConfig(this);
        }

        private static void range(final String field, final long value, final long min, final long max)
        {
            if (value < min || value > max)
            {
                throw new ConfigException(field, String.valueOf(value), min + ".." + max);
            }
        }

        private static void powerOfTwo(final String field, final int value, final int min, final int max)
        {
            if (value < min || value > max || Integer.bitCount(value) != 1)
            {
                throw new ConfigException(field, String.valueOf(value), "a power of two, " + min + ".." + max);
            }
        }
    }
}
