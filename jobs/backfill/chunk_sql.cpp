#include "jobs/backfill/chunk_sql.hpp"

#include "jobs/backfill/key_sql.hpp"
#include "jobs/mapping/resolved_mapping.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::backfill {

namespace {

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += ", ";
    out += part;
  }
  return out;
}

std::string columns(const TablePlan& plan) { return joined(plan.columns_quoted); }

// ROW(a.x, a.y)::text for the columns an overwrite sets: text, because json, point and xml have
// no equality operator.
std::string update_row_text(const TablePlan& plan, const std::string& alias) {
  std::string out;
  for (const auto& column : plan.update_columns_quoted) {
    out += (out.empty() ? "" : ", ") + alias + "." + column;
  }
  return "ROW(" + out + ")::text";
}

}  // namespace

TablePlan old_store_side(const TablePlan& plan) {
  TablePlan side = plan;
  if (!plan.old_relation.empty()) side.target_quoted = plan.old_relation;
  return side;
}

std::string next_chunk_end_sql(const TablePlan& plan, const std::vector<std::string>& after,
                               std::int64_t rows) {
  std::string sql = "SELECT " + key_text_columns(plan) + " FROM ONLY " + plan.source_quoted;
  if (!after.empty()) sql += " WHERE " + key_row(plan) + " > " + literal_row(plan, after);
  return sql + " ORDER BY " + key_list(plan) + " LIMIT 1 OFFSET " + std::to_string(rows - 1);
}

std::string chunk_end_of_table_sql(const TablePlan& plan, const std::vector<std::string>& after) {
  std::string sql = "SELECT " + key_text_columns(plan) + " FROM ONLY " + plan.source_quoted;
  if (!after.empty()) sql += " WHERE " + key_row(plan) + " > " + literal_row(plan, after);
  return sql + " ORDER BY " + key_list(plan, " DESC") + " LIMIT 1";
}

std::string copy_out_sql(const TablePlan& plan, const std::vector<std::string>& after,
                         const std::vector<std::string>& last, bool lock_rows) {
  std::string sql =
      "COPY (SELECT " + columns(plan) + " FROM ONLY " + plan.source_quoted + " WHERE ";
  if (!after.empty()) sql += key_row(plan) + " > " + literal_row(plan, after) + " AND ";
  sql += key_row(plan) + " <= " + literal_row(plan, last) + (lock_rows ? " FOR SHARE" : "") +
         ") TO STDOUT";
  if (plan.binary) sql += " (FORMAT binary)";
  return sql;
}

std::string copy_out_all_sql(const TablePlan& plan) {
  std::string sql =
      "COPY (SELECT " + columns(plan) + " FROM ONLY " + plan.source_quoted + ") TO STDOUT";
  if (plan.binary) sql += " (FORMAT binary)";
  return sql;
}

std::string create_stage_sql(const TablePlan& plan) {
  return "DROP TABLE IF EXISTS " + std::string(kStageTable) + "; CREATE TEMP TABLE " +
         std::string(kStageTable).substr(8) + " ON COMMIT DELETE ROWS AS SELECT " + columns(plan) +
         " FROM " + plan.target_quoted + " WITH NO DATA";
}

std::string copy_in_stage_sql(const TablePlan& plan) {
  std::string sql = "COPY " + std::string(kStageTable) + " (" + columns(plan) + ") FROM STDIN";
  if (plan.binary) sql += " (FORMAT binary)";
  return sql;
}

std::string count_present_sql(const TablePlan& plan) {
  std::string match;
  for (const auto& column : plan.key) {
    match += (match.empty() ? "" : " AND ") + std::string("target.") + column.quoted + " = stage." +
             column.quoted;
  }
  return "SELECT count(*) FROM " + std::string(kStageTable) +
         " stage WHERE EXISTS (SELECT 1 FROM " + plan.target_quoted + " target WHERE " + match +
         ")";
}

std::string count_identity_differences_sql(const TablePlan& plan) {
  std::string match, source, target;
  for (const auto& column : plan.key) {
    match += (match.empty() ? "" : " AND ") + std::string("target.") + column.quoted + " = stage." +
             column.quoted;
  }
  for (const auto& column : plan.identity_columns_quoted) {
    source += (source.empty() ? "" : ", ") + std::string("stage.") + column;
    target += (target.empty() ? "" : ", ") + std::string("target.") + column;
  }
  return "SELECT count(*) FROM " + std::string(kStageTable) + " stage JOIN " + plan.target_quoted +
         " target ON " + match + " WHERE ROW(" + source + ")::text IS DISTINCT FROM ROW(" + target +
         ")::text";
}

std::string merge_stage_sql(const TablePlan& plan) {
  // A mapped table: into the new table, each new column from its forward expression.
  if (plan.mapping) return plan.mapping->upsert_sql(std::string(kStageTable) + " AS pgdual_row");
  std::string sql = "INSERT INTO " + plan.target_quoted + " AS target (" + columns(plan) +
                    ") OVERRIDING SYSTEM VALUE SELECT " + columns(plan) + " FROM " +
                    std::string(kStageTable) + " ON CONFLICT (" + key_list(plan) + ")";
  if (plan.update_columns_quoted.empty()) return sql + " DO NOTHING";
  sql += " DO UPDATE SET ";
  for (std::size_t i = 0; i < plan.update_columns_quoted.size(); ++i) {
    const auto& column = plan.update_columns_quoted[i];
    sql += (i == 0 ? "" : ", ") + column + " = EXCLUDED." + column;
  }
  return sql + " WHERE " + update_row_text(plan, "target") + " IS DISTINCT FROM " +
         update_row_text(plan, "EXCLUDED");
}

std::string copy_in_target_sql(const TablePlan& plan) {
  std::string sql = "COPY " + plan.target_quoted + " (" + columns(plan) + ") FROM STDIN";
  if (plan.binary) sql += " (FORMAT binary)";
  return sql;
}

}  // namespace pgdual::jobs::backfill
