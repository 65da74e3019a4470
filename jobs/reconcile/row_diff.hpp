#pragma once
// Which rows differ, from what the two stores returned. Pure, so every case is unit tested.
//   - candidates(): from the key and fingerprint of every row of a range on each store, the
//     keys whose row is missing on one side or fingerprinted differently;
//   - compare_rows(): from the full rows fetched by key (under locks, when rechecking), the
//     differences, with the columns that differ. Floats within the configured relative tolerance
//     are equal (the fingerprints only round them).

#include <cstdint>
#include <string>
#include <vector>

#include "jobs/reconcile/repair_sql.hpp"

namespace pgdual::jobs::reconcile {

enum class DifferenceKind { only_on_old, only_on_new, different };
const char* to_string(DifferenceKind kind);

struct KeyFingerprint {
  Key key;
  std::int64_t fingerprint = 0;
};

// Keys in either list whose fingerprint the other list lacks or has otherwise; each once.
std::vector<Key> candidates_of(const std::vector<KeyFingerprint>& old_rows,
                               const std::vector<KeyFingerprint>& new_rows);

struct FetchedRow {
  Key key;
  std::string normalized;     // the record text the fingerprint is taken of
  std::vector<Value> values;  // every column (plan.columns_quoted), as the store prints it
};

struct RowDifference {
  Key key;
  DifferenceKind kind = DifferenceKind::different;
  std::vector<std::string> columns;  // different: the columns whose values differ
  std::vector<Value> old_values, new_values;
  std::string repair;     // the statement that makes the secondary's row equal to the primary's
  bool repaired = false;  // --repair execute ran it and the row then compared equal
};

// Rows of the same keys from both stores; the keys present on neither side are not differences.
std::vector<RowDifference> compare_rows(const TablePlan& plan,
                                        const std::vector<FetchedRow>& old_rows,
                                        const std::vector<FetchedRow>& new_rows,
                                        double float_tolerance);

// Whether two printed floats are within a relative tolerance (NaN equals NaN, as PostgreSQL
// orders it; infinities equal only themselves).
bool floats_close(const std::string& a, const std::string& b, double tolerance);

}  // namespace pgdual::jobs::reconcile
