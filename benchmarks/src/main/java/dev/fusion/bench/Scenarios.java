package dev.fusion.bench;

import dev.fusion.bench.cachefusion.CacheFusionScenario;
import dev.fusion.bench.failover.FailoverScenario;
import dev.fusion.bench.grd.GrdScenario;
import dev.fusion.bench.h2.H2Scenario;
import dev.fusion.bench.replication.ReplicationScenario;
import dev.fusion.bench.transport.TransportScenario;

import java.util.List;

/** The scenario benchmarks {@code ./fusion bench NAME} runs. */
final class Scenarios
{
    private Scenarios()
    {
    }

    static List<String> names()
    {
        return List.of("transport", "grd", "cachefusion", "replication", "h2", "failover");
    }

    static void run(final String name, final Options options) throws Exception
    {
        switch (name)
        {
            case "transport":
                new TransportScenario(options.seconds(TransportScenario.DEFAULT_SECONDS)).run();
                break;
            case "grd":
                new GrdScenario(options.seconds(GrdScenario.DEFAULT_SECONDS), options.quorum()).run();
                break;
            case "cachefusion":
                new CacheFusionScenario(options.seconds(CacheFusionScenario.DEFAULT_SECONDS), options.quorum()).run();
                break;
            case "h2":
                new H2Scenario(options.seconds(H2Scenario.DEFAULT_SECONDS)).run();
                break;
            case "failover":
                new FailoverScenario(options.kills(FailoverScenario.DEFAULT_KILLS)).run();
                break;
            case "replication":
                new ReplicationScenario(options.seconds(ReplicationScenario.DEFAULT_SECONDS), options.plot()).run();
                break;
            default:
                throw new IllegalArgumentException("unknown scenario '" + name + "'; known: " + names());
        }
    }
}
