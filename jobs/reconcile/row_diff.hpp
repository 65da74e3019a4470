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

// One row of a listed range: hashes of its key's text and of its values, and where it is in
// the store's result (its key's text is read from there only when the row differs).
struct KeyFingerprint {
  std::int64_t key_hash = 0;
  std::int64_t fingerprint = 0;
  int row = 0;
};

struct CandidateRow {
  bool on_old = true;  // which store's result the row is in
  int row = 0;
};

// The rows of either list whose key the other list lacks or fingerprints otherwise; a key in
// both lists is returned once (as the old store's row). Two keys whose 64-bit hashes collide
// (about 2^-64) would be compared with each other: a candidate the recheck clears, or a
// difference missed with that probability.
std::vector<CandidateRow> candidates_of(const std::vector<KeyFingerprint>& old_rows,
                                        const std::vector<KeyFingerprint>& new_rows);

struct FetchedRow {
  Key key;
  std::string normalized;     // the record text the fingerprint is taken of
  std::vector<Value> values;  // every column (plan.columns_quoted), as the store prints it
  // Every column as fingerprinted (normalized_value); empty: the same as `values`.
  std::vector<Value> normalized_values;
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
