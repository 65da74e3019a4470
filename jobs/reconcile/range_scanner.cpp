#include "jobs/reconcile/range_scanner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/reconcile/key_stepper.hpp"
#include "jobs/reconcile/store_reads.hpp"

namespace pgdual::jobs::reconcile {

std::string RangeScanner::compare(const Key& after, const Key& last, std::int64_t& rows_compared,
                                  std::vector<Key>& candidates) {
  const auto started = std::chrono::steady_clock::now();
  const auto took = [&] {
    first_pass_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
  };
  if (spread_) {
    std::int64_t rows = 0;
    const std::size_t before = candidates.size();
    bool bucketed = false;
    auto error = compare_buckets(after, last, candidates, rows, bucketed);
    if (error.empty() && !bucketed) error = list_rows(after, last, candidates, rows);
    took();
    rows_compared += rows;
    if (candidates.size() == before) spread_ = false;  // this part of the table is clean
    return error;
  }
  auto sums =
      both([&](const TablePlan& plan) { return checksum_sql(plan, options_, after, last); });
  took();
  if (!sums.error.empty()) return sums.error;
  ++ranges_checked_;
  const Checksum old_sum = read_checksum(sums.old_rows);
  const Checksum new_sum = read_checksum(sums.new_rows);
  rows_compared += std::max(old_sum.rows, new_sum.rows);
  if (old_sum == new_sum) return "";
  return descend(after, last, old_sum.rows, new_sum.rows, 0, candidates);
}

std::string RangeScanner::descend(const Key& after, const Key& last, std::int64_t old_rows,
                                  std::int64_t new_rows, int depth, std::vector<Key>& candidates) {
  const std::int64_t rows = std::max(old_rows, new_rows);
  std::int64_t listed = 0;
  if (rows <= kListRows || depth >= kMaxDepth) return list_rows(after, last, candidates, listed);
  // The middle key of the store with more rows of the range: each half then holds at most
  // about half of that store's rows.
  PGconn* larger = old_rows >= new_rows ? stores_.old_store.get() : stores_.new_store.get();
  std::string error;
  const TablePlan& side = larger == stores_.old_store.get() ? old_plan_ : plan_;
  const pg::Result middle =
      backfill::run_query(larger, split_key_sql(side, after, last, rows / 2 - 1), {}, error);
  if (!middle) return (larger == stores_.old_store.get() ? "old store: " : "new store: ") + error;
  if (PQntuples(middle.get()) != 1) {
    return list_rows(after, last, candidates, listed);  // the range changed meanwhile
  }
  const Key mid = read_key(middle, 0, plan_.key.size());
  struct Half {
    Key from, to;
    Checksum old_sum, new_sum;
  };
  std::vector<Half> differing;
  for (const auto& [from, to] : {std::pair{after, mid}, std::pair{mid, last}}) {
    auto sums = both([&](const TablePlan& plan) { return checksum_sql(plan, options_, from, to); });
    if (!sums.error.empty()) return sums.error;
    ++ranges_checked_;
    Half half{from, to, read_checksum(sums.old_rows), read_checksum(sums.new_rows)};
    if (!(half.old_sum == half.new_sum)) differing.push_back(std::move(half));
  }
  // Both halves differ: the differences are spread out; halving further would rescan the
  // range at every level. List the halves instead, and the next chunks too (compare()).
  spread_ = differing.size() == 2;
  for (const auto& half : differing) {
    const std::int64_t half_rows = std::max(half.old_sum.rows, half.new_sum.rows);
    auto failed = spread_ && half_rows <= kListMax
                      ? list_rows(half.from, half.to, candidates, listed)
                      : descend(half.from, half.to, half.old_sum.rows, half.new_sum.rows, depth + 1,
                                candidates);
    if (!failed.empty()) return failed;
  }
  return "";
}

std::string RangeScanner::compare_buckets(const Key& after, const Key& last,
                                          std::vector<Key>& candidates, std::int64_t& rows,
                                          bool& used) {
  used = plan_.key.size() == 1 && KeyStepper::steps(plan_.key[0].type) && after.size() == 1 &&
         last.size() == 1;
  if (!used) return "";
  const std::int64_t from = std::stoll(after[0]);
  const std::int64_t to = std::stoll(last[0]);
  const std::int64_t width = std::max<std::int64_t>(1, (to - from + kBuckets - 1) / kBuckets);
  auto sums = both(
      [&](const TablePlan& plan) { return bucket_checksums_sql(plan, options_, from, to, width); });
  if (!sums.error.empty()) return sums.error;
  ++ranges_checked_;
  // bucket -> (count, sum) on each store; a bucket on one side only, or unequal, differs.
  std::map<std::int64_t, std::pair<std::string, std::string>> buckets[2];
  std::int64_t counts[2] = {0, 0};
  const pg::Result* results[2] = {&sums.old_rows, &sums.new_rows};
  for (int side = 0; side < 2; ++side) {
    const PGresult* result = results[side]->get();
    for (int row = 0; row < PQntuples(result); ++row) {
      buckets[side][std::stoll(PQgetvalue(result, row, 0))] = {PQgetvalue(result, row, 1),
                                                               PQgetvalue(result, row, 2)};
      counts[side] += std::stoll(PQgetvalue(result, row, 1));
    }
  }
  rows = std::max(counts[0], counts[1]);
  const auto differs = [&](std::int64_t bucket) {
    const auto old_found = buckets[0].find(bucket);
    const auto new_found = buckets[1].find(bucket);
    return old_found == buckets[0].end() || new_found == buckets[1].end() ||
           old_found->second != new_found->second;
  };
  std::set<std::int64_t> differing;
  for (const auto& side : buckets) {
    for (const auto& [bucket, sums] : side) {
      if (differs(bucket)) differing.insert(bucket);
    }
  }
  if (differing.empty()) return "";
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (const std::int64_t bucket : differing) {
    const std::int64_t low = from + bucket * width;
    ranges.emplace_back(low, std::min(to, low + width));
  }
  std::int64_t listed = 0;
  return list_query(
      [&](const TablePlan& plan) { return ranges_fingerprints_sql(plan, options_, ranges); },
      candidates, listed);
}

std::string RangeScanner::list_rows(const Key& after, const Key& last, std::vector<Key>& candidates,
                                    std::int64_t& rows) {
  return list_query(
      [&](const TablePlan& plan) { return row_fingerprints_sql(plan, options_, after, last); },
      candidates, rows);
}

template <class Sql>
std::string RangeScanner::list_query(const Sql& sql, std::vector<Key>& candidates,
                                     std::int64_t& rows) {
  auto listed = both(sql);
  if (!listed.error.empty()) return listed.error;
  ++ranges_checked_;
  rows = std::max(PQntuples(listed.old_rows.get()), PQntuples(listed.new_rows.get()));
  const std::size_t key_columns = plan_.key.size();
  for (const auto& candidate : candidates_of(read_fingerprints(listed.old_rows, key_columns),
                                             read_fingerprints(listed.new_rows, key_columns))) {
    candidates.push_back(
        read_key(candidate.on_old ? listed.old_rows : listed.new_rows, candidate.row, key_columns));
  }
  return "";
}

}  // namespace pgdual::jobs::reconcile
