package dev.fusion.h2;

import dev.fusion.cluster.ClusterConfig;
import dev.fusion.cluster.ClusterNode;
import dev.fusion.cluster.JvmProcess;
import dev.fusion.cluster.LocalCluster;
import dev.fusion.cluster.NodeConfigFiles;
import dev.fusion.replication.ParallelApplier;
import dev.fusion.replication.Subscriber;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The source's process ({@link H2SourceProcess}: H2 in a file, capture, publisher and log) is killed with SIGKILL
 * at a random instant while four threads commit (and roll back) concurrently, twenty times over, and restarted
 * after each kill. After every restart, before anyone writes again, the replica (in this JVM) is compared with
 * the source row by row: it holds every transaction the source committed, and none that rolled back or never
 * committed.
 */
class H2SourceKillTest
{
    private static final int KILLS = 20;

    @Test
    void killNineTheSourceTwentyTimesDuringConcurrentCommitsAndTheReplicaAlwaysEndsEqualToIt(@TempDir final Path dir)
        throws Exception
    {
        final NodeConfigFiles nodes = new NodeConfigFiles(dir, 2, 1500, "idleMaxParkUs=200");
        final String source = "jdbc:h2:" + dir.resolve("source");
        final String replica = "jdbc:h2:mem:kill-replica-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        try (Connection c = DriverManager.getConnection(replica); Statement s = c.createStatement())
        {
            s.execute(H2SourceProcess.SCHEMA);
        }
        final Random random = new Random(16);
        final List<Process> processes = new ArrayList<>();
        int recoveredRuns = 0;
        long committedInAll = 0;
        List<String> last = List.of();
        try (ClusterNode node = ClusterNode.start(ClusterConfig.load(nodes.file(2)));
             H2Apply apply = new H2Apply(replica, 5);
             ParallelApplier applier = new ParallelApplier(apply, 4, true, 256, 100_000, apply.watermark());
             Subscriber subscriber = new Subscriber(node, 1, applier, 4096))
        {
            for (int run = 0; run <= KILLS; run++)
            {
                final List<String> previous = last;
                final Path go = dir.resolve("go-" + run);
                final List<String> out = new CopyOnWriteArrayList<>();
                final Process process = JvmProcess.start(H2SourceProcess.class, "256m", List.of(
                    nodes.file(1).toString(), source, dir.resolve("log").toString(), go.toString(), "" + run), out);
                processes.add(process);
                last = out;
                LocalCluster.await(() -> out.stream().anyMatch(l -> l.startsWith("RECOVERED ")),
                    Duration.ofSeconds(60), "run " + run + ": the source to recover: " + JvmProcess.tail(out));
                final String[] recovered = out.stream().filter(l -> l.startsWith("RECOVERED ")).findFirst()
                    .orElseThrow().split(" ");
                final long position = Long.parseLong(recovered[1]);
                if (out.stream().anyMatch(l -> l.contains("re-published")))
                {
                    recoveredRuns++;
                }
                assertThat(applier.awaitWatermark(position, 60_000))
                    .as("run %d: the replica applies up to %d; failure %s; the source's recovery: %s; the run " +
                        "before: %s", run, position, applier.failure(), story(out), story(previous))
                    .isTrue();
                final List<String> sourceRows = out.stream().filter(l -> l.startsWith("ROW "))
                    .map(l -> l.substring(4)).toList();
                assertThat(rows(replica)).as("run %d: the replica equals the source row by row; the source's " +
                    "recovery: %s; the run before: %s", run, story(out), story(previous))
                    .containsExactlyElementsOf(sourceRows);
                assertThat(hash(replica)).isEqualTo(recovered[2]);
                if (run == KILLS)
                {
                    break;
                }
                Files.createFile(go);
                LocalCluster.await(() -> JvmProcess.lastNumber(out, "COMMITS ") > 0, Duration.ofSeconds(30),
                    "run " + run + ": commits: " + JvmProcess.tail(out));
                Thread.sleep(100 + random.nextInt(1200));
                process.destroyForcibly();
                assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
                committedInAll += JvmProcess.lastNumber(out, "COMMITS ");
            }
        }
        finally
        {
            JvmProcess.stopAll(processes);
        }
        assertThat(committedInAll).as("the writers committed between the kills").isGreaterThan(KILLS * 10L);
        System.out.println("H2SourceKillTest: " + KILLS + " kills, about " + committedInAll + " commits, " +
            recoveredRuns + " restarts re-published transactions the log lacked");
    }

    /** @return a process's lines but its rows and counters, and its last counters, for failure messages. */
    private static List<String> story(final List<String> lines)
    {
        final List<String> story = new ArrayList<>(lines.stream().filter(l -> !l.startsWith("ROW ") &&
            !l.startsWith("COMMITS ") && !l.startsWith("PUBLISHED ")).toList());
        lines.stream().filter(l -> l.startsWith("PUBLISHED ")).reduce((a, b) -> b).ifPresent(story::add);
        return story.subList(Math.max(0, story.size() - 15), story.size());
    }

    /**
     * @param url a database with table {@code KV}.
     * @return its rows in key order, as {@code id,v,writer}.
     */
    static List<String> rows(final String url) throws SQLException
    {
        final List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT ID, V, WRITER FROM " + H2SourceProcess.TABLE + " ORDER BY ID"))
        {
            while (rs.next())
            {
                rows.add(rs.getLong(1) + "," + rs.getLong(2) + "," + rs.getString(3));
            }
        }
        return rows;
    }

    /**
     * @param url a database with table {@code KV}.
     * @return a hash of its rows in key order, and their count.
     */
    static String hash(final String url) throws SQLException
    {
        try (Connection c = DriverManager.getConnection(url);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT ID, V, WRITER FROM " + H2SourceProcess.TABLE + " ORDER BY ID"))
        {
            final MessageDigest digest = MessageDigest.getInstance("SHA-256");
            long rows = 0;
            while (rs.next())
            {
                digest.update((rs.getLong(1) + "," + rs.getLong(2) + "," + rs.getString(3) + ";")
                    .getBytes(StandardCharsets.UTF_8));
                rows++;
            }
            return HexFormat.of().formatHex(digest.digest()).substring(0, 16) + ":" + rows;
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
