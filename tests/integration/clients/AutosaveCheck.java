// pgjdbc with autosave=always, run as a single-file source:
//
//   java -cp /usr/share/java/postgresql.jar AutosaveCheck.java URL USER PASSWORD
//
// In one transaction on table `autosaved` (id int primary key, v text): rows 1 and 2, then a
// duplicate of row 1 (the driver rolls back to its own savepoint, PGJDBC_AUTOSAVE, and the
// transaction goes on), then row 3, COMMIT. Once with plain statements and once with a
// prepared statement executed past prepareThreshold (a named server-side statement).
// Prints "OK duplicate sqlstate=23505" per round and "ALL OK"; on a failure the exception.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;

public class AutosaveCheck {
  public static void main(String[] args) {
    try (Connection conn = DriverManager.getConnection(args[0], args[1], args[2])) {
      conn.setAutoCommit(false);
      plainRound(conn);
      preparedRound(conn);
      System.out.println("ALL OK");
    } catch (Throwable t) {
      System.out.println("FAIL " + t);
      t.printStackTrace(System.out);
      System.exit(1);
    }
  }

  static void plainRound(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement()) {
      st.executeUpdate("INSERT INTO autosaved VALUES (1, 'one')");
      st.executeUpdate("INSERT INTO autosaved VALUES (2, 'two')");
      try {
        st.executeUpdate("INSERT INTO autosaved VALUES (1, 'duplicate')");
        throw new IllegalStateException("the duplicate was accepted");
      } catch (SQLException e) {
        System.out.println("OK duplicate sqlstate=" + e.getSQLState());
      }
      st.executeUpdate("INSERT INTO autosaved VALUES (3, 'three')");
    }
    conn.commit();
  }

  static void preparedRound(Connection conn) throws SQLException {
    try (PreparedStatement insert = conn.prepareStatement("INSERT INTO autosaved VALUES (?, ?)")) {
      for (int id = 10; id < 20; ++id) {
        insert.setInt(1, id);
        insert.setString(2, "row " + id);
        insert.executeUpdate();
      }
      insert.setInt(1, 10);
      insert.setString(2, "duplicate");
      try {
        insert.executeUpdate();
        throw new IllegalStateException("the duplicate was accepted");
      } catch (SQLException e) {
        System.out.println("OK duplicate sqlstate=" + e.getSQLState());
      }
      insert.setInt(1, 20);
      insert.setString(2, "row 20");
      insert.executeUpdate();
    }
    conn.commit();
  }
}
