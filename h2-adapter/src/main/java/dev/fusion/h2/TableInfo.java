package dev.fusion.h2;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A table's columns, primary key and foreign keys, read from the database's metadata. */
record TableInfo(String schema, String table, List<String> columns, List<String> primaryKey,
    Map<String, List<String>> parents)
{
    static TableInfo read(final Connection conn, final String schema, final String table) throws SQLException
    {
        final DatabaseMetaData meta = conn.getMetaData();
        final List<String> columns = new ArrayList<>();
        try (ResultSet rs = meta.getColumns(null, schema, table, null))
        {
            while (rs.next())
            {
                columns.add(rs.getString("COLUMN_NAME"));
            }
        }
        final Map<Short, String> pk = new java.util.TreeMap<>();
        try (ResultSet rs = meta.getPrimaryKeys(null, schema, table))
        {
            while (rs.next())
            {
                pk.put(rs.getShort("KEY_SEQ"), rs.getString("COLUMN_NAME"));
            }
        }
        // parent table -> the columns of this table that reference its key, in key order
        final Map<String, List<String>> parents = new LinkedHashMap<>();
        try (ResultSet rs = meta.getImportedKeys(null, schema, table))
        {
            while (rs.next())
            {
                final String key = rs.getString("PKTABLE_NAME") + "#" + rs.getString("FK_NAME");
                parents.computeIfAbsent(key, k -> new ArrayList<>()).add(rs.getString("FKCOLUMN_NAME"));
            }
        }
        return new TableInfo(schema, table, List.copyOf(columns), List.copyOf(pk.values()), parents);
    }

    Object[] values(final Object[] row, final List<String> names)
    {
        final Object[] values = new Object[names.size()];
        for (int i = 0; i < names.size(); i++)
        {
            values[i] = row[columns.indexOf(names.get(i))];
        }
        return values;
    }
}
