#pragma once

// Shadow reads: compares the secondary store's reply to one unit with the primary's, result set by
// result set, and describes the differences. Pure: the captures hold everything it needs.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/shadow/result_capture.hpp"

namespace pgdual::proxy::shadow {

// error: the secondary failed where the primary did not, or either capture is malformed.
enum class Outcome { match, mismatch, error };

// field: one value of a matched row. missing_row / extra_row: a row only the primary / only the
// secondary returned (field "(row)"). columns: the column lists differ ("(columns)"). digest: rows
// differ but were not kept ("(digest)"). status: a result set ended differently: error vs none or
// another SQLSTATE ("(error)"), another command tag ("(command_tag)"), a set only one side
// produced ("(result_set)"), or a malformed capture ("(malformed)").
enum class DifferenceKind { field, missing_row, extra_row, columns, digest, status };

std::string_view to_string(Outcome outcome);
std::string_view to_string(DifferenceKind kind);

struct Difference {
  std::size_t result_set = 0;
  // Key column name = value pairs (all compared columns when matching by whole row), or
  // {"row", "<1-based position>"} for ordered results without keys (entity_is_position).
  std::vector<std::pair<std::string, FieldValue>> entity_id;
  bool entity_is_position = false;
  std::string field;
  // Primary's and secondary's value: std::nullopt is NULL, or the side's absent row. Whole rows
  // read "name=value, ..."; columns, digests and status carry descriptions, not data.
  FieldValue primary_value;
  FieldValue secondary_value;
  DifferenceKind kind = DifferenceKind::field;
};

struct ColumnDifferenceCount {
  std::int32_t table_oid = 0;  // from the RowDescription; 0 when not a table column or unknown
  std::string column;
  std::uint64_t count = 0;  // differing fields (matched rows only), all rows counted
};

struct ComparisonResult {
  Outcome outcome = Outcome::match;
  std::vector<Difference> differences;  // at most max_detail_rows differing rows in detail
  // Rows that differ (a changed row counts once; a missing or extra row once). Exact when both
  // sides kept their rows; otherwise a lower bound from the row counts (1 when only digests
  // differ).
  std::uint64_t differing_rows = 0;
  bool differing_rows_exact = true;
  std::vector<ColumnDifferenceCount> column_differences;
};

// Both captures must have been built with `rules` (their digests depend on it). `ordered`: compare
// rows as lists (the query has ORDER BY), else as multisets. `key_columns`: result column indexes
// forming the table's primary key, applied to every result set: ignored columns drop out of the
// key, and a set where one is out of range is matched by whole row; empty = whole row.
ComparisonResult compare_results(const ResultCapture& primary, const ResultCapture& secondary,
                                 const CompareRules& rules, bool ordered,
                                 const std::vector<std::size_t>& key_columns);

}  // namespace pgdual::proxy::shadow
