package dev.fusion.h2;

import dev.fusion.cluster.LocalCluster;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;
import dev.fusion.replication.Subscriber;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An H2 source under a multi-threaded workload on related tables (one without a primary key, a DDL change
 * mid-run), captured by triggers and applied into another H2 database by 8 workers: the two end identical, table
 * by table, by content.
 */
class H2ReplicationTest
{
    private static final String SCHEMA = String.join(";",
        "CREATE TABLE ACCOUNTS(ID BIGINT PRIMARY KEY, OWNER VARCHAR(40), BALANCE DECIMAL(18,2))",
        "CREATE TABLE TRANSFERS(ID BIGINT PRIMARY KEY, FROM_ID BIGINT REFERENCES ACCOUNTS(ID), " +
            "TO_ID BIGINT REFERENCES ACCOUNTS(ID), AMOUNT DECIMAL(18,2))",
        "CREATE TABLE AUDIT(MSG VARCHAR(100), AT BIGINT)");
    private static final int ACCOUNTS = 50;

    private static void schema(final String url) throws SQLException
    {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement())
        {
            for (final String ddl : SCHEMA.split(";"))
            {
                s.execute(ddl);
            }
        }
    }

    @Test
    void aReplicaAppliedInParallelEndsIdenticalToTheSource(@TempDir final Path dir) throws Exception
    {
        final String source = "jdbc:h2:mem:source-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        final String replica = "jdbc:h2:mem:replica-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        schema(source);
        schema(replica);
        try (LocalCluster cluster = LocalCluster.start(2, LocalCluster::smallMachineDefaults);
             ReplicationLog log = ReplicationLog.open(dir, 1 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(cluster.node(1), log, 4096);
             H2Apply apply = new H2Apply(replica, 10);
             ParallelApplier applier = new ParallelApplier(apply, 8, true, 256, 100_000, apply.watermark());
             Subscriber subscriber = new Subscriber(cluster.node(2), 1, applier, 1024))
        {
            cluster.awaitFullView(Duration.ofSeconds(20));
            final H2Capture capture = new H2Capture(publisher, 1, 0);
            try (Connection c = DriverManager.getConnection(source))
            {
                c.setAutoCommit(false);
                for (final String table : List.of("ACCOUNTS", "TRANSFERS", "AUDIT"))
                {
                    capture.capture(c, table);
                }
                try (PreparedStatement s = c.prepareStatement("INSERT INTO ACCOUNTS VALUES (?, ?, ?)"))
                {
                    for (int i = 0; i < ACCOUNTS; i++)
                    {
                        s.setLong(1, i);
                        s.setString(2, "owner-" + i);
                        s.setBigDecimal(3, new BigDecimal("1000.00"));
                        s.executeUpdate();
                    }
                }
                capture.commit(c);
            }

            final AtomicLong transferIds = new AtomicLong();
            final AtomicBoolean altered = new AtomicBoolean();
            final List<Thread> writers = new ArrayList<>();
            final List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int w = 0; w < 4; w++)
            {
                final int seed = w;
                final Thread t = new Thread(() ->
                {
                    final Random random = new Random(seed);
                    try (Connection c = DriverManager.getConnection(source))
                    {
                        c.setAutoCommit(false);
                        for (int i = 0; i < 150; i++)
                        {
                            final long from = random.nextInt(ACCOUNTS);
                            final long to = (from + 1 + random.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
                            final BigDecimal amount = BigDecimal.valueOf(1 + random.nextInt(50));
                            try (PreparedStatement debit = c.prepareStatement(
                                     "UPDATE ACCOUNTS SET BALANCE = BALANCE - ? WHERE ID = ?");
                                 PreparedStatement credit = c.prepareStatement(
                                     "UPDATE ACCOUNTS SET BALANCE = BALANCE + ? WHERE ID = ?");
                                 PreparedStatement transfer = c.prepareStatement(
                                     "INSERT INTO TRANSFERS VALUES (?, ?, ?, ?)");
                                 PreparedStatement audit = c.prepareStatement(altered.get() ?
                                     "INSERT INTO AUDIT(MSG, AT, NOTE) VALUES (?, ?, 'after-ddl')" :
                                     "INSERT INTO AUDIT(MSG, AT) VALUES (?, ?)"))
                            {
                                debit.setBigDecimal(1, amount);
                                debit.setLong(2, from);
                                debit.executeUpdate();
                                credit.setBigDecimal(1, amount);
                                credit.setLong(2, to);
                                credit.executeUpdate();
                                final long id = transferIds.incrementAndGet();
                                transfer.setLong(1, id);
                                transfer.setLong(2, from);
                                transfer.setLong(3, to);
                                transfer.setBigDecimal(4, amount);
                                transfer.executeUpdate();
                                audit.setString(1, "transfer " + id);
                                audit.setLong(2, i % 7);
                                audit.executeUpdate();
                                if (id % 10 == 0)
                                {
                                    try (PreparedStatement undo = c.prepareStatement("DELETE FROM TRANSFERS WHERE ID = ?"))
                                    {
                                        undo.setLong(1, id - 5);
                                        undo.executeUpdate();
                                    }
                                    try (PreparedStatement forget = c.prepareStatement(
                                        "DELETE FROM AUDIT WHERE AT = ? FETCH FIRST 1 ROW ONLY"))
                                    {
                                        forget.setLong(1, i % 7);
                                        forget.executeUpdate();
                                    }
                                }
                                capture.commit(c);
                            }
                            catch (final SQLException conflict)
                            {
                                capture.rollback(c); // a lock timeout under contention: the transaction did not happen
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failures.add(ex);
                    }
                }, "h2-writer-" + w);
                writers.add(t);
                t.start();
            }
            Thread.sleep(300);
            try (Connection c = DriverManager.getConnection(source))
            {
                c.setAutoCommit(false);
                for (int attempt = 0; !altered.get(); attempt++)
                {
                    try
                    {
                        capture.ddl(c, "AUDIT", "ALTER TABLE AUDIT ADD COLUMN NOTE VARCHAR(20)");
                        altered.set(true);
                    }
                    catch (final SQLException busy)
                    {
                        // the writers hold the table: nothing was published; try again
                        assertThat(attempt).as("the DDL got its lock").isLessThan(50);
                    }
                }
            }
            for (final Thread t : writers)
            {
                t.join(120_000);
            }
            assertThat(failures).isEmpty();
            try (Connection c = DriverManager.getConnection(source);
                 PreparedStatement audit = c.prepareStatement("INSERT INTO AUDIT(MSG, AT, NOTE) VALUES (?, ?, ?)"))
            {
                c.setAutoCommit(false);
                for (int i = 0; i < 20; i++)
                {
                    audit.setString(1, "closing " + i);
                    audit.setLong(2, i);
                    audit.setString(3, "after-ddl");
                    audit.executeUpdate();
                    capture.commit(c);
                }
            }
            final long last = capture.position();
            assertThat(applier.awaitWatermark(last, 60_000)).as("caught up; failure %s", applier.failure()).isTrue();
            assertThat(apply.watermark()).isEqualTo(last);
            assertThat(applier.barriers()).isNotEmpty();
            for (final String table : List.of("ACCOUNTS", "TRANSFERS", "AUDIT"))
            {
                assertThat(content(replica, table)).as("table %s", table).isEqualTo(content(source, table))
                    .isNotEmpty();
            }
            assertThat(content(replica, "AUDIT").stream().anyMatch(r -> r.contains("after-ddl"))).isTrue();
        }
    }

    private static List<String> content(final String url, final String table) throws SQLException
    {
        final List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT * FROM " + table))
        {
            final int n = rs.getMetaData().getColumnCount();
            while (rs.next())
            {
                final StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++)
                {
                    row.append(rs.getMetaData().getColumnName(i)).append('=').append(rs.getString(i)).append(';');
                }
                rows.add(row.toString());
            }
        }
        rows.sort(null);
        return rows;
    }
}
