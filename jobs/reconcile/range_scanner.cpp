#include "jobs/reconcile/range_scanner.hpp"

#include <algorithm>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/reconcile/store_reads.hpp"

namespace pgdual::jobs::reconcile {

std::string RangeScanner::compare(const Key& after, const Key& last, std::int64_t& rows_compared,
                                  std::vector<Key>& candidates) {
  const std::string sql = checksum_sql(plan_, options_, after, last);
  auto both = query_both(stores_.old_store.get(), sql, stores_.new_store.get(), sql);
  if (!both.error.empty()) return both.error;
  ++ranges_checked_;
  const Checksum old_sum = read_checksum(both.old_rows);
  const Checksum new_sum = read_checksum(both.new_rows);
  rows_compared += std::max(old_sum.rows, new_sum.rows);
  if (old_sum == new_sum) return "";
  return descend(after, last, old_sum.rows, new_sum.rows, 0, candidates);
}

std::string RangeScanner::descend(const Key& after, const Key& last, std::int64_t old_rows,
                                  std::int64_t new_rows, int depth, std::vector<Key>& candidates) {
  const std::int64_t rows = std::max(old_rows, new_rows);
  if (rows <= kListRows || depth >= kMaxDepth) return list_rows(after, last, candidates);
  // The middle key of the store with more rows of the range: each half then holds at most
  // about half of that store's rows.
  PGconn* larger = old_rows >= new_rows ? stores_.old_store.get() : stores_.new_store.get();
  std::string error;
  const pg::Result middle =
      backfill::run_query(larger, split_key_sql(plan_, after, last, rows / 2 - 1), {}, error);
  if (!middle) return (larger == stores_.old_store.get() ? "old store: " : "new store: ") + error;
  if (PQntuples(middle.get()) != 1) return list_rows(after, last, candidates);  // it moved
  const Key mid = read_key(middle, 0, plan_.key.size());
  for (const auto& [from, to] : {std::pair{after, mid}, std::pair{mid, last}}) {
    const std::string sql = checksum_sql(plan_, options_, from, to);
    auto both = query_both(stores_.old_store.get(), sql, stores_.new_store.get(), sql);
    if (!both.error.empty()) return both.error;
    ++ranges_checked_;
    const Checksum old_sum = read_checksum(both.old_rows);
    const Checksum new_sum = read_checksum(both.new_rows);
    if (old_sum == new_sum) continue;
    if (auto failed = descend(from, to, old_sum.rows, new_sum.rows, depth + 1, candidates);
        !failed.empty()) {
      return failed;
    }
  }
  return "";
}

std::string RangeScanner::list_rows(const Key& after, const Key& last,
                                    std::vector<Key>& candidates) {
  const std::string sql = row_fingerprints_sql(plan_, options_, after, last);
  auto both = query_both(stores_.old_store.get(), sql, stores_.new_store.get(), sql);
  if (!both.error.empty()) return both.error;
  const auto keys = candidates_of(read_fingerprints(both.old_rows, plan_.key.size()),
                                  read_fingerprints(both.new_rows, plan_.key.size()));
  candidates.insert(candidates.end(), keys.begin(), keys.end());
  return "";
}

}  // namespace pgdual::jobs::reconcile
