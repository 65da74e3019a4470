#pragma once
// Copies one table from the old store to the new, chunk by chunk, while the application keeps
// writing through pgdual. One chunk:
//
//   old: BEGIN; lock the next N keys FOR SHARE (no UPDATE or DELETE of them can commit now)
//   new: BEGIN; COPY stage FROM STDIN  <-  old: COPY (rows in the locked range) TO STDOUT
//   old: the journal fence (journal_fence.hpp)
//   new: INSERT INTO target SELECT ... FROM stage ON CONFLICT (key) DO UPDATE ... WHERE the
//        row differs   (the locked old value wins; what live writes did before is in it)
//   new: record the chunk's last key in backfill_progress
//   old: SELECT 1 (the transaction, and so its locks, lived throughout); new: COMMIT
//   old: COMMIT (the row locks go only now)
//
// Why a live write is never lost, resurrected or applied twice (docs/backfill.md has the
// argument per strategy): a write to a locked row waits on the old store until the chunk is on
// the new store, and then finds the copied row there; a write that committed before the lock was
// already applied on the new store (sync: before the old store's COMMIT; outbox: the fence) and
// either found no row (the copy carries its result) or changed the row the copy now rewrites
// with the old store's value, which includes that change.
//
// A table without a usable key (only with --lock-keyless) is copied whole inside one pair of
// transactions, under LOCK TABLE ... IN SHARE MODE on the old store, replacing what the new
// store has.
//
// Under strategy cdc (CopySettings::snapshot) the same chunks read the old store under the
// snapshot the replication slot exported instead: no locks and no fence, because the slot
// streams every change committed after that snapshot.

#include <atomic>
#include <chrono>
#include <string>

#include "config/config.hpp"
#include "jobs/backfill/chunk_sizer.hpp"
#include "jobs/backfill/journal_fence.hpp"
#include "jobs/backfill/progress_table.hpp"
#include "jobs/backfill/status_board.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

struct CopySettings {
  std::string database;
  std::string job;  // recorded in backfill_progress.job
  bool resume = false;
  bool restart = false;
  config::Strategy strategy = config::Strategy::sync;
  std::string journal_schema;
  std::chrono::milliseconds chunk_target{500};
  double max_rows_per_second = 0;  // this worker's share; 0: unlimited
  std::chrono::milliseconds fence_wait{60000};
  const std::atomic<bool>* stop = nullptr;  // SIGINT/SIGTERM: finish the chunk, then pause
  // Strategy cdc's initial copy (cdc_initial_copy.hpp): every chunk reads the old store under
  // this exported snapshot, without row or table locks and without the journal fence (the
  // replication slot carries every change after the snapshot). Empty: the live copy above.
  std::string snapshot;
};

class TableCopier {
 public:
  TableCopier(const config::Config& config, const CopySettings& settings, StorePair& stores,
              const ProgressTable& progress, StatusBoard& board, std::size_t index);

  // Runs the copy to its end: done, paused (stop asked) or failed. The status board has the
  // outcome.
  void run(const TablePlan& plan);

 private:
  enum class ChunkResult { copied, end_of_table, retry, failed };

  std::string prepare(const TablePlan& plan, TableProgress& progress);
  // Why the finished table needs a reconciliation ("" when it does not).
  std::string closing_note() const;
  ChunkResult copy_chunk(const TablePlan& plan, std::vector<std::string>& last_key);
  ChunkResult copy_locked(const TablePlan& plan);
  // Streams old's COPY TO STDOUT into new's COPY FROM STDIN (both already started).
  bool stream(std::int64_t& rows, std::int64_t& bytes);
  // Reconnects a broken pair (and recreates the stage there).
  bool reconnect();
  // Whether the old store's transaction is still open, so its row locks were held throughout.
  bool still_locked(PGconn* old_store);
  // COMMIT on the old store; a failure is counted in locks_lost_.
  void release_locks(PGconn* old_store);
  // Keeps a failure's message and SQLSTATE (none: the connection broke).
  void note_failure(PGconn* conn, const PGresult* result);
  // note_failure, then whether the chunk is worth retrying.
  ChunkResult failed_on(PGconn* conn, const pg::Result& result);
  ChunkResult outcome_of_failure() const;
  void rollback_both();
  void throttle(std::int64_t rows, std::chrono::microseconds elapsed, double average_before);
  bool stopping() const { return settings_.stop != nullptr && settings_.stop->load(); }
  bool under_snapshot() const { return !settings_.snapshot.empty(); }
  // BEGIN on the old store: plain, or REPEATABLE READ under the exported snapshot.
  std::string old_store_begin() const;

  const config::Config& config_;
  const CopySettings& settings_;
  StorePair& stores_;
  const ProgressTable& progress_;
  StatusBoard& board_;
  std::size_t index_;
  ChunkSizer sizer_;
  JournalFence fence_;
  const TablePlan* plan_ = nullptr;        // the table being copied
  bool owns_lock_ = false;                 // this worker's session holds the table's lock
  std::int64_t locks_lost_ = 0;            // chunks whose old-store COMMIT failed
  std::int64_t journal_mark_ = -1;         // the journal's id sequence when the copy began
  std::int64_t identity_differences_ = 0;  // rows whose ALWAYS identity columns differ
  double shown_rate_ = 0;                  // rows per second over wall time (decaying), for people
  std::string error_;                      // the last failure, for the report
  std::string sqlstate_;                   // its SQLSTATE ("" when the connection broke)
};

}  // namespace pgdual::jobs::backfill
