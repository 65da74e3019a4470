#include "jobs/backfill/table_copier.hpp"

#include <algorithm>
#include <thread>

#include "cdc/exported_slot.hpp"
#include "jobs/backfill/chunk_sql.hpp"
#include "jobs/backfill/table_lock.hpp"

namespace pgdual::jobs::backfill {

namespace {

using Clock = std::chrono::steady_clock;
using pg::Result;

// Failures a chunk retries: a lock it could not get in time (the application holds it), a
// deadlock or serialization failure, a cancel, a lost connection ("").
bool retryable(const std::string& sqlstate) {
  return sqlstate.empty() || sqlstate == "55P03" || sqlstate == "40P01" || sqlstate == "40001" ||
         sqlstate == "57014" || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01";
}
constexpr int kMaxRetries = 20;
constexpr const char* kNewChunkBegin =
    "BEGIN; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";
constexpr std::chrono::milliseconds kRetryPause{200};
constexpr int kLockAttempts = 25;  // about 5 s for the server to let go of a dead session's lock

std::int64_t command_rows(const Result& result) {
  const char* text = PQcmdTuples(result.get());
  return text != nullptr && *text != '\0' ? std::stoll(text) : 0;
}

}  // namespace

TableCopier::TableCopier(const config::Config& config, const CopySettings& settings,
                         StorePair& stores, const ProgressTable& progress, StatusBoard& board,
                         std::size_t index)
    : config_(config),
      settings_(settings),
      stores_(stores),
      progress_(progress),
      board_(board),
      index_(index),
      sizer_(settings.chunk_target),
      fence_(settings.journal_schema, settings.fence_wait) {}

void TableCopier::rollback_both() {
  for (PGconn* conn : {stores_.old_store.get(), stores_.new_store.get()}) {
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) continue;
    // Leave any COPY first (its outcome is of no interest), then the transaction.
    while (Result pending{PQgetResult(conn)}) {
      if (PQresultStatus(pending.get()) == PGRES_COPY_IN) {
        PQputCopyEnd(conn, "backfill aborted");
      } else if (PQresultStatus(pending.get()) == PGRES_COPY_OUT) {
        char* buffer = nullptr;
        while (PQgetCopyData(conn, &buffer, 0) > 0) PQfreemem(buffer);
      }
    }
    Result result(PQexec(conn, "ROLLBACK"));
  }
}

void TableCopier::note_failure(PGconn* conn, const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  sqlstate_ = state != nullptr ? state : "";
  error_ = primary != nullptr ? primary : pg::connection_error(conn);
}

TableCopier::ChunkResult TableCopier::outcome_of_failure() const {
  return retryable(sqlstate_) ? ChunkResult::retry : ChunkResult::failed;
}

TableCopier::ChunkResult TableCopier::failed_on(PGconn* conn, const Result& result) {
  note_failure(conn, result.get());
  return outcome_of_failure();
}

bool TableCopier::reconnect() {
  if (stores_.healthy()) return true;
  const bool new_store_lost =
      !stores_.new_store || PQstatus(stores_.new_store.get()) != CONNECTION_OK;
  const std::string error = stores_.reconnect_broken(config_, settings_.database);
  if (!error.empty()) {
    error_ = error;
    sqlstate_.clear();
    return false;
  }
  std::string fence_error;
  if (!fence_.find(stores_.old_store.get(), fence_error)) {
    error_ = "old store: " + fence_error;
    return false;
  }
  if (!new_store_lost || plan_ == nullptr) return true;
  // The table's lock went with the new store's old session: take it again, unless another job
  // has it now. The server may take a moment to notice a session that died.
  TableLock lock = TableLock::error;
  std::string lock_error;
  for (int attempt = 0; attempt < kLockAttempts; ++attempt) {
    lock = lock_table(stores_.new_store.get(), plan_->source, lock_error);
    if (lock != TableLock::held_elsewhere) break;
    std::this_thread::sleep_for(kRetryPause);
  }
  owns_lock_ = lock == TableLock::taken;
  if (!owns_lock_) {
    error_ = lock == TableLock::error ? lock_error : held_elsewhere_message(plan_->source);
    sqlstate_.clear();
    return false;
  }
  // The stage is a temporary table: a new session needs its own.
  if (!plan_->locked_copy) {
    Result stage(PQexec(stores_.new_store.get(), create_stage_sql(*plan_).c_str()));
    if (PQresultStatus(stage.get()) != PGRES_COMMAND_OK) {
      note_failure(stores_.new_store.get(), stage.get());
      return false;
    }
  }
  return true;
}

bool TableCopier::still_locked(PGconn* old_store) {
  Result alive(PQexec(old_store, "SELECT 1"));
  if (PQresultStatus(alive.get()) == PGRES_TUPLES_OK) return true;
  note_failure(old_store, alive.get());
  error_ = "the old store's transaction ended before the chunk committed (" + error_ + ")";
  return false;
}

void TableCopier::release_locks(PGconn* old_store) {
  Result release(PQexec(old_store, "COMMIT"));
  if (PQresultStatus(release.get()) == PGRES_COMMAND_OK) return;
  // The chunk is on the new store, but the old transaction may have ended between the check
  // and the new store's COMMIT, letting a live write slip under the copy: say so.
  ++locks_lost_;
}

bool TableCopier::stream(std::int64_t& rows, std::int64_t& bytes) {
  PGconn* from = stores_.old_store.get();
  PGconn* to = stores_.new_store.get();
  for (;;) {
    char* buffer = nullptr;
    const int length = PQgetCopyData(from, &buffer, 0);
    if (length > 0) {
      bytes += length;
      const int put = PQputCopyData(to, buffer, length);
      PQfreemem(buffer);
      if (put != 1) {
        error_ = "new store: " + pg::connection_error(to);
        sqlstate_.clear();
        return false;
      }
      continue;
    }
    if (length == -2) {
      error_ = "old store: " + pg::connection_error(from);
      sqlstate_.clear();
      return false;
    }
    break;  // -1: the COPY is complete
  }
  Result out(PQgetResult(from));
  if (PQresultStatus(out.get()) != PGRES_COMMAND_OK) {
    note_failure(from, out.get());
    PQputCopyEnd(to, "the old store's COPY failed");
    return false;
  }
  rows = command_rows(out);
  while (Result extra{PQgetResult(from)}) {
  }
  if (PQputCopyEnd(to, nullptr) != 1) {
    error_ = "new store: " + pg::connection_error(to);
    sqlstate_.clear();
    return false;
  }
  Result in(PQgetResult(to));
  const bool ok = PQresultStatus(in.get()) == PGRES_COMMAND_OK;
  if (!ok) note_failure(to, in.get());
  while (Result extra{PQgetResult(to)}) {
  }
  return ok;
}

TableCopier::ChunkResult TableCopier::copy_chunk(const TablePlan& plan,
                                                 std::vector<std::string>& last_key) {
  PGconn* old_store = stores_.old_store.get();
  PGconn* new_store = stores_.new_store.get();
  const auto started = Clock::now();
  // The journal's table may appear during the run (the first journaled write).
  if (std::string error; !fence_.present() && !fence_.find(old_store, error)) {
    error_ = error;
    sqlstate_.clear();
    return ChunkResult::retry;
  }
  if (Result begin{PQexec(old_store, old_store_begin().c_str())};
      PQresultStatus(begin.get()) != PGRES_COMMAND_OK) {
    return failed_on(old_store, begin);
  }
  // The chunk's end: the key `next_rows` keys on, or the table's last key for the tail.
  Result end(PQexec(old_store, next_chunk_end_sql(plan, last_key, sizer_.next_rows()).c_str()));
  if (PQresultStatus(end.get()) != PGRES_TUPLES_OK) return failed_on(old_store, end);
  const bool full_chunk = PQntuples(end.get()) == 1;
  if (!full_chunk) {
    end.reset(PQexec(old_store, chunk_end_of_table_sql(plan, last_key).c_str()));
    if (PQresultStatus(end.get()) != PGRES_TUPLES_OK) return failed_on(old_store, end);
    if (PQntuples(end.get()) == 0) {
      Result done(PQexec(old_store, "ROLLBACK"));
      return ChunkResult::end_of_table;
    }
  }
  std::vector<std::string> chunk_last;
  for (std::size_t i = 0; i < plan.key.size(); ++i) {
    chunk_last.emplace_back(PQgetvalue(end.get(), 0, static_cast<int>(i)));
  }
  // The stage has no statistics, and once the target is large and analysed the planner joins
  // them by hashing the whole target for every chunk (bench/results: 403 ms against 27 ms by
  // index lookups for 50,000 rows of a 2 M-row table, growing with the table): this
  // transaction's joins go through the key's index.
  if (Result begin{PQexec(new_store, kNewChunkBegin)};
      PQresultStatus(begin.get()) != PGRES_COMMAND_OK) {
    return failed_on(new_store, begin);
  }
  if (Result in{PQexec(new_store, copy_in_stage_sql(plan).c_str())};
      PQresultStatus(in.get()) != PGRES_COPY_IN) {
    return failed_on(new_store, in);
  }
  if (Result out{
          PQexec(old_store, copy_out_sql(plan, last_key, chunk_last, !under_snapshot()).c_str())};
      PQresultStatus(out.get()) != PGRES_COPY_OUT) {
    PQputCopyEnd(new_store, "the old store's COPY failed");
    return failed_on(old_store, out);
  }
  std::int64_t rows = 0, bytes = 0;
  if (!stream(rows, bytes)) return outcome_of_failure();
  if (const auto why =
          under_snapshot() ? "" : fence_.wait(old_store, [this] { return stopping(); });
      !why.empty()) {
    error_ = why;
    sqlstate_.clear();
    return ChunkResult::retry;
  }
  Result present(PQexec(new_store, count_present_sql(plan).c_str()));
  if (PQresultStatus(present.get()) != PGRES_TUPLES_OK) return failed_on(new_store, present);
  const std::int64_t already_there = std::stoll(PQgetvalue(present.get(), 0, 0));
  Result merged(PQexec(new_store, merge_stage_sql(plan).c_str()));
  if (PQresultStatus(merged.get()) != PGRES_COMMAND_OK) return failed_on(new_store, merged);
  const std::int64_t written = command_rows(merged);
  const std::int64_t inserted = rows - already_there;
  const std::int64_t overwritten = std::max<std::int64_t>(0, written - inserted);
  std::int64_t chunk_identity_differences = 0;  // counted once the chunk commits
  if (!plan.identity_columns_quoted.empty()) {
    Result differing(PQexec(new_store, count_identity_differences_sql(plan).c_str()));
    if (PQresultStatus(differing.get()) != PGRES_TUPLES_OK) return failed_on(new_store, differing);
    chunk_identity_differences = std::stoll(PQgetvalue(differing.get(), 0, 0));
  }
  // The fence's wait is the relay's lag, not the chunk's cost: sizing on it would shrink the
  // chunks, and smaller chunks wait for the relay just as often.
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      Clock::now() - started - fence_.waited());
  ChunkProgress chunk;
  chunk.last_key = chunk_last;
  chunk.rows_copied = inserted;
  chunk.rows_overwritten = overwritten;
  chunk.rows_skipped = rows - inserted - overwritten;
  chunk.bytes = bytes;
  chunk.chunk_rows = rows;
  chunk.chunk_ms = elapsed.count() / 1000;
  chunk.rows_per_second = shown_rate_;
  if (auto error = progress_.record_chunk(new_store, plan.source, chunk); !error.empty()) {
    error_ = error;
    sqlstate_ = "";
    return ChunkResult::retry;
  }
  // The copy is exact only if the old store's transaction kept its row locks until now: a
  // session that died (terminated, a network blip) released them, and a live write may have
  // passed under the uncommitted chunk.
  if (!still_locked(old_store)) return ChunkResult::retry;
  if (Result commit{PQexec(new_store, "COMMIT")};
      PQresultStatus(commit.get()) != PGRES_COMMAND_OK) {
    return failed_on(new_store, commit);
  }
  // The chunk is on the new store: only now may writes to its rows proceed on the old one.
  release_locks(old_store);
  identity_differences_ += chunk_identity_differences;
  const double average_before = sizer_.rows_per_second();
  sizer_.record(full_chunk ? sizer_.next_rows() : rows, elapsed);
  last_key = chunk_last;
  throttle(rows, elapsed, average_before);
  // What people see is the rate over wall time, the fence's waits and the throttle's pauses
  // included (the sizer's rate leaves them out on purpose), so the ETA is honest.
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  const double wall_rate = static_cast<double>(rows) / std::max(1e-6, wall);
  shown_rate_ = shown_rate_ == 0 ? wall_rate : 0.3 * wall_rate + 0.7 * shown_rate_;
  board_.update(index_, [&](TableStatus& status) {
    status.rows_copied += inserted;
    status.rows_overwritten += overwritten;
    status.rows_skipped += rows - inserted - overwritten;
    status.bytes += bytes;
    status.chunks += 1;
    status.rows_per_second = shown_rate_;
  });
  return ChunkResult::copied;
}

TableCopier::ChunkResult TableCopier::copy_locked(const TablePlan& plan) {
  PGconn* old_store = stores_.old_store.get();
  PGconn* new_store = stores_.new_store.get();
  const auto started = Clock::now();
  const auto run = [](PGconn* conn, const std::string& sql) {
    return Result(PQexec(conn, sql.c_str()));
  };
  // Under the snapshot the table is read as it was then; the slot carries what came after.
  Result step = run(old_store, under_snapshot() ? old_store_begin()
                                                : "BEGIN; LOCK TABLE ONLY " + plan.source_quoted +
                                                      " IN SHARE MODE");
  if (PQresultStatus(step.get()) != PGRES_COMMAND_OK) return failed_on(old_store, step);
  if (const auto why =
          under_snapshot() ? "" : fence_.wait(old_store, [this] { return stopping(); });
      !why.empty()) {
    error_ = why;
    return ChunkResult::retry;
  }
  // Not ONLY: the new store's table may be partitioned even where the old one is not.
  step = run(new_store, "BEGIN; LOCK TABLE " + plan.target_quoted + " IN EXCLUSIVE MODE");
  if (PQresultStatus(step.get()) != PGRES_COMMAND_OK) return failed_on(new_store, step);
  Result removed = run(new_store, "DELETE FROM " + plan.target_quoted);
  if (PQresultStatus(removed.get()) != PGRES_COMMAND_OK) return failed_on(new_store, removed);
  step = run(new_store, copy_in_target_sql(plan));
  if (PQresultStatus(step.get()) != PGRES_COPY_IN) return failed_on(new_store, step);
  step = run(old_store, copy_out_all_sql(plan));
  if (PQresultStatus(step.get()) != PGRES_COPY_OUT) {
    PQputCopyEnd(new_store, "the old store's COPY failed");
    return failed_on(old_store, step);
  }
  std::int64_t rows = 0, bytes = 0;
  if (!stream(rows, bytes)) return outcome_of_failure();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  ChunkProgress chunk;
  chunk.rows_copied = rows;
  chunk.bytes = bytes;
  chunk.chunk_rows = rows;
  chunk.chunk_ms = elapsed.count() / 1000;
  if (auto error = progress_.record_chunk(new_store, plan.source, chunk); !error.empty()) {
    error_ = error;
    return ChunkResult::retry;
  }
  if (!still_locked(old_store)) return ChunkResult::retry;
  step = run(new_store, "COMMIT");
  if (PQresultStatus(step.get()) != PGRES_COMMAND_OK) return failed_on(new_store, step);
  release_locks(old_store);
  const std::int64_t replaced = command_rows(removed);
  board_.update(index_, [&](TableStatus& status) {
    status.rows_copied = rows;
    status.rows_replaced = replaced;
    status.bytes = bytes;
    status.chunks = 1;
  });
  return ChunkResult::end_of_table;
}

std::string TableCopier::old_store_begin() const {
  if (!under_snapshot()) return "BEGIN";
  return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; " +
         cdc::import_snapshot_sql(settings_.snapshot);
}

void TableCopier::throttle(std::int64_t rows, std::chrono::microseconds elapsed,
                           double average_before) {
  auto pause = std::chrono::microseconds(0);
  if (settings_.max_rows_per_second > 0) {
    const auto allowed = std::chrono::microseconds(
        static_cast<std::int64_t>(static_cast<double>(rows) * 1e6 / settings_.max_rows_per_second));
    pause = std::max(pause, allowed - elapsed);
  }
  // A chunk at less than half the recent rate means the stores are busier (the application's
  // load, a checkpoint, a lagging new store): leave them as much time again before the next.
  const double rate = static_cast<double>(rows) * 1e6 / std::max<double>(1, elapsed.count());
  if (average_before > 0 && rate < average_before / 2) pause = std::max(pause, elapsed);
  if (pause.count() > 0) std::this_thread::sleep_for(pause);
}

std::string TableCopier::prepare(const TablePlan& plan, TableProgress& progress) {
  std::string error;
  const TableLock lock = lock_table(stores_.new_store.get(), plan.source, error);
  if (lock == TableLock::error) return error;
  if (lock == TableLock::held_elsewhere) return held_elsewhere_message(plan.source);
  owns_lock_ = true;
  if (!fence_.find(stores_.old_store.get(), error)) return "old store: " + error;
  if (!plan.locked_copy) {
    Result stage(PQexec(stores_.new_store.get(), create_stage_sql(plan).c_str()));
    if (PQresultStatus(stage.get()) != PGRES_COMMAND_OK) {
      return "new store: " + pg::connection_error(stores_.new_store.get());
    }
  }
  auto loaded = progress_.load(stores_.new_store.get(), plan, error);
  if (!error.empty()) return "new store: " + error;
  if (loaded && !settings_.restart) {
    if (loaded->state == "done") {
      progress = *loaded;  // nothing to copy; its row (and note) stays as it is
      return "";
    }
    if (!settings_.resume) {
      return "an earlier backfill of this table stopped (" + loaded->state + ", " +
             std::to_string(loaded->rows_copied + loaded->rows_skipped) +
             " rows): pass --resume to continue it or --restart to copy it again";
    }
    if (!loaded->same_key) {
      // Its last key is a value of another column now: resuming could skip rows.
      return "the key chosen for this table changed since the earlier backfill: pass --restart";
    }
    progress = *loaded;
  }
  journal_mark_ = fence_.appended(stores_.old_store.get());
  if (auto begun = progress_.begin(stores_.new_store.get(), plan, settings_.job, settings_.restart,
                                   journal_mark_);
      !begun.empty()) {
    return "new store: " + begun;
  }
  progress.state = "copying";
  return "";
}

std::string TableCopier::closing_note() const {
  std::string note;
  const auto add = [&note](const std::string& what) { note += (note.empty() ? "" : "; ") + what; };
  if (locks_lost_ > 0) {
    add(std::to_string(locks_lost_) +
        " chunks lost the old store's transaction around their commit (a live write may have "
        "passed under them)");
  }
  if (identity_differences_ > 0) {
    add(std::to_string(identity_differences_) +
        " rows differ in GENERATED ALWAYS identity columns, which no UPDATE may set");
  }
  return note.empty() ? "" : note + ": reconcile it";
}

void TableCopier::run(const TablePlan& plan) {
  const auto started = Clock::now();
  plan_ = nullptr;  // prepare() takes this table's lock and makes its stage
  const auto set_state = [&](const std::string& state, const std::string& error) {
    board_.update(index_, [&](TableStatus& status) {
      status.state = state;
      status.error = error;
      status.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    });
  };
  // A worker's pair may have broken on the table before, or never connected.
  if (!stores_.healthy() && !reconnect()) {
    set_state("failed", error_);
    return;
  }
  plan_ = &plan;  // from here on a reconnect takes the lock and makes the stage again
  TableProgress progress;
  const std::string prepared = prepare(plan, progress);
  // Whatever happens below, the table's lock goes with the table (the worker's connection
  // serves the next table).
  struct Unlock {
    TableCopier& copier;
    const std::string& source;
    ~Unlock() {
      if (copier.owns_lock_ && copier.stores_.healthy()) {
        unlock_table(copier.stores_.new_store.get(), source);
      }
      copier.owns_lock_ = false;
    }
  } unlock{*this, plan.source};
  if (!prepared.empty()) {
    set_state("failed", prepared);
    return;
  }
  if (progress.state == "done") {
    board_.update(index_, [&](TableStatus& status) {
      status.rows_copied = progress.rows_copied;
      status.rows_skipped = progress.rows_skipped;
      status.rows_overwritten = progress.rows_overwritten;
      status.bytes = progress.bytes;
      status.chunks = progress.chunks;
      status.note = progress.note;
    });
    set_state("done", "");
    return;
  }
  board_.update(index_, [&](TableStatus& status) { status.journal_mark = journal_mark_; });
  set_state("copying", "");
  std::vector<std::string> last_key = progress.last_key;
  int failures = 0;
  for (;;) {
    if (stopping()) {
      progress_.finish(stores_.new_store.get(), plan.source, "paused", "stopped by a signal");
      set_state("paused", "");
      return;
    }
    const ChunkResult result = plan.locked_copy ? copy_locked(plan) : copy_chunk(plan, last_key);
    if (result == ChunkResult::copied) {
      failures = 0;
      continue;
    }
    if (result == ChunkResult::end_of_table) break;
    rollback_both();
    if (result == ChunkResult::retry && ++failures <= kMaxRetries) {
      sizer_.back_off();
      std::this_thread::sleep_for(kRetryPause * failures);
      if (reconnect()) continue;
    }
    // Without the table's lock the progress row is another job's now: leave it alone.
    if (stores_.healthy() && owns_lock_) {
      progress_.finish(stores_.new_store.get(), plan.source, "failed", error_);
    }
    set_state("failed", (sqlstate_.empty() ? "" : sqlstate_ + ": ") + error_);
    return;
  }
  // The journal's check under sync waits for the end of the whole run (backfill_job.cpp): an
  // entry is appended only after its transaction committed on the old store.
  const std::string note = closing_note();
  progress_.finish(stores_.new_store.get(), plan.source, "done", note);
  board_.update(index_, [&](TableStatus& status) { status.note = note; });
  set_state("done", "");
}

}  // namespace pgdual::jobs::backfill
