package dev.fusion.h2;

import dev.fusion.replication.Change;
import dev.fusion.replication.ChangeOp;
import dev.fusion.replication.Transaction;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** H2Apply on its own: a DDL (which H2 commits by itself) replayed after a crash before its watermark. */
class H2ApplyTest
{
    private static Transaction ddl(final long position, final String table, final String sql)
    {
        return new Transaction(1, position, System.currentTimeMillis(), List.of(new Change(table, null, null, null,
            ChangeOp.DDL, null, sql.getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void aDdlReplayedAfterACrashBeforeItsWatermarkIsTakenAsAppliedOnce() throws Exception
    {
        final String url = "jdbc:h2:mem:apply-" + System.nanoTime() + ";DB_CLOSE_DELAY=-1";
        H2Workload.schema(url);
        final Transaction alter = ddl(5, "AUDIT", "ALTER TABLE AUDIT ADD COLUMN NOTE VARCHAR(20)");
        try (H2Apply apply = new H2Apply(url, 1))
        {
            apply.apply(alter); // H2 commits the DDL here; the "process" dies before commit() writes the watermark
        }
        try (H2Apply restarted = new H2Apply(url, 1))
        {
            assertThat(restarted.watermark()).isZero();
            restarted.apply(alter);
            restarted.commit(alter);
            assertThat(restarted.watermark()).isEqualTo(5);
            assertThat(H2Workload.content(url, "AUDIT")).isEmpty();
            try (var c = java.sql.DriverManager.getConnection(url);
                 var rs = c.getMetaData().getColumns(null, "PUBLIC", "AUDIT", "NOTE"))
            {
                assertThat(rs.next()).as("the column, once").isTrue();
                assertThat(rs.next()).isFalse();
            }

            // a DDL that fails for another reason still stops the applier, replayed or not
            final Transaction broken = ddl(6, "NOPE", "ALTER TABLE NOPE ADD COLUMN X INT");
            assertThatThrownBy(() -> restarted.apply(broken)).isInstanceOf(SQLException.class);
            assertThatThrownBy(() -> restarted.apply(broken)).isInstanceOf(SQLException.class);
            // and a DDL seen for the first time that fails because its effect exists is not excused either
            final Transaction again = ddl(7, "AUDIT", "ALTER TABLE AUDIT ADD COLUMN NOTE VARCHAR(20)");
            assertThatThrownBy(() -> restarted.apply(again)).isInstanceOf(SQLException.class);
        }
    }
}
