#include "jobs/reconcile/repair_sql.hpp"

#include "jobs/backfill/key_sql.hpp"
#include "jobs/mapping/resolved_mapping.hpp"
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

std::string mapped_repair_sql(const TablePlan& plan, const std::vector<Value>& values,
                              const Key& key, bool remove, bool to_old_store) {
  const auto& mapping = *plan.mapping;
  if (to_old_store) {
    // The new store's row in the old shape is exact only where every column has a lossless
    // inverse: anything else would write an approximation into the store being rolled back to.
    std::string written;
    for (const auto& name : mapping.lossy_kept_columns()) {
      written += (written.empty() ? "" : ", ") + name;
    }
    if (!remove && !written.empty()) {
      return "DO $pgdual$ BEGIN RAISE EXCEPTION '%', " +
             text::quote_literal("cannot repair " + mapping.old_table +
                                 " on the old store: column(s) " + written +
                                 " are mapped without a lossless inverse") +
             "; END $pgdual$";
    }
    TablePlan old_table = plan;
    old_table.target_quoted = mapping.old_table_quoted();
    return remove ? delete_sql(old_table, key) : upsert_sql(old_table, values);
  }
  if (remove) {
    std::string columns;
    for (const auto& name : mapping.new_key) {
      columns += (columns.empty() ? "" : ", ") + text::quote_identifier(name);
    }
    // (k1, k2) for a key of several columns, like literal_row; one column stays plain.
    if (mapping.new_key.size() > 1) columns = "(" + columns + ")";
    return "DELETE FROM " + mapping.new_table_quoted() + " WHERE " + columns + " = " +
           backfill::literal_row(plan, key);
  }
  std::string literals;
  for (std::size_t i = 0; i < plan.columns_quoted.size() && i < values.size(); ++i) {
    literals += i == 0 ? "" : ", ";
    literals += values[i] ? text::quote_literal(*values[i]) + "::" + plan.column_types[i] : "NULL";
  }
  std::string columns;
  for (const auto& column : plan.columns_quoted) columns += (columns.empty() ? "" : ", ") + column;
  return mapping.upsert_sql("(VALUES (" + literals + ")) AS pgdual_row (" + columns + ")");
}

}  // namespace pgdual::jobs::reconcile
