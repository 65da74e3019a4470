#include "jobs/reconcile/repair_sql.hpp"

#include "jobs/backfill/key_sql.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::reconcile {

std::string upsert_sql(const TablePlan& plan, const std::vector<Value>& values) {
  std::string columns, literals;
  for (std::size_t i = 0; i < plan.columns_quoted.size() && i < values.size(); ++i) {
    columns += (i == 0 ? "" : ", ") + plan.columns_quoted[i];
    literals += i == 0 ? "" : ", ";
    literals += values[i] ? text::quote_literal(*values[i]) + "::" + plan.column_types[i] : "NULL";
  }
  std::string sql = "INSERT INTO " + plan.target_quoted + " AS target (" + columns +
                    ") OVERRIDING SYSTEM VALUE VALUES (" + literals + ") ON CONFLICT (" +
                    backfill::key_list(plan) + ")";
  if (plan.update_columns_quoted.empty()) return sql + " DO NOTHING";
  sql += " DO UPDATE SET ";
  for (std::size_t i = 0; i < plan.update_columns_quoted.size(); ++i) {
    const auto& column = plan.update_columns_quoted[i];
    sql += (i == 0 ? "" : ", ") + column + " = EXCLUDED." + column;
  }
  return sql;
}

std::string delete_sql(const TablePlan& plan, const Key& key) {
  return "DELETE FROM " + plan.target_quoted + " WHERE " + backfill::key_row(plan) + " = " +
         backfill::literal_row(plan, key);
}

}  // namespace pgdual::jobs::reconcile
