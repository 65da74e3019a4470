#include "jobs/backfill/backfill_job.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/backfill/catalog_reader.hpp"
#include "jobs/backfill/cdc_initial_copy.hpp"
#include "jobs/backfill/copy_order.hpp"
#include "jobs/backfill/journal_fence.hpp"
#include "jobs/backfill/progress_table.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/backfill/table_copier.hpp"
#include "jobs/backfill/table_lock.hpp"
#include "journal/reconcile_queue.hpp"
#include "routing/phase_rules.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::backfill {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kDrawEvery{500};

bool mirrors_to_new(config::Phase phase) {
  return phase == config::Phase::dual_write || phase == config::Phase::backfill ||
         phase == config::Phase::shadow_read;
}

std::string job_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

// The checks that refuse the whole run before anything is read.
std::string refuse_run(const config::Config& config, const std::string& database) {
  if (database.empty()) return "no database: give --database (backends.old.dbname is not set)";
  const auto& migration = config.migration;
  if (migration.strategy == config::Strategy::async) {
    return "strategy async: a write queued in a pgdual instance's memory can reach the new store "
           "after the copy read its row and apply a second time. Switch migration.strategy to "
           "sync or outbox for the backfill (a reload), then run it";
  }
  if (migration.strategy == config::Strategy::sync && migration.journal.enabled &&
      migration.journal.store == config::JournalStore::file) {
    return "strategy sync with journal.store: file: writes the new store failed wait in each "
           "pgdual instance's own directory, where the backfill cannot see them, and may be "
           "replayed on top of a copy that already has them. Use the table store for the backfill";
  }
  const auto phase = routing::session_phase(migration, routing::SessionIdentity{database, "", ""});
  if (!mirrors_to_new(phase)) {
    return "database " + database + " is in phase " + std::string(config::to_string(phase)) +
           ": the new store does not receive its writes, so a copy would go stale. Set "
           "migration.phase to dual_write (or backfill) first";
  }
  return "";
}

// A second job on a table is refused before anything starts (the workers then hold the locks:
// table_lock.hpp).
std::string check_table_locks(PGconn* conn, const std::vector<TablePlan>& plans) {
  for (const auto& plan : plans) {
    std::string error;
    const TableLock lock = probe_table_lock(conn, plan.source, error);
    if (lock == TableLock::error) return error;
    if (lock == TableLock::held_elsewhere) return held_elsewhere_message(plan.source);
  }
  return "";
}

// Hands out tables in foreign-key order to the workers.
class TableQueue {
 public:
  explicit TableQueue(const std::vector<TablePlan>& plans) : order_(plans) {}
  // The next table to copy; nullopt when every table has been handed out.
  std::optional<std::size_t> take() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (auto next = order_.next_ready()) return next;
      if (order_.all_started()) return std::nullopt;
      changed_.wait(lock);
    }
  }
  void finish(std::size_t index) {
    {
      std::lock_guard lock(mutex_);
      order_.finish(index);
    }
    changed_.notify_all();
  }
  std::vector<std::string> unordered_edges() const { return order_.unordered_edges(); }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  CopyOrder order_;
};

// Under sync the journal holds only writes the new store failed, appended after their commit on
// the old store, possibly as late as limits.secondary_timeout after it: such a write may apply
// on top of a copy that already has it. Once that long has passed since the last chunk, every
// table whose copy began before the journal's id sequence last moved is marked for a
// reconciliation (it may name a table the journaled writes did not touch: loud, not exact).
void note_journaled_writes(const config::Config& config, PGconn* old_store,
                           const ProgressTable& progress, PGconn* new_store,
                           std::vector<TableStatus>& tables) {
  JournalFence journal(config.migration.journal.schema, std::chrono::milliseconds(0));
  std::string error;
  if (!journal.find(old_store, error) || !journal.present()) return;
  std::this_thread::sleep_for(config.limits.secondary_timeout + std::chrono::seconds(1));
  const std::int64_t appended = journal.appended(old_store);
  for (auto& table : tables) {
    if (table.state != "done" || table.journal_mark < 0 || appended <= table.journal_mark) continue;
    const std::string note = std::to_string(appended - table.journal_mark) +
                             " transactions were journaled (the new store failed them) since "
                             "this table's copy began";
    table.note += (table.note.empty() ? "" : "; ") + note + ": reconcile it";
    progress.finish(new_store, table.table, "done", table.note);
  }
}

// Every table the copy left needing a reconciliation joins the reconcile queue on the new store
// (journal/reconcile_queue.hpp), as a pgdual instance's marks do: `pgdual reconcile
// --continuous` works through it and pgdual_reconciliation_unresolved{table} shows it.
void queue_for_reconciliation(PGconn* new_store, const std::string& schema,
                              const std::vector<TablePlan>& plans,
                              std::vector<TableStatus>& tables) {
  bool any = false;
  for (const auto& table : tables) any = any || !table.note.empty();
  if (!any) return;
  pg::Result created(PQexec(new_store, journal::reconcile_queue_ddl(schema).c_str()));
  for (auto& table : tables) {
    if (table.note.empty()) continue;
    std::string target = table.table;
    for (const auto& plan : plans) {
      if (plan.source == table.table) target = plan.target;  // a leaf: its root is compared
    }
    std::string error;
    if (!run_query(new_store, journal::reconcile_queue_mark_sql(schema), {target, "1"}, error)) {
      table.note += "; not queued for reconciliation (" + error + ")";
    }
  }
}

}  // namespace

bool BackfillReport::ok() const {
  if (!error.empty() || !refusals.empty() || stopped) return false;
  if (dry_run) return true;
  for (const auto& table : tables) {
    if (table.state != "done") return false;
  }
  return !sequences_run || sequences.ok();
}

BackfillReport run_backfill(const config::Config& config, const BackfillOptions& options,
                            const std::atomic<bool>& stop,
                            const std::function<void(const std::vector<TableStatus>&)>& draw) {
  const auto started = Clock::now();
  BackfillReport report;
  report.database = job_database(config, options.database);
  report.dry_run = options.dry_run;
  if (config.migration.strategy == config::Strategy::cdc && options.snapshot.empty() &&
      !options.dry_run) {
    return run_cdc_initial_copy(config, options, stop, draw);
  }
  if (report.error = refuse_run(config, report.database); !report.error.empty()) {
    return report;
  }
  StorePair control;
  if (report.error = control.connect(config, report.database); !report.error.empty()) {
    return report;
  }
  CatalogScope scope{report.database, options.tables, options.lock_keyless,
                     config.migration.journal.schema, control.replica_role};
  auto catalog =
      read_catalogs(control.old_store.get(), control.new_store.get(), config.migration, scope);
  if (!catalog.error.empty()) {
    report.error = catalog.error;
    return report;
  }
  report.plans = std::move(catalog.plans);
  report.refusals = std::move(catalog.refusals);
  report.not_mirrored = std::move(catalog.not_mirrored);
  report.unordered_edges = CopyOrder(report.plans).unordered_edges();
  std::vector<TableStatus> statuses;
  for (const auto& plan : report.plans) {
    TableStatus status;
    status.table = plan.source;
    status.estimated_rows = plan.estimated_rows;
    statuses.push_back(status);
  }
  report.tables = statuses;
  if (!report.refusals.empty() || options.dry_run) return report;

  const ProgressTable progress(text::quote_identifier(config.migration.journal.schema));
  if (report.error = progress.ensure(control.new_store.get()); !report.error.empty()) {
    report.error = "new store: " + report.error;
    return report;
  }
  if (report.error = check_table_locks(control.new_store.get(), report.plans);
      !report.error.empty()) {
    return report;
  }

  StatusBoard board(statuses);
  TableQueue queue(report.plans);
  CopySettings settings;
  settings.database = report.database;
  settings.job = job_name();
  settings.resume = options.resume;
  settings.restart = options.restart;
  settings.strategy = config.migration.strategy;
  settings.journal_schema = config.migration.journal.schema;
  settings.chunk_target = options.chunk_target;
  const unsigned workers = std::max(1u, options.workers);
  settings.max_rows_per_second = options.max_rows_per_second / workers;
  settings.stop = &stop;
  settings.snapshot = options.snapshot;

  std::vector<std::thread> threads;
  std::atomic<unsigned> running{workers};
  for (unsigned i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      StorePair stores;  // connected (and reconnected) by the copier
      while (auto index = queue.take()) {
        if (stop.load()) {
          board.update(*index, [](TableStatus& status) { status.state = "paused"; });
        } else {
          TableCopier(config, settings, stores, progress, board, *index).run(report.plans[*index]);
        }
        queue.finish(*index);
      }
      running.fetch_sub(1);
    });
  }
  while (running.load() > 0) {
    if (draw) draw(board.snapshot());
    std::this_thread::sleep_for(kDrawEvery);
  }
  for (auto& thread : threads) thread.join();
  report.tables = board.snapshot();
  if (draw) draw(report.tables);
  report.stopped = stop.load();
  if (config.migration.strategy == config::Strategy::sync) {
    note_journaled_writes(config, control.old_store.get(), progress, control.new_store.get(),
                          report.tables);
  }
  queue_for_reconciliation(control.new_store.get(), config.migration.journal.schema, report.plans,
                           report.tables);

  bool all_done = !report.stopped;
  for (const auto& table : report.tables) all_done = all_done && table.state == "done";
  if (all_done && options.sync_sequences) {
    cutover::SequenceSyncOptions sequence_options;
    sequence_options.database = report.database;
    report.sequences = cutover::sync_sequences(config, sequence_options);
    report.sequences_run = true;
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

}  // namespace pgdual::jobs::backfill
