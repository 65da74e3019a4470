#pragma once
// One table's reconciliation: the advisory lock (one reconciler per table), the chunks in key
// order (size by time, as the backfill's), each compared by RangeScanner and its candidates
// decided by Rechecker, the progress saved after each chunk (for --resume), the queue's marks
// resolved at the end, and with --proof the whole-table checksums.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/reconcile/key_stepper.hpp"
#include "jobs/reconcile/recheck.hpp"
#include "jobs/reconcile/state_table.hpp"
#include "jobs/reconcile/table_report.hpp"

namespace pgdual::jobs::reconcile {

inline constexpr std::string_view kReconcileJob = "pgdual reconcile";

struct TableSettings {
  RecheckSettings recheck;
  std::string database;
  std::string job;  // host:pid, recorded in the progress row
  bool resume = false;
  bool proof = false;
  std::chrono::milliseconds chunk_target{500};
  std::int64_t max_differences = 1000;                  // over the whole run
  std::chrono::steady_clock::time_point deadline = {};  // {}: none
  const std::atomic<bool>* stop = nullptr;
  std::atomic<std::int64_t>* differences_found = nullptr;  // over the whole run
};

class TableReconciler {
 public:
  using Update = std::function<void(const std::function<void(TableReport&)>&)>;

  TableReconciler(const config::Config& config, const TableSettings& settings,
                  backfill::StorePair& stores, const StateTable& state, Update update)
      : config_(config),
        settings_(settings),
        stores_(stores),
        state_(state),
        update_(std::move(update)) {}

  void run(const TablePlan& plan);

 private:
  // "" when the table was compared to its end (or stopped); else the error.
  std::string compare_table(const TablePlan& plan);
  std::string prove(const TablePlan& plan);
  std::string make_stepper(const TablePlan& plan, std::optional<KeyStepper>& stepper);
  bool out_of_time() const;

  const config::Config& config_;
  TableSettings settings_;
  backfill::StorePair& stores_;
  const StateTable& state_;
  Update update_;
  std::string state_name_ = "done";
};

}  // namespace pgdual::jobs::reconcile
