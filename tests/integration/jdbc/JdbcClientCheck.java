import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * What DataGrip and DBeaver do with the ClickHouse JDBC driver, with its default settings:
 * connect, browse the metadata tree, create a table, batch-insert with a PreparedStatement,
 * read the rows back, get an error with its code. One line per step: "ok STEP detail" or
 * "FAIL STEP reason"; the exit status is the number of failed steps.
 *
 * Usage: java -cp DRIVER_CLASSPATH:. JdbcClientCheck JDBC_URL USER PASSWORD DATABASE
 */
public class JdbcClientCheck {
    private static int failed = 0;

    interface Step {
        String run() throws Exception;
    }

    private static void step(String name, Step body) {
        try {
            System.out.println("ok " + name + " " + body.run());
        } catch (Throwable e) {
            failed++;
            System.out.println("FAIL " + name + " " + e.getClass().getSimpleName() + ": "
                    + String.valueOf(e.getMessage()).replace('\n', ' '));
        }
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], database = args[3];
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        String table = database + ".jdbc_check_" + Long.toHexString(System.nanoTime());
        try (Connection conn = DriverManager.getConnection(url, props)) {
            step("connect", () -> conn.getMetaData().getDatabaseProductName() + " "
                    + conn.getMetaData().getDatabaseProductVersion());
            step("select", () -> {
                try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 40 + 2 AS answer")) {
                    check(rs.next() && rs.getInt("answer") == 42, "SELECT 40 + 2 did not answer 42");
                    return "42";
                }
            });
            step("create", () -> {
                try (Statement st = conn.createStatement()) {
                    st.execute("CREATE TABLE " + table + " (id UInt64, name String, amount Float64, day Date, "
                            + "at DateTime64(3), uid UUID, flag Bool, tags Array(String)) ENGINE = MergeTree ORDER BY id");
                    return table;
                }
            });
            DatabaseMetaData meta = conn.getMetaData();
            step("metadata.catalogs", () -> names(meta.getCatalogs(), "TABLE_CAT").toString());
            step("metadata.schemas", () -> names(meta.getSchemas(), "TABLE_SCHEM").toString());
            step("metadata.tables", () -> {
                String name = table.substring(table.indexOf('.') + 1);
                List<String> found = new ArrayList<>(names(meta.getTables(null, null, name, null), "TABLE_NAME"));
                found.addAll(names(meta.getTables(database, null, name, null), "TABLE_NAME"));
                check(found.contains(name), "the new table is not in getTables: " + found);
                return name;
            });
            step("metadata.columns", () -> {
                String name = table.substring(table.indexOf('.') + 1);
                List<String> columns = new ArrayList<>(names(meta.getColumns(null, null, name, null), "COLUMN_NAME"));
                if (columns.isEmpty()) {
                    columns = names(meta.getColumns(database, null, name, null), "COLUMN_NAME");
                }
                check(columns.containsAll(List.of("id", "name", "amount", "day", "at", "uid", "flag", "tags")),
                        "getColumns gave " + columns);
                return columns.toString();
            });
            UUID uid = UUID.fromString("6f1c2d3e-8b7a-4c55-9e21-b10f10f1000d");
            LocalDateTime at = LocalDateTime.of(2026, 12, 1, 12, 30, 45, 123_000_000);
            step("insert.batch", () -> {
                try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + table
                        + " (id, name, amount, day, at, uid, flag, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                    for (int i = 1; i <= 3; i++) {
                        ps.setLong(1, i);
                        ps.setString(2, "name ünïcødé " + i);
                        ps.setDouble(3, i * 1.25);
                        ps.setObject(4, LocalDate.of(2026, 11, i));
                        ps.setObject(5, at.plusSeconds(i));
                        ps.setObject(6, uid);
                        ps.setBoolean(7, i % 2 == 0);
                        ps.setObject(8, new String[] {"t" + i, "x"});
                        ps.addBatch();
                    }
                    int[] counts = ps.executeBatch();
                    return "batch of " + counts.length;
                }
            });
            step("select.back", () -> {
                try (Statement st = conn.createStatement();
                     ResultSet rs = st.executeQuery("SELECT id, name, amount, day, at, uid, flag, tags FROM " + table
                             + " ORDER BY id")) {
                    int rows = 0;
                    while (rs.next()) {
                        rows++;
                        check(rs.getLong(1) == rows, "id " + rs.getLong(1));
                        check(rs.getString(2).equals("name ünïcødé " + rows), "name " + rs.getString(2));
                        check(rs.getDouble(3) == rows * 1.25, "amount " + rs.getDouble(3));
                        check(rs.getObject(4, LocalDate.class).equals(LocalDate.of(2026, 11, rows)), "day " + rs.getObject(4));
                        check(rs.getObject(5, LocalDateTime.class).equals(at.plusSeconds(rows)), "at " + rs.getObject(5));
                        check(rs.getObject(6, UUID.class).equals(uid), "uid " + rs.getObject(6));
                        check(rs.getBoolean(7) == (rows % 2 == 0), "flag " + rs.getBoolean(7));
                        Object[] tags = (Object[]) rs.getArray(8).getArray();
                        check(tags.length == 2 && tags[0].equals("t" + rows), "tags " + java.util.Arrays.toString(tags));
                    }
                    check(rows == 3, rows + " rows");
                    return rows + " rows equal";
                }
            });
            step("error.code", () -> {
                try (Statement st = conn.createStatement()) {
                    st.executeQuery("SELECT * FROM " + database + ".no_such_table_here");
                    throw new AssertionError("no error for a missing table");
                } catch (SQLException e) {
                    check(e.getErrorCode() == 60, "error code " + e.getErrorCode() + ": " + e.getMessage());
                    return "60 UNKNOWN_TABLE";
                }
            });
            step("drop", () -> {
                try (Statement st = conn.createStatement()) {
                    st.execute("DROP TABLE " + table);
                    return table;
                }
            });
        }
        System.exit(failed);
    }

    private static List<String> names(ResultSet rs, String column) throws SQLException {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                out.add(rs.getString(column));
            }
        }
        return out;
    }
}
