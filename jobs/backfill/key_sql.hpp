#pragma once
// SQL fragments over a table's key, shared by the backfill's chunks and the reconcile's ranges.
// Key values travel as text and are cast back with the key column's type (inlined as literals:
// COPY (query) takes no parameters). Pure.

#include <string>
#include <string_view>
#include <vector>

#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

// k1, k2 (each followed by `suffix`, e.g. " DESC").
std::string key_list(const TablePlan& plan, std::string_view suffix = "");
// (k1, k2) as a row, comparable with literal_row; one column stays a plain expression.
std::string key_row(const TablePlan& plan, std::string_view alias = "");
// ('v1'::type1, 'v2'::type2), or 'v1'::type1 for one column.
std::string literal_row(const TablePlan& plan, const std::vector<std::string>& values);
// k1::text AS key_0, ...: the key's text under other names (ORDER BY k would otherwise sort by
// the output column k, the text, not by the key).
std::string key_text_columns(const TablePlan& plan);
// "key > after AND key <= last", either bound left out when empty; "true" when both are.
std::string key_range(const TablePlan& plan, const std::vector<std::string>& after,
                      const std::vector<std::string>& last);

}  // namespace pgdual::jobs::backfill
