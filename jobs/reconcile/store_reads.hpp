#pragma once
// The reconcile's reads: one statement on both stores at once (sent to the new store, run on
// the old one, then the new store's answer collected), so a range costs the slower store's time,
// not the sum; and the rows of compare_sql's statements turned into row_diff's inputs.

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "jobs/reconcile/row_diff.hpp"
#include "libpq/connection.hpp"

namespace pgdual::jobs::reconcile {

struct PairResult {
  pg::Result old_rows, new_rows;
  std::string error;  // "" when both succeeded; else which store failed and why
};

PairResult query_both(PGconn* old_store, const std::string& old_sql, PGconn* new_store,
                      const std::string& new_sql);

// checksum_sql's row: count and fingerprint sum (as text: it may exceed 64 bits).
struct Checksum {
  std::int64_t rows = 0;
  std::string sum = "0";
  bool operator==(const Checksum&) const = default;
};
Checksum read_checksum(const pg::Result& result);

// The key columns (the first `key_columns` fields) of row `row`.
Key read_key(const pg::Result& result, int row, std::size_t key_columns);
std::vector<KeyFingerprint> read_fingerprints(const pg::Result& result, std::size_t key_columns);
// fetch_rows_sql's rows: the key, the record text, `columns` values, `columns` normalised ones.
std::vector<FetchedRow> read_fetched_rows(const pg::Result& result, std::size_t key_columns,
                                          std::size_t columns);

}  // namespace pgdual::jobs::reconcile
