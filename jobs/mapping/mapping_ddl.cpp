#include "jobs/mapping/mapping_ddl.hpp"

#include "text/sql_quote.hpp"

namespace pgdual::jobs::mapping {
namespace {

using text::quote_identifier;

// The view's row for a row of the new table: its RETURNING list and its SELECT list.
std::string old_shape_list(const ResolvedTable& table, bool with_names) {
  std::string list;
  for (const auto& column : table.columns) {
    list += (list.empty() ? "" : ", ") + column.inverse;
    if (with_names) list += " AS " + quote_identifier(column.old_name);
  }
  return list;
}

std::string new_column_list(const ResolvedTable& table) {
  std::string list;
  for (const auto& [name, forward] : table.written_columns()) {
    list += (list.empty() ? "" : ", ") + quote_identifier(name);
  }
  return list;
}

// "k1 = (OLD.k1)::t AND ...": the new table's row for the view's OLD row.
std::string key_match(const ResolvedTable& table) {
  std::string match;
  for (std::size_t i = 0; i < table.new_key.size(); ++i) {
    std::string new_type;
    for (const auto& column : table.columns) {
      if (column.old_name == table.old_key[i]) new_type = column.new_type;
    }
    match += (match.empty() ? "" : " AND ") + quote_identifier(table.new_key[i]) + " = (OLD." +
             quote_identifier(table.old_key[i]) + ")::" + new_type;
  }
  return match;
}

// Each written column keeps its stored value unless the statement changed what it is computed
// from: so a lossy column (if_null, a narrowing) is not rewritten by an UPDATE of another one.
std::string update_set_list(const ResolvedTable& table) {
  std::string list;
  for (const auto& [name, forward] : table.written_columns()) {
    if (table.identity_always(name)) continue;  // no UPDATE may set it
    const std::string quoted = quote_identifier(name);
    // As text: json, point and xml have no equality operator.
    list += (list.empty() ? "" : ", ") + quoted + " = CASE WHEN pgdual_new." + quoted +
            "::text IS DISTINCT FROM pgdual_old." + quoted + "::text THEN pgdual_new." + quoted +
            " ELSE " + quoted + " END";
  }
  return list;
}

// The row an UPDATE or DELETE through the view was computed from (OLD) was read in the
// statement's snapshot without a lock. A plain table's UPDATE would wait for a concurrent writer
// and re-evaluate its SET list on the row that writer left; a trigger only has the values
// computed from the older row, and writing them would lose the other update. So the row is
// locked and read again, and a row changed meanwhile fails the statement as PostgreSQL's
// REPEATABLE READ does: SQLSTATE 40001, which the client retries.
std::string lock_and_check(const ResolvedTable& table) {
  std::string sql;
  sql += "    SELECT ROW(" + old_shape_list(table, false) + ")::text INTO pgdual_current FROM " +
         table.new_table_quoted() + " WHERE " + key_match(table) + " FOR UPDATE;\n";
  sql += "    IF NOT FOUND THEN RETURN NULL; END IF;\n";
  sql += "    IF pgdual_current IS DISTINCT FROM OLD::text THEN\n";
  sql +=
      "      RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = "
      "'could not serialize access due to concurrent update', DETAIL = " +
      text::quote_literal("a row of " + table.old_table +
                          " changed after the statement read it through pgdual's view "
                          "(migration.mapping); retry the transaction") +
      ";\n";
  sql += "    END IF;\n";
  return sql;
}

std::string function_body(const ResolvedTable& table) {
  const std::string new_row = "(SELECT (NEW).*) AS pgdual_row";
  const std::string old_row = "(SELECT (OLD).*) AS pgdual_row";
  const std::string target = table.new_table_quoted();
  const std::string returning = " RETURNING " + old_shape_list(table, false) + " INTO NEW";
  std::string body;
  // Bare names in the expressions are columns, never PL/pgSQL variables.
  body += "#variable_conflict use_column\n";
  body += "DECLARE pgdual_new record; pgdual_old record; pgdual_current text;\n";
  body += "BEGIN\n";
  body += "  IF TG_OP = 'INSERT' THEN\n";
  body += "    INSERT INTO " + target + " (" + new_column_list(table) +
          ") OVERRIDING SYSTEM VALUE " + table.forward_select(new_row) + returning + ";\n";
  body += "    RETURN NEW;\n";
  body += "  ELSIF TG_OP = 'UPDATE' THEN\n";
  body += lock_and_check(table);
  body += "    " + table.forward_select(new_row) + " INTO pgdual_new;\n";
  body += "    " + table.forward_select(old_row) + " INTO pgdual_old;\n";
  body += "    UPDATE " + target + " SET " + update_set_list(table) + " WHERE " + key_match(table) +
          returning + ";\n";
  body += "    IF NOT FOUND THEN RETURN NULL; END IF;\n";
  body += "    RETURN NEW;\n";
  body += "  ELSE\n";
  body += lock_and_check(table);
  body += "    DELETE FROM " + target + " WHERE " + key_match(table) + ";\n";
  body += "    IF NOT FOUND THEN RETURN NULL; END IF;\n";
  body += "    RETURN OLD;\n";
  body += "  END IF;\n";
  body += "END";
  return body;
}

}  // namespace

std::string write_function_name(const ResolvedTable& table) {
  return quote_identifier(table.view_schema) + "." + quote_identifier(table.view_name + "_write");
}

std::vector<std::string> install_statements(const ResolvedTable& table) {
  std::vector<std::string> statements;
  statements.push_back("CREATE VIEW " + table.view_quoted() + " AS SELECT " +
                       old_shape_list(table, true) + " FROM " + table.new_table_quoted());
  for (const auto& column : table.columns) {
    if (column.view_default.empty()) continue;
    statements.push_back("ALTER VIEW " + table.view_quoted() + " ALTER COLUMN " +
                         quote_identifier(column.old_name) + " SET DEFAULT " + column.view_default);
  }
  statements.push_back("CREATE FUNCTION " + write_function_name(table) +
                       // The functions the expressions name resolve as they did when the
                       // check ran, whatever search_path a client's session sets.
                       "() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS " +
                       text::quote_literal(function_body(table)));
  statements.push_back("CREATE TRIGGER pgdual_write INSTEAD OF INSERT OR UPDATE OR DELETE ON " +
                       table.view_quoted() + " FOR EACH ROW EXECUTE FUNCTION " +
                       write_function_name(table) + "()");
  return statements;
}

}  // namespace pgdual::jobs::mapping
