// pgjdbc against pgdual's admin console (docs/operations.md), in the simple query mode the
// console takes: prints the rows of SHOW PHASES and the SQLSTATE of an unknown command.
//
//   java -cp postgresql.jar ConsoleCheck.java URL USER PASSWORD
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class ConsoleCheck {
  public static void main(String[] args) throws Exception {
    try (Connection conn = DriverManager.getConnection(args[0], args[1], args[2]);
        Statement statement = conn.createStatement()) {
      try (ResultSet rows = statement.executeQuery("SHOW PHASES")) {
        int columns = rows.getMetaData().getColumnCount();
        while (rows.next()) {
          StringBuilder line = new StringBuilder("ROW");
          for (int i = 1; i <= columns; i++) line.append(' ').append(rows.getString(i));
          System.out.println(line);
        }
      }
      try {
        statement.executeQuery("SHOW NOTHING");
        System.out.println("NO ERROR");
      } catch (SQLException e) {
        System.out.println("SQLSTATE " + e.getSQLState());
      }
      try (ResultSet rows = statement.executeQuery("SHOW STATS")) {
        System.out.println(rows.next() ? "STATS " + rows.getString(1) : "STATS EMPTY");
      }
    }
  }
}
