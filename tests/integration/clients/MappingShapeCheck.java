// pgjdbc against a table of migration.mapping (docs/schema-mapping.md): the column names and types
// a read and an INSERT ... RETURNING show, and their values, six times each so that pgjdbc moves
// to a server-side prepared statement and binary results (prepareThreshold 5).
//
//   java -cp postgresql.jar MappingShapeCheck.java URL USER PASSWORD ID
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;

public class MappingShapeCheck {
  static void print(String label, ResultSet rows) throws Exception {
    ResultSetMetaData meta = rows.getMetaData();
    StringBuilder columns = new StringBuilder(label + " COLUMNS");
    for (int i = 1; i <= meta.getColumnCount(); i++) {
      columns.append(' ').append(meta.getColumnLabel(i)).append(':').append(meta.getColumnTypeName(i));
    }
    System.out.println(columns);
    while (rows.next()) {
      StringBuilder row = new StringBuilder(label + " ROW");
      for (int i = 1; i <= meta.getColumnCount(); i++) row.append(' ').append(rows.getString(i));
      System.out.println(row);
    }
  }

  public static void main(String[] args) throws Exception {
    try (Connection conn = DriverManager.getConnection(args[0], args[1], args[2]);
        PreparedStatement read = conn.prepareStatement(
            "SELECT id, owner, balance, note FROM accounts WHERE id = ?");
        PreparedStatement insert = conn.prepareStatement(
            "INSERT INTO accounts (owner, balance, note) VALUES (?, ?, ?) "
                + "RETURNING owner, balance, note")) {
      for (int i = 0; i < 6; i++) {
        read.setInt(1, Integer.parseInt(args[3]));
        try (ResultSet rows = read.executeQuery()) {
          print("READ", rows);
        }
        insert.setString(1, "jdbc " + i);
        insert.setBigDecimal(2, new java.math.BigDecimal("1.25"));
        insert.setString(3, null);
        try (ResultSet rows = insert.executeQuery()) {
          print("INSERT", rows);
        }
      }
    }
  }
}
