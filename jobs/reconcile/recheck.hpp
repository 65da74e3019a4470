#pragma once
// Decides which candidate keys really differ, with no false positive under live writes, and
// (with --repair execute) repairs them. A key is reported only if it still differs in a second
// comparison made after every write that was in flight at the first one has landed:
//
//   round 1   primary: BEGIN; SELECT the rows FOR SHARE        a writer of those rows that has
//                                                               not committed is waited for, and
//                                                               no later one can commit
//             outbox (or a journal with entries): the journal fence, as in the backfill: every
//                                                               write committed on the old store
//                                                               reaches the new one first
//             secondary: BEGIN; the snapshot of transactions in progress;
//                        SELECT the rows FOR SHARE             a mirrored UPDATE or DELETE still
//                                                               open there is waited for
//   settle    until every transaction of that snapshot ended on the secondary: a mirrored INSERT
//             (no row to lock yet) that executed there before the primary's COMMIT has committed
//             (strategy async: also limits.secondary_timeout, its queue may hold more)
//   round 2   as round 1, on the keys that still differed; with execute, the repairs run in the
//             secondary's transaction while the primary's locks hold (the primary's row wins),
//             then the secondary commits, then the primary
//   verify    the repaired keys compared once more
//
// The primary is the old store, or the new one in the cutover phase.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "jobs/backfill/journal_fence.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/reconcile/row_diff.hpp"

namespace pgdual::jobs::reconcile {

struct RecheckSettings {
  CompareOptions options;
  double float_tolerance = 0;
  bool primary_is_new = false;
  bool execute = false;  // run the repairs
  config::Strategy strategy = config::Strategy::sync;
  std::string journal_schema;
  std::chrono::milliseconds settle_timeout{6000};
  std::chrono::milliseconds async_wait{5000};
};

struct RecheckOutcome {
  std::vector<RowDifference> differences;  // confirmed; `repaired` set on those fixed
  std::int64_t repaired = 0;
  std::int64_t repair_failed = 0;
  std::int64_t cleared = 0;  // candidates that were equal once rechecked (writes in flight)
};

class Rechecker {
 public:
  static constexpr std::size_t kBatch = 500;
  static constexpr int kAttempts = 5;

  Rechecker(const TablePlan& plan, const RecheckSettings& settings, backfill::StorePair& stores);

  // "" or what failed; `outcome` holds what was decided before a failure.
  std::string run(const std::vector<Key>& keys, RecheckOutcome& outcome);

 private:
  struct Round {
    std::vector<RowDifference> differences;
    std::string snapshot;  // the secondary's transactions in progress (pg_snapshot text)
  };
  std::string run_batch(const std::vector<Key>& batch, RecheckOutcome& outcome);
  std::string round(const std::vector<Key>& keys, bool repair, Round& out, RecheckOutcome& outcome);
  std::string settle(const std::string& snapshot);
  std::string apply_repairs(std::vector<RowDifference>& differences, RecheckOutcome& outcome);

  PGconn* primary() const;
  PGconn* secondary() const;

  const TablePlan& plan_;
  RecheckSettings settings_;
  backfill::StorePair& stores_;
  backfill::JournalFence fence_;
  bool fence_checked_ = false;
};

// The repair statement of one difference (primary -> secondary).
std::string repair_statement(const TablePlan& plan, const RowDifference& difference,
                             bool primary_is_new);

}  // namespace pgdual::jobs::reconcile
