#include "jobs/reconcile/compare_sql.hpp"

#include "jobs/backfill/key_sql.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using backfill::key_list;
using backfill::key_range;
using backfill::key_row;
using backfill::key_text_columns;
using backfill::literal_row;

bool is_float(const std::string& type) { return type == "real" || type == "double precision"; }

}  // namespace

std::string normalized_value(const std::string& column_quoted, const std::string& type,
                             const CompareOptions& options) {
  if (type == "json") return column_quoted + "::jsonb";
  if (type == "numeric") return "trim_scale(" + column_quoted + ")";
  if (is_float(type) && options.float_digits > 0) {
    // to_char's scientific form keeps `float_digits` significant digits; zero, NaN and the
    // infinities print as they are.
    const std::string format =
        "'9." + std::string(static_cast<std::size_t>(options.float_digits - 1), '9') + "EEEE'";
    return "CASE WHEN " + column_quoted + " = 0 OR " + column_quoted +
           " IN ('NaN', 'Infinity', '-Infinity') THEN " + column_quoted + "::text ELSE to_char(" +
           column_quoted + "::float8, " + format + ") END";
  }
  return column_quoted;
}

std::string row_text(const TablePlan& plan, const CompareOptions& options) {
  std::string out;
  for (std::size_t i = 0; i < plan.columns_quoted.size(); ++i) {
    const std::string type = i < plan.column_types.size() ? plan.column_types[i] : "";
    out += (i == 0 ? "" : ", ") + normalized_value(plan.columns_quoted[i], type, options);
  }
  return "ROW(" + out + ")::text";
}

namespace {

std::string key_hash_and_fingerprint(const TablePlan& plan, const CompareOptions& options) {
  const std::string key_text =
      plan.key.size() == 1 ? plan.key[0].quoted + "::text" : "ROW(" + key_list(plan) + ")::text";
  return key_text_columns(plan) + ", hashtextextended(" + key_text + ", 0), hashtextextended(" +
         row_text(plan, options) + ", 0)";
}

}  // namespace

std::string checksum_sql(const TablePlan& plan, const CompareOptions& options, const Key& after,
                         const Key& last) {
  return "SELECT count(*), coalesce(sum(hashtextextended(" + row_text(plan, options) +
         ", 0)), 0) FROM " + plan.target_quoted + " WHERE " + key_range(plan, after, last);
}

std::string boundary_sql(const TablePlan& plan, const Key& after, std::int64_t rows) {
  return "SELECT " + key_text_columns(plan) + " FROM " + plan.target_quoted + " WHERE " +
         key_range(plan, after, {}) + " ORDER BY " + key_list(plan) + " LIMIT 1 OFFSET " +
         std::to_string(rows - 1);
}

std::string split_key_sql(const TablePlan& plan, const Key& after, const Key& last,
                          std::int64_t offset) {
  return "SELECT " + key_text_columns(plan) + " FROM " + plan.target_quoted + " WHERE " +
         key_range(plan, after, last) + " ORDER BY " + key_list(plan) + " LIMIT 1 OFFSET " +
         std::to_string(offset);
}

std::string row_fingerprints_sql(const TablePlan& plan, const CompareOptions& options,
                                 const Key& after, const Key& last) {
  return "SELECT " + key_hash_and_fingerprint(plan, options) + " FROM " + plan.target_quoted +
         " WHERE " + key_range(plan, after, last);
}

std::string bucket_checksums_sql(const TablePlan& plan, const CompareOptions& options,
                                 std::int64_t after, std::int64_t last, std::int64_t width) {
  const std::string& key = plan.key[0].quoted;
  return "SELECT (" + key + "::bigint - (" + std::to_string(after) + ")::bigint - 1) / " +
         std::to_string(width) + ", count(*), sum(hashtextextended(" + row_text(plan, options) +
         ", 0)) FROM " + plan.target_quoted + " WHERE " + key + " > " + std::to_string(after) +
         " AND " + key + " <= " + std::to_string(last) + " GROUP BY 1";
}

std::string ranges_fingerprints_sql(
    const TablePlan& plan, const CompareOptions& options,
    const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges) {
  // Joined with the list of ranges, so each range is one index range scan (an OR of hundreds of
  // ranges would be a filter evaluated on every row of the table).
  std::string values;
  for (const auto& [from, to] : ranges) {
    values += (values.empty() ? "(" : ", (") + std::to_string(from) + "::bigint, " +
              std::to_string(to) + "::bigint)";
  }
  if (values.empty()) values = "(0::bigint, 0::bigint)";
  const std::string& key = plan.key[0].quoted;
  return "SELECT " + key_hash_and_fingerprint(plan, options) + " FROM (VALUES " + values +
         ") AS pgdual_range (low, high) JOIN " + plan.target_quoted + " ON " + key +
         " > pgdual_range.low AND " + key + " <= pgdual_range.high";
}

std::string fetch_rows_sql(const TablePlan& plan, const CompareOptions& options,
                           const std::vector<Key>& keys, bool lock) {
  std::string columns, normalized;
  for (std::size_t i = 0; i < plan.columns_quoted.size(); ++i) {
    const std::string& column = plan.columns_quoted[i];
    columns += ", " + column;
    const std::string type = i < plan.column_types.size() ? plan.column_types[i] : "";
    normalized += ", (" + normalized_value(column, type, options) + ")::text";
  }
  std::string in;
  for (const auto& key : keys) in += (in.empty() ? "" : ", ") + literal_row(plan, key);
  if (in.empty()) in = "NULL";
  return "SELECT " + key_text_columns(plan) + ", " + row_text(plan, options) + columns +
         normalized + " FROM " + plan.target_quoted + " WHERE " + key_row(plan) + " IN (" + in +
         ")" + (lock ? " FOR SHARE" : "");
}

}  // namespace pgdual::jobs::reconcile
