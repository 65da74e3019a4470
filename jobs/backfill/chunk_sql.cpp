#include "jobs/backfill/chunk_sql.hpp"

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

std::string key_list(const TablePlan& plan, std::string_view suffix = "") {
  std::string out;
  for (const auto& column : plan.key) {
    if (!out.empty()) out += ", ";
    out += column.quoted;
    out += suffix;
  }
  return out;
}

// (k1, k2) as a row, comparable with a row of literals; one column stays a plain expression.
std::string key_row(const TablePlan& plan) {
  return plan.key.size() == 1 ? plan.key[0].quoted : "(" + key_list(plan) + ")";
}

std::string literal_row(const TablePlan& plan, const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < plan.key.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ", ";
    out += text::quote_literal(values[i]) + "::" + plan.key[i].type;
  }
  return plan.key.size() == 1 ? out : "(" + out + ")";
}

std::string columns(const TablePlan& plan) { return joined(plan.columns_quoted); }

}  // namespace

std::string lock_next_chunk_sql(const TablePlan& plan, const std::vector<std::string>& after,
                                std::int64_t rows) {
  std::string last_key_text;
  for (const auto& column : plan.key) {
    last_key_text += ", " + column.quoted + "::text";
  }
  // MATERIALIZED: the CTE must run whole (locking every row) even though only its last row is
  // returned.
  std::string sql =
      "WITH locked AS MATERIALIZED (SELECT " + key_list(plan) + " FROM ONLY " + plan.source_quoted;
  if (!after.empty()) sql += " WHERE " + key_row(plan) + " > " + literal_row(plan, after);
  sql += " ORDER BY " + key_list(plan) + " LIMIT " + std::to_string(rows) + " FOR SHARE)";
  sql += " SELECT n" + last_key_text + " FROM (SELECT " + key_list(plan) +
         ", count(*) OVER () AS n, row_number() OVER (ORDER BY " + key_list(plan, " DESC") +
         ") AS position FROM locked) chunk WHERE position = 1";
  return sql;
}

std::string copy_out_sql(const TablePlan& plan, const std::vector<std::string>& after,
                         const std::vector<std::string>& last) {
  std::string sql =
      "COPY (SELECT " + columns(plan) + " FROM ONLY " + plan.source_quoted + " WHERE ";
  if (!after.empty()) sql += key_row(plan) + " > " + literal_row(plan, after) + " AND ";
  sql += key_row(plan) + " <= " + literal_row(plan, last) + ") TO STDOUT";
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

std::string merge_stage_sql(const TablePlan& plan) {
  return "INSERT INTO " + plan.target_quoted + " (" + columns(plan) +
         ") OVERRIDING SYSTEM VALUE SELECT " + columns(plan) + " FROM " + std::string(kStageTable) +
         " ON CONFLICT DO NOTHING";
}

std::string copy_in_target_sql(const TablePlan& plan) {
  std::string sql = "COPY " + plan.target_quoted + " (" + columns(plan) + ") FROM STDIN";
  if (plan.binary) sql += " (FORMAT binary)";
  return sql;
}

}  // namespace pgdual::jobs::backfill
