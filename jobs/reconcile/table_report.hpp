#pragma once
// What the reconcile found in one table, shared between the workers that compare and the thread
// that draws progress and writes the report. Plain data.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/reconcile/row_diff.hpp"
#include "jobs/reconcile/store_reads.hpp"

namespace pgdual::jobs::reconcile {

struct TableProof {
  Checksum old_sum, new_sum;
  int attempts = 0;     // whole-table checksum pairs taken (live writes move them)
  std::string verdict;  // equal, equal_by_rows, different
};

struct TableReport {
  std::string table;              // the compared table ("schema.table"; a partitioned root)
  std::string state = "pending";  // pending, comparing, done, paused, stopped, failed
  std::optional<std::int64_t> estimated_rows;
  std::int64_t rows_compared = 0;  // over this run and the run it resumed
  std::int64_t only_on_old = 0, only_on_new = 0, different = 0;
  std::int64_t repaired = 0, repair_failed = 0;
  std::int64_t cleared = 0;              // candidates equal once rechecked: writes were in flight
  std::int64_t ranges = 0;               // checksum pairs taken
  std::int64_t earlier_differences = 0;  // found by the run this one resumed
  double seconds = 0;
  std::vector<RowDifference> differences;  // this run's, at most --max-differences
  std::string error;
  std::optional<TableProof> proof;

  std::int64_t differences_found() const {
    return earlier_differences + only_on_old + only_on_new + different;
  }
  // What still differs: found and not repaired.
  std::int64_t remaining() const { return differences_found() - repaired; }
  std::int64_t rows_matching() const {
    const std::int64_t matching = rows_compared - (only_on_old + only_on_new + different);
    return matching < 0 ? 0 : matching;
  }
  double rows_per_second() const { return seconds > 0 ? rows_compared / seconds : 0; }
};

}  // namespace pgdual::jobs::reconcile
