// pgjdbc client for the dual-write phase tests, run as a single-file source:
//
//   java -cp /usr/share/java/postgresql.jar DualWriteCheck.java URL USER PASSWORD TABLE
//
// Reads `SELECT v FROM marker WHERE id = 1` and prints "READ <v>", then runs
// the phase tests' standard workload against TABLE (id int primary key, src
// text) with prepared statements (executed more often than pgjdbc's
// prepareThreshold, so they become named server-side statements), a batch,
// a committed and a rolled-back transaction:
//   ids 1..5 one by one, ids 6..10 in a batch, UPDATE id 1 to 'u', DELETE id 2,
//   id 11 in a committed transaction, id 12 in a rolled-back one.
// Prints "ALL OK" at the end; on a failure prints the exception and exits 1.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class DualWriteCheck {
  public static void main(String[] args) {
    if (args.length != 4) {
      System.err.println("usage: DualWriteCheck URL USER PASSWORD TABLE");
      System.exit(2);
    }
    try (Connection conn = DriverManager.getConnection(args[0], args[1], args[2])) {
      run(conn, args[3]);
      System.out.println("ALL OK");
    } catch (Throwable t) {
      System.out.println("FAIL " + t);
      t.printStackTrace(System.out);
      System.exit(1);
    }
  }

  static void run(Connection conn, String table) throws SQLException {
    conn.setAutoCommit(true);
    try (PreparedStatement read = conn.prepareStatement("SELECT v FROM marker WHERE id = ?")) {
      // Several times, so the read also runs as a named server-side statement.
      String value = null;
      for (int i = 0; i < 6; i++) {
        read.setInt(1, 1);
        try (ResultSet rs = read.executeQuery()) {
          if (!rs.next()) throw new SQLException("marker row missing");
          value = rs.getString(1);
        }
      }
      System.out.println("READ " + value);
    }

    String insert = "INSERT INTO " + table + " (id, src) VALUES (?, ?)";
    try (PreparedStatement ps = conn.prepareStatement(insert)) {
      for (int id = 1; id <= 5; id++) {
        ps.setInt(1, id);
        ps.setString(2, "c");
        if (ps.executeUpdate() != 1) throw new SQLException("insert " + id + " did not insert");
      }
      for (int id = 6; id <= 10; id++) {
        ps.setInt(1, id);
        ps.setString(2, "c");
        ps.addBatch();
      }
      int[] counts = ps.executeBatch();
      if (counts.length != 5) throw new SQLException("batch returned " + counts.length + " counts");
    }
    try (PreparedStatement ps =
             conn.prepareStatement("UPDATE " + table + " SET src = ? WHERE id = ?")) {
      ps.setString(1, "u");
      ps.setInt(2, 1);
      if (ps.executeUpdate() != 1) throw new SQLException("update did not update one row");
    }
    try (Statement st = conn.createStatement()) {
      if (st.executeUpdate("DELETE FROM " + table + " WHERE id = 2") != 1) {
        throw new SQLException("delete did not delete one row");
      }
    }

    conn.setAutoCommit(false);
    try (PreparedStatement ps = conn.prepareStatement(insert)) {
      ps.setInt(1, 11);
      ps.setString(2, "c");
      ps.executeUpdate();
      conn.commit();
      ps.setInt(1, 12);
      ps.setString(2, "c");
      ps.executeUpdate();
      conn.rollback();
    }
    conn.setAutoCommit(true);
    System.out.println("OK workload");
  }
}
