// pgjdbc client for pgdual's integration tests, run as a single-file source:
//
//   java -cp /usr/share/java/postgresql.jar JdbcCheck.java URL USER PASSWORD
//
// Prints "OK <check> ..." per passed check and "ALL OK" at the end; on the
// first failure prints the exception and exits 1.

import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;

public class JdbcCheck {
  static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }

  static long scalar(Connection conn, String sql) throws SQLException {
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      check(rs.next(), "no row for " + sql);
      return rs.getLong(1);
    }
  }

  static String sqlState(Runnable0 body) throws Exception {
    try {
      body.run();
    } catch (SQLException e) {
      return e.getSQLState();
    }
    throw new AssertionError("expected an SQLException");
  }

  interface Runnable0 {
    void run() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: JdbcCheck URL USER PASSWORD");
      System.exit(2);
    }
    try (Connection conn = DriverManager.getConnection(args[0], args[1], args[2])) {
      run(conn);
      System.out.println("ALL OK");
    } catch (Throwable t) {
      System.out.println("FAIL " + t);
      t.printStackTrace(System.out);
      System.exit(1);
    }
  }

  static void run(Connection conn) throws Exception {
    try (Statement st = conn.createStatement()) {
      st.execute("DROP TABLE IF EXISTS jt");
      st.execute("CREATE TABLE jt (id int PRIMARY KEY, name text, amount numeric)");
    }
    System.out.println("OK connect " + conn.getMetaData().getDatabaseProductVersion());

    // A PreparedStatement used more than prepareThreshold (5) times switches
    // to a named server-side statement.
    try (PreparedStatement ins = conn.prepareStatement("INSERT INTO jt VALUES (?, ?, ?)")) {
      for (int i = 1; i <= 10; i++) {
        ins.setInt(1, i);
        ins.setString(2, "name " + i);
        ins.setBigDecimal(3, new java.math.BigDecimal(i + ".25"));
        check(ins.executeUpdate() == 1, "insert " + i);
      }
    }
    long serverSide = scalar(conn,
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO jt%'");
    check(serverSide >= 1, "no server-side prepared statement after 10 executions");
    try (PreparedStatement sel = conn.prepareStatement("SELECT name FROM jt WHERE id = ?")) {
      for (int i = 1; i <= 10; i++) {
        sel.setInt(1, i);
        try (ResultSet rs = sel.executeQuery()) {
          check(rs.next() && rs.getString(1).equals("name " + i), "select " + i);
          check(!rs.next(), "one row " + i);
        }
      }
    }
    System.out.println("OK prepared server_side=" + serverSide);

    // Batch: Bind/Execute pipelined with one Sync.
    try (PreparedStatement ins = conn.prepareStatement("INSERT INTO jt VALUES (?, ?, ?)")) {
      for (int i = 100; i < 200; i++) {
        ins.setInt(1, i);
        ins.setString(2, "batch " + i);
        ins.setBigDecimal(3, java.math.BigDecimal.ONE);
        ins.addBatch();
      }
      int total = 0;
      for (int n : ins.executeBatch()) total += n;
      check(total == 100, "batch total " + total);
    }
    check(scalar(conn, "SELECT count(*) FROM jt WHERE id >= 100") == 100, "batch rows");
    System.out.println("OK batch rows=100");

    // A batch with a failing row: nothing of it stays (autocommit batch is one transaction).
    try (PreparedStatement ins = conn.prepareStatement("INSERT INTO jt VALUES (?, ?, ?)")) {
      for (int id : new int[] {300, 301, 100, 302}) {
        ins.setInt(1, id);
        ins.setString(2, "bad batch");
        ins.setBigDecimal(3, java.math.BigDecimal.ONE);
        ins.addBatch();
      }
      String state = null;
      try {
        ins.executeBatch();
      } catch (BatchUpdateException e) {
        state = e.getSQLState();
      }
      check("23505".equals(state), "batch error state " + state);
    }
    check(scalar(conn, "SELECT count(*) FROM jt WHERE id >= 300") == 0, "failed batch left rows");
    System.out.println("OK batch_error sqlstate=23505");

    // Transactions: commit, rollback, savepoint.
    conn.setAutoCommit(false);
    try (Statement st = conn.createStatement()) {
      st.executeUpdate("INSERT INTO jt VALUES (500, 'committed', 0)");
      conn.commit();
      st.executeUpdate("INSERT INTO jt VALUES (501, 'rolled back', 0)");
      conn.rollback();
      st.executeUpdate("INSERT INTO jt VALUES (502, 'before savepoint', 0)");
      Savepoint sp = conn.setSavepoint("sp1");
      st.executeUpdate("INSERT INTO jt VALUES (503, 'after savepoint', 0)");
      String state = sqlState(() -> st.executeUpdate("INSERT INTO jt VALUES (500, 'dup', 0)"));
      check("23505".equals(state), "duplicate state " + state);
      String aborted = sqlState(() -> st.executeQuery("SELECT 1"));
      check("25P02".equals(aborted), "aborted state " + aborted);
      conn.rollback(sp);
      st.executeUpdate("INSERT INTO jt VALUES (504, 'after rollback to savepoint', 0)");
      conn.releaseSavepoint(sp);
      conn.commit();
    }
    check(scalar(conn, "SELECT count(*) FROM jt WHERE id BETWEEN 500 AND 599") == 3,
        "transaction rows");
    check(scalar(conn, "SELECT sum(id) FROM jt WHERE id BETWEEN 500 AND 599") == 1506,
        "transaction ids");
    conn.commit();
    System.out.println("OK transactions");

    // Fetch size inside a transaction: a named portal executed in chunks.
    try (Statement st = conn.createStatement()) {
      st.setFetchSize(100);
      long sum = 0;
      int rows = 0;
      try (ResultSet rs = st.executeQuery("SELECT g FROM generate_series(1, 1000) g")) {
        while (rs.next()) {
          sum += rs.getLong(1);
          rows++;
        }
      }
      check(rows == 1000 && sum == 500500, "fetch size rows " + rows);
    }
    conn.commit();
    conn.setAutoCommit(true);
    System.out.println("OK fetch_size rows=1000");

    // An error, then the session carries on.
    try (Statement st = conn.createStatement()) {
      String state = sqlState(() -> st.executeQuery("SELECT 1 / 0"));
      check("22012".equals(state), "division state " + state);
      try (PreparedStatement bad = conn.prepareStatement("SELECT * FROM no_such_table WHERE a = ?")) {
        bad.setInt(1, 1);
        String missing = sqlState(() -> bad.executeQuery());
        check("42P01".equals(missing), "missing table state " + missing);
      }
      check(scalar(conn, "SELECT 42") == 42, "after errors");
    }
    System.out.println("OK error_then_continue");

    // DatabaseMetaData: catalog queries through the proxy.
    DatabaseMetaData md = conn.getMetaData();
    boolean found = false;
    try (ResultSet rs = md.getTables(null, "public", "jt", new String[] {"TABLE"})) {
      while (rs.next()) found |= rs.getString("TABLE_NAME").equals("jt");
    }
    check(found, "getTables did not find jt");
    int columns = 0;
    try (ResultSet rs = md.getColumns(null, "public", "jt", null)) {
      while (rs.next()) columns++;
    }
    check(columns == 3, "getColumns " + columns);
    try (ResultSet rs = md.getPrimaryKeys(null, "public", "jt")) {
      check(rs.next() && rs.getString("COLUMN_NAME").equals("id"), "primary key");
    }
    System.out.println("OK metadata product=" + md.getDatabaseProductName() + " columns=" + columns);
  }
}
