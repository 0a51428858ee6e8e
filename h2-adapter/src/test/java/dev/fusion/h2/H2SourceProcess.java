package dev.fusion.h2;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.replication.Publisher;
import dev.fusion.replication.ReplicationLog;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An H2 source as its own process, for {@link H2SourceKillTest}: {@code CONFIG SOURCE_URL LOG_DIR GO_FILE SEED}
 * opens capture (which re-publishes what a kill kept from the log), prints {@code RECOVERED position content-hash}
 * while no one writes, then, once the go file appears, runs four writers of random transactions on table
 * {@code KV} (inserts, updates and deletes on overlapping keys; one in five rolled back on purpose) until the
 * process is killed.
 */
public final class H2SourceProcess
{
    static final String TABLE = "KV";
    static final String SCHEMA = "CREATE TABLE IF NOT EXISTS KV(ID BIGINT PRIMARY KEY, V BIGINT, WRITER VARCHAR(20))";
    private static final int KEYS = 200;

    private H2SourceProcess()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        final String url = args[1];
        final Path go = Path.of(args[3]);
        final long seed = Long.parseLong(args[4]);
        try (ClusterNode node = ClusterNode.start(config);
             ReplicationLog log = ReplicationLog.open(Path.of(args[2]), 1 << 20, 1L << 30, false);
             Publisher publisher = new Publisher(node, log, 4096);
             Connection admin = DriverManager.getConnection(url))
        {
            try (var s = admin.createStatement())
            {
                s.execute(SCHEMA);
            }
            final H2Capture capture = H2Capture.open(publisher, 1, admin);
            try (Connection c = DriverManager.getConnection(url))
            {
                capture.capture(c, TABLE);
            }
            for (final String row : H2SourceKillTest.rows(url))
            {
                System.out.println("ROW " + row);
            }
            System.out.println("RECOVERED " + capture.position() + " " + H2SourceKillTest.hash(url));
            System.out.flush();
            while (!Files.exists(go))
            {
                Thread.sleep(10);
            }
            final AtomicBoolean failed = new AtomicBoolean();
            final AtomicLong commits = new AtomicLong();
            final List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 4; w++)
            {
                final Random random = new Random(seed * 31 + w);
                final String name = "w" + w + "-" + seed;
                final Thread t = new Thread(() -> write(url, capture, random, name, commits, failed), "writer-" + w);
                writers.add(t);
                t.start();
            }
            while (!failed.get())
            {
                System.out.println("COMMITS " + commits.get());
                System.out.println("PUBLISHED " + capture.position());
                System.out.flush();
                Thread.sleep(100);
            }
            System.out.println("FAILED");
        }
    }

    private static void write(final String url, final H2Capture capture, final Random random, final String name,
        final AtomicLong commits, final AtomicBoolean failed)
    {
        try (Connection c = DriverManager.getConnection(url);
             PreparedStatement merge = c.prepareStatement("MERGE INTO KV KEY(ID) VALUES (?, ?, ?)");
             PreparedStatement delete = c.prepareStatement("DELETE FROM KV WHERE ID = ?"))
        {
            c.setAutoCommit(false);
            while (true)
            {
                try
                {
                    final int rows = 1 + random.nextInt(4);
                    for (int i = 0; i < rows; i++)
                    {
                        final long key = random.nextInt(KEYS);
                        if (random.nextInt(5) == 0)
                        {
                            delete.setLong(1, key);
                            delete.executeUpdate();
                        }
                        else
                        {
                            merge.setLong(1, key);
                            merge.setLong(2, random.nextLong());
                            merge.setString(3, name);
                            merge.executeUpdate();
                        }
                    }
                    if (random.nextInt(5) == 0)
                    {
                        capture.rollback(c);
                    }
                    else
                    {
                        capture.commit(c);
                        commits.incrementAndGet();
                    }
                }
                catch (final SQLException conflict)
                {
                    capture.rollback(c); // a lock timeout under contention: the transaction did not happen
                }
            }
        }
        catch (final Exception ex)
        {
            ex.printStackTrace(System.out);
            failed.set(true);
        }
    }
}
