#pragma once
// The SQL text of the reconcile's comparisons, built from a TablePlan. Pure, so the statements
// are unit tested. Both stores run the same text on the same table (plan.target: a partitioned
// table is compared whole, through its root), under the same session settings (StorePair), so a
// value's text is the same on both sides when the values are equal.
//
// A row's fingerprint is hashtextextended() (64 bits) of its record text, with the values
// normalised where equal values may print differently:
//   - json: compared as jsonb (key order and white space do not matter; jsonb is stored so),
//   - unconstrained numeric: trim_scale (1.0 = 1.00; a numeric(p,s) column has one scale),
//   - real / double precision, only when a tolerance is configured: rounded to that many
//     significant digits (the row comparison then applies the exact relative tolerance),
//   - timestamptz: the sessions run in UTC, so the same instant prints the same.
// A range's checksum is count(*) and sum() of the fingerprints (summed in 128 bits by
// PostgreSQL): order-independent, and unlike XOR a pair of equal rows does not cancel out.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::reconcile {

using backfill::TablePlan;
using Key = std::vector<std::string>;  // a key's values as text, in key order

struct CompareOptions {
  int float_digits = 0;  // 0: floats compared exactly; else significant digits hashed
};

// The value expression a column is fingerprinted by.
std::string normalized_value(const std::string& column_quoted, const std::string& type,
                             const CompareOptions& options);
// ROW(normalized values)::text
std::string row_text(const TablePlan& plan, const CompareOptions& options);

// count, sum of fingerprints (text; "0" for no rows) of the rows with a key in (after, last];
// an empty bound is open.
std::string checksum_sql(const TablePlan& plan, const CompareOptions& options, const Key& after,
                         const Key& last);
// The key `rows` keys after `after` (no row: fewer are left).
std::string boundary_sql(const TablePlan& plan, const Key& after, std::int64_t rows);
// The `offset`-th key (from 0) in (after, last]: where a range is split in two.
std::string split_key_sql(const TablePlan& plan, const Key& after, const Key& last,
                          std::int64_t offset);
// key columns as text, a 64-bit hash of the key's text, then the fingerprint, of every row in
// (after, last].
std::string row_fingerprints_sql(const TablePlan& plan, const CompareOptions& options,
                                 const Key& after, const Key& last);
// For a table keyed by one integer column: count and fingerprint sum per bucket of `width`
// key values in (after, last]: bucket, count, sum (one pass, a few thousand groups).
std::string bucket_checksums_sql(const TablePlan& plan, const CompareOptions& options,
                                 std::int64_t after, std::int64_t last, std::int64_t width);
// As row_fingerprints_sql, of the rows in any of the key ranges (from, to].
std::string ranges_fingerprints_sql(
    const TablePlan& plan, const CompareOptions& options,
    const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges);
// key columns as text, the normalised record text, every column, then every column normalised
// (as text), of the rows with these
// keys; `lock`: FOR SHARE (waits for writers in progress, then holds them off).
std::string fetch_rows_sql(const TablePlan& plan, const CompareOptions& options,
                           const std::vector<Key>& keys, bool lock);

}  // namespace pgdual::jobs::reconcile
