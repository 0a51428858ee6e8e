package dev.fusion.h2;

import dev.fusion.cluster.LocalCluster;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.Subscriber;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An H2 source under a multi-threaded workload on related tables (one without a primary key, a DDL change
 * mid-run), captured by triggers and applied into another H2 database by 8 workers: the two end identical, table
 * by table, by content.
 */
class H2ReplicationTest
{
    @Test
    void aReplicaAppliedInParallelEndsIdenticalToTheSource(@TempDir final Path dir) throws Exception
    {
        final String source = "jdbc:h2:mem:source-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        final String replica = "jdbc:h2:mem:replica-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        H2Workload.schema(source);
        H2Workload.schema(replica);
        try (LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 4096);
             H2Apply apply = new H2Apply(replica, 10);
             ParallelApplier applier = new ParallelApplier(apply, 8, true, 256, 100_000, apply.watermark());
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 1024);
             Connection admin = DriverManager.getConnection(source))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            final H2Capture capture = H2Capture.open(publisher, 1, admin);
            final H2Workload workload = new H2Workload(source, capture);
            workload.seed();
            workload.run(4, 150, 0, 300);
            assertThat(workload.failures).isEmpty();
            final long last = capture.position();
            assertThat(applier.awaitWatermark(last, 60_000)).as("caught up; failure %s", applier.failure()).isTrue();
            assertThat(apply.watermark()).isEqualTo(last);
            assertThat(applier.barriers()).isNotEmpty();
            for (final String table : H2Workload.TABLES)
            {
                assertThat(H2Workload.content(replica, table)).as("table %s", table)
                    .isEqualTo(H2Workload.content(source, table)).isNotEmpty();
            }
            assertThat(H2Workload.content(replica, "AUDIT").stream().anyMatch(r -> r.contains("after-ddl"))).isTrue();
        }
    }
}
