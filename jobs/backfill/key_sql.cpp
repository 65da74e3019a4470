#include "jobs/backfill/key_sql.hpp"

#include "text/sql_quote.hpp"

namespace pgdual::jobs::backfill {

std::string key_list(const TablePlan& plan, std::string_view suffix) {
  std::string out;
  for (const auto& column : plan.key) {
    if (!out.empty()) out += ", ";
    out += column.quoted;
    out += suffix;
  }
  return out;
}

std::string key_row(const TablePlan& plan, std::string_view alias) {
  std::string out;
  for (const auto& column : plan.key) {
    if (!out.empty()) out += ", ";
    if (!alias.empty()) out += std::string(alias) + ".";
    out += column.quoted;
  }
  return plan.key.size() == 1 ? out : "(" + out + ")";
}

std::string literal_row(const TablePlan& plan, const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < plan.key.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ", ";
    out += text::quote_literal(values[i]) + "::" + plan.key[i].type;
  }
  return plan.key.size() == 1 ? out : "(" + out + ")";
}

std::string key_text_columns(const TablePlan& plan) {
  std::string out;
  for (std::size_t i = 0; i < plan.key.size(); ++i) {
    out += (i == 0 ? "" : ", ") + plan.key[i].quoted + "::text AS key_" + std::to_string(i);
  }
  return out;
}

std::string key_range(const TablePlan& plan, const std::vector<std::string>& after,
                      const std::vector<std::string>& last) {
  std::string out;
  if (!after.empty()) out = key_row(plan) + " > " + literal_row(plan, after);
  if (!last.empty()) {
    out += (out.empty() ? "" : " AND ") + key_row(plan) + " <= " + literal_row(plan, last);
  }
  return out.empty() ? "true" : out;
}

}  // namespace pgdual::jobs::backfill
