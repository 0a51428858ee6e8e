package dev.fusion.h2;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The H2 tests' source workload: accounts, transfers referencing them (foreign keys) and an audit table without
 * a primary key; writers move money, record transfers, delete some, and write and forget audit rows; one DDL
 * (a column added to the audit table) runs while they write.
 */
final class H2Workload
{
    static final List<String> TABLES = List.of("ACCOUNTS", "TRANSFERS", "AUDIT");
    private static final String[] SCHEMA = {
        "CREATE TABLE ACCOUNTS(ID BIGINT PRIMARY KEY, OWNER VARCHAR(40), BALANCE DECIMAL(18,2))",
        "CREATE TABLE TRANSFERS(ID BIGINT PRIMARY KEY, FROM_ID BIGINT REFERENCES ACCOUNTS(ID), " +
            "TO_ID BIGINT REFERENCES ACCOUNTS(ID), AMOUNT DECIMAL(18,2))",
        "CREATE TABLE AUDIT(MSG VARCHAR(100), AT BIGINT)"};
    private static final int ACCOUNTS = 50;

    final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final String source;
    private final H2Capture capture;
    private final AtomicLong transferIds = new AtomicLong();
    private final AtomicBoolean altered = new AtomicBoolean();

    H2Workload(final String source, final H2Capture capture)
    {
        this.source = source;
        this.capture = capture;
    }

    static void schema(final String url) throws SQLException
    {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement())
        {
            for (final String ddl : SCHEMA)
            {
                s.execute(ddl);
            }
        }
    }

    /** Captures the three tables and opens the accounts (one transaction). */
    void seed() throws SQLException
    {
        try (Connection c = DriverManager.getConnection(source))
        {
            c.setAutoCommit(false);
            for (final String table : TABLES)
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
    }

    /**
     * Runs the writers to the end, with the DDL after a while.
     *
     * @param writers    threads.
     * @param perWriter  transactions each.
     * @param pauseUs    pause after each transaction (paces the run).
     * @param ddlAfterMs when the DDL runs.
     */
    void run(final int writers, final int perWriter, final long pauseUs, final long ddlAfterMs) throws Exception
    {
        final List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++)
        {
            final int seed = w;
            final Thread t = new Thread(() -> write(seed, perWriter, pauseUs), "h2-writer-" + w);
            threads.add(t);
            t.start();
        }
        Thread.sleep(ddlAfterMs);
        try (Connection c = DriverManager.getConnection(source))
        {
            c.setAutoCommit(false);
            for (int attempt = 0; !altered.get(); attempt++)
            {
                try
                {
                    final long at = capture.ddl(c, "AUDIT", "ALTER TABLE AUDIT ADD COLUMN NOTE VARCHAR(20)");
                    System.out.println("WORKLOAD DDL published at " + at);
                    altered.set(true);
                }
                catch (final SQLException busy)
                {
                    // the writers hold the table: nothing was published; try again
                    if (attempt > 50)
                    {
                        throw new IllegalStateException("the DDL never got its lock", busy);
                    }
                }
            }
        }
        for (final Thread t : threads)
        {
            t.join(180_000);
        }
        System.out.println("WORKLOAD writers done at " + capture.position());
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
    }

    private void write(final int seed, final int count, final long pauseUs)
    {
        final Random random = new Random(seed);
        try (Connection c = DriverManager.getConnection(source))
        {
            c.setAutoCommit(false);
            for (int i = 0; i < count; i++)
            {
                final long from = random.nextInt(ACCOUNTS);
                final long to = (from + 1 + random.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
                final BigDecimal amount = BigDecimal.valueOf(1 + random.nextInt(50));
                try (PreparedStatement debit = c.prepareStatement(
                         "UPDATE ACCOUNTS SET BALANCE = BALANCE - ? WHERE ID = ?");
                     PreparedStatement credit = c.prepareStatement(
                         "UPDATE ACCOUNTS SET BALANCE = BALANCE + ? WHERE ID = ?");
                     PreparedStatement transfer = c.prepareStatement("INSERT INTO TRANSFERS VALUES (?, ?, ?, ?)");
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
                if (pauseUs > 0)
                {
                    LockSupport.parkNanos(pauseUs * 1000);
                }
            }
        }
        catch (final Throwable ex)
        {
            failures.add(ex);
        }
    }

    /** @return a table's rows, each as {@code COLUMN=value;...}, sorted. */
    static List<String> content(final String url, final String table) throws SQLException
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
