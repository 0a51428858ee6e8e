package dev.fusion.bench;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.LocalCluster;

/**
 * The threading the scenarios run with unless a section compares both: the embedded driver on the node's thread
 * on a machine with fewer than {@link ClusterConfig#AUTO_INVOKER_BELOW_CORES} processors (as recommended for
 * such machines in docs/configuration.md), on a SHARED thread of its own otherwise.
 */
public final class BenchThreading
{
    private BenchThreading()
    {
    }

    /**
     * @param b a node's builder.
     * @return it, with {@code driverOnAgentThread=auto}.
     */
    public static ClusterConfig.Builder recommended(final ClusterConfig.Builder b)
    {
        return b.driverOnAgentThreadAuto();
    }

    /**
     * @param b a node's builder.
     * @return it, with {@link LocalCluster#smallMachineDefaults} and {@code driverOnAgentThread=auto}.
     */
    public static ClusterConfig.Builder smallMachine(final ClusterConfig.Builder b)
    {
        return recommended(LocalCluster.smallMachineDefaults(b));
    }
}
