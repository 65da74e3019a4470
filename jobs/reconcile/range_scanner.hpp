#pragma once
// Finds the keys that may differ in one key range: the range's checksum on both stores at once;
// equal, done; otherwise the range is split at its middle key and each half compared again,
// down to ranges of at most kListRows rows, whose keys and fingerprints are then compared row by
// row. Only the halves that differ are descended into, so a few scattered differences cost a
// few small queries each, not a second pass over the table.
//
// No locks: under live writes a range may differ only because a write reached one store first.
// What it returns are candidates; the recheck (recheck.hpp) decides.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "jobs/backfill/store_pair.hpp"
#include "jobs/reconcile/compare_sql.hpp"
#include "jobs/reconcile/store_reads.hpp"

namespace pgdual::jobs::reconcile {

//
// Differences spread all over a table (both halves of a split differ) make the halving rescan
// every chunk at each level; the scanner then switches to listing whole chunks at once (keys and
// fingerprints of every row, compared in memory: one pass instead of several), and back to
// checksums as soon as a listed chunk has no difference.
class RangeScanner {
 public:
  static constexpr std::int64_t kListRows = 2000;
  static constexpr std::int64_t kListMax = 500000;  // rows listed at once (memory: ~50 bytes each)
  static constexpr int kMaxDepth = 64;
  static constexpr std::int64_t kBuckets = 4096;  // per chunk, when differences are spread

  RangeScanner(const TablePlan& plan, const CompareOptions& options, backfill::StorePair& stores)
      : plan_(plan),
        old_plan_(backfill::old_store_side(plan)),
        options_(options),
        stores_(stores) {}

  // Compares (after, last] (an empty `last`: to the end of the table). Adds the rows compared
  // (the larger store's count) and the keys that may differ. "" or what failed.
  std::string compare(const Key& after, const Key& last, std::int64_t& rows_compared,
                      std::vector<Key>& candidates);

  std::int64_t ranges_checked() const { return ranges_checked_; }
  // How long the last compare() took for its first pass over the range (its checksums, or its
  // listing): the chunk's time for sizing the next one, without the search for differences.
  std::chrono::microseconds first_pass_time() const { return first_pass_time_; }

 private:
  std::string descend(const Key& after, const Key& last, std::int64_t old_rows,
                      std::int64_t new_rows, int depth, std::vector<Key>& candidates);
  // Integer keys: per-bucket checksums of the range in one pass, then only the differing
  // buckets listed. "" or the error; `used` false when the range cannot be bucketed.
  std::string compare_buckets(const Key& after, const Key& last, std::vector<Key>& candidates,
                              std::int64_t& rows, bool& used);
  // `sql` builds the query for one side's plan (a mapped table reads another relation on each).
  template <class Sql>
  std::string list_query(const Sql& sql, std::vector<Key>& candidates, std::int64_t& rows);
  template <class Sql>
  PairResult both(const Sql& sql) {
    return query_both(stores_.old_store.get(), sql(old_plan_), stores_.new_store.get(), sql(plan_));
  }
  // Adds the keys that differ; `rows`: the larger store's row count of the range.
  std::string list_rows(const Key& after, const Key& last, std::vector<Key>& candidates,
                        std::int64_t& rows);

  const TablePlan& plan_;
  const TablePlan old_plan_;  // the old store's side (backfill::old_store_side)
  CompareOptions options_;
  backfill::StorePair& stores_;
  std::int64_t ranges_checked_ = 0;
  std::chrono::microseconds first_pass_time_{0};
  bool spread_ = false;  // the last split found differences in both halves
};

}  // namespace pgdual::jobs::reconcile
