#pragma once
// `pgdual backfill`: copies the rows the old store had before dual writes began to the new
// store, table by table (parents before children), chunk by chunk (table_copier.hpp), while the
// application keeps writing through pgdual; then moves the new store's sequences past the old
// store's. A control-plane job: blocking libpq on its own threads, never inside the proxy.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "cutover/sequence_sync.hpp"
#include "jobs/backfill/status_board.hpp"
#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

struct BackfillOptions {
  std::string database;             // empty: backends.old.dbname
  std::vector<std::string> tables;  // empty: every table in a dual-write phase
  unsigned workers = 1;             // tables copied at once
  bool resume = false;              // continue what an earlier run left
  bool restart = false;             // forget an earlier run's progress, copy again
  bool dry_run = false;             // plan and report, copy nothing
  bool lock_keyless = false;        // copy keyless tables whole under a SHARE lock
  bool sync_sequences = true;       // `sequences sync` once every table is done
  double max_rows_per_second = 0;   // over all workers; 0: unlimited
  std::chrono::milliseconds chunk_target{500};
  // Set by strategy cdc's initial copy (cdc_initial_copy.hpp), never by a command line: every
  // chunk reads the old store under this exported snapshot.
  std::string snapshot;
};

struct BackfillReport {
  std::string database;
  std::string error;  // the job did not start copying: why
  std::vector<Refusal> refusals;
  std::vector<std::string> not_mirrored;     // tables left out: their phase mirrors no writes
  std::vector<std::string> unordered_edges;  // foreign keys the order could not honour
  std::vector<TablePlan> plans;
  std::vector<TableStatus> tables;
  bool sequences_run = false;
  cutover::SequenceSyncReport sequences;
  bool stopped = false;            // a signal paused it: --resume continues
  bool dry_run = false;            // planned only: ok() then means "nothing refused"
  std::vector<std::string> notes;  // what the run did besides copying (strategy cdc: replication)
  double seconds = 0;
  bool ok() const;
};

// `draw` is called about twice a second with the tables' state while the copy runs. Under
// strategy cdc this is the initial copy of copy_data: pgdual (cdc_initial_copy.hpp).
BackfillReport run_backfill(const config::Config& config, const BackfillOptions& options,
                            const std::atomic<bool>& stop,
                            const std::function<void(const std::vector<TableStatus>&)>& draw);

// The report as one JSON object (the end of a run: for people and for scripts).
std::string report_json(const BackfillReport& report);

}  // namespace pgdual::jobs::backfill
