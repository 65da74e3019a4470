#pragma once
// `pgdual reconcile`: finds every difference between the two stores table by table (key ranges
// checksummed on both at once, differing ranges split down to rows, every candidate rechecked
// once the writes in flight have landed), reports it, and with --repair execute makes the
// secondary's rows equal to the primary's. A control-plane job: blocking libpq on its own
// threads, straight to the backends, never through pgdual.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "jobs/backfill/table_plan.hpp"
#include "jobs/reconcile/table_report.hpp"

namespace pgdual::jobs::reconcile {

struct ReconcileOptions {
  std::string database;             // empty: backends.old.dbname
  std::vector<std::string> tables;  // empty: every table whose phase mirrors writes
  bool execute = false;             // --repair execute (else dry-run: the SQL is reported)
  std::int64_t max_differences = 1000;
  double max_seconds = 0;  // 0: no limit; then the run pauses (--resume continues)
  bool resume = false;
  bool proof = false;
  unsigned workers = 1;
  std::chrono::milliseconds chunk_target{500};
};

struct ReconcileReport {
  std::string database;
  std::string error;  // the job did not start comparing: why
  std::vector<backfill::Refusal> refusals;
  std::vector<std::string> not_mirrored;
  std::vector<backfill::TablePlan> plans;
  std::vector<TableReport> tables;
  std::vector<std::pair<std::string, std::string>> settings;  // what the comparison assumed
  bool execute = false;
  bool proof = false;
  bool primary_is_new = false;
  bool full_values = false;  // shadow_read.log_values: full; else values are redacted
  double seconds = 0;

  std::int64_t remaining() const;
  // 0: every table compared to its end and equal (or repaired); 1: differences remain (or the
  // run stopped before the end); 2: an error or a refusal.
  int exit_code() const;
};

// `draw` is called about twice a second with the tables' state while the comparison runs.
ReconcileReport run_reconcile(const config::Config& config, const ReconcileOptions& options,
                              const std::atomic<bool>& stop,
                              const std::function<void(const std::vector<TableReport>&)>& draw);

// --continuous: every `interval`, the tables pgdual instances marked (reconcile_queue) are
// reconciled (a "(unknown)" mark: every table); until `stop`. `each` gets every pass's report.
int run_continuous(const config::Config& config, const ReconcileOptions& options,
                   std::chrono::milliseconds interval, const std::atomic<bool>& stop,
                   const std::function<void(const ReconcileReport&)>& each);

}  // namespace pgdual::jobs::reconcile
