#include "jobs/reconcile/reconcile_job.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "jobs/backfill/catalog_reader.hpp"
#include "jobs/backfill/status_board.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/backfill/table_lock.hpp"
#include "jobs/reconcile/state_table.hpp"
#include "jobs/reconcile/table_reconciler.hpp"
#include "journal/reconcile_queue.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kDrawEvery{500};
constexpr std::chrono::milliseconds kPoll{10};
// The per-bucket checksums group a few thousand buckets that the planner, not knowing the
// key's spread, estimates at one per row: it would sort the chunk (spilling to disk) instead of
// hashing it. JIT compiles each chunk's statement again for little gain.
constexpr const char* kComparisonSettings = "SET enable_sort = off; SET jit = off";

bool both_stores_written(config::Phase phase) {
  return phase == config::Phase::dual_write || phase == config::Phase::backfill ||
         phase == config::Phase::shadow_read || phase == config::Phase::cutover;
}

std::string job_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

// Significant digits a float is fingerprinted with under a relative tolerance: one more than the
// tolerance resolves, so values within it mostly round alike (those that do not are compared
// exactly, value by value, with the tolerance).
int float_digits(double tolerance) {
  if (tolerance <= 0) return 0;
  return std::clamp(static_cast<int>(std::ceil(-std::log10(tolerance))) + 1, 1, 17);
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::vector<std::pair<std::string, std::string>> describe(const config::Config& config,
                                                          const ReconcileOptions& options,
                                                          bool primary_is_new) {
  const double tolerance = config.migration.shadow_read.float_tolerance;
  return {
      {"primary", primary_is_new ? "new store (cutover)" : "old store"},
      {"strategy", std::string(config::to_string(config.migration.strategy))},
      {"row fingerprint", "hashtextextended(record text, 0): 64 bits"},
      {"range checksum", "count(*) and sum of fingerprints (128-bit sum)"},
      {"session", "TimeZone UTC, DateStyle ISO, extra_float_digits 3, UTF8"},
      {"json", "compared as jsonb"},
      {"numeric", "compared by value (trim_scale)"},
      {"floats", tolerance > 0 ? "relative tolerance " + number(tolerance) : "exact"},
      {"chunk target", std::to_string(options.chunk_target.count()) + " ms"},
      {"repair", options.execute ? "execute" : "dry-run"},
  };
}

}  // namespace

std::int64_t ReconcileReport::remaining() const {
  std::int64_t total = 0;
  for (const auto& table : tables) total += table.remaining();
  return total;
}

int ReconcileReport::exit_code() const {
  if (!error.empty() || !refusals.empty()) return 2;
  for (const auto& table : tables) {
    if (table.state == "failed") return 2;
  }
  if (remaining() > 0) return 1;
  for (const auto& table : tables) {
    if (table.state != "done") return 1;
  }
  return 0;
}

ReconcileReport run_reconcile(const config::Config& config, const ReconcileOptions& options,
                              const std::atomic<bool>& stop,
                              const std::function<void(const std::vector<TableReport>&)>& draw) {
  const auto started = Clock::now();
  ReconcileReport report;
  report.database = backfill::job_database(config, options.database);
  report.execute = options.execute;
  report.proof = options.proof;
  report.full_values = config.migration.shadow_read.log_values == config::LogValues::full;
  if (report.database.empty()) {
    report.error = "no database: give --database (backends.old.dbname is not set)";
    return report;
  }
  const auto phase =
      routing::session_phase(config.migration, routing::SessionIdentity{report.database, "", ""});
  if (!both_stores_written(phase)) {
    report.error = "database " + report.database + " is in phase " +
                   std::string(config::to_string(phase)) +
                   ": the new store does not receive its writes, so there is nothing to "
                   "reconcile yet (run the backfill in dual_write first)";
    return report;
  }
  report.primary_is_new = phase == config::Phase::cutover;
  report.settings = describe(config, options, report.primary_is_new);

  backfill::StorePair control;
  control.application_name = "pgdual reconcile";
  if (report.error = control.connect(config, report.database); !report.error.empty()) {
    return report;
  }
  backfill::CatalogScope scope{report.database, options.tables, false,
                               config.migration.journal.schema, control.replica_role};
  scope.reconcile = true;
  auto catalog = backfill::read_catalogs(control.old_store.get(), control.new_store.get(),
                                         config.migration, scope);
  if (!catalog.error.empty()) {
    report.error = catalog.error;
    return report;
  }
  report.refusals = std::move(catalog.refusals);
  report.not_mirrored = std::move(catalog.not_mirrored);
  // A partitioned table is compared whole, through its root: one plan per target.
  std::set<std::string> targets;
  for (auto& plan : catalog.plans) {
    if (targets.insert(plan.target).second) report.plans.push_back(std::move(plan));
  }
  const StateTable state(config.migration.journal.schema);
  if (auto error = state.ensure(control.new_store.get()); !error.empty()) {
    report.error = "new store: " + error;
    return report;
  }
  for (const auto& plan : report.plans) {
    TableReport table;
    table.table = plan.target;
    table.estimated_rows = plan.estimated_rows;
    report.tables.push_back(table);
    std::string error;
    const auto lock =
        backfill::probe_table_lock(control.new_store.get(), plan.target, error, kReconcileJob);
    if (lock == backfill::TableLock::error) report.error = error;
    if (lock == backfill::TableLock::held_elsewhere) {
      report.refusals.push_back(
          {plan.target, backfill::held_elsewhere_message(plan.target, kReconcileJob)});
    }
  }
  if (!report.error.empty() || !report.refusals.empty()) return report;

  TableSettings settings;
  settings.database = report.database;
  settings.job = job_name();
  settings.resume = options.resume;
  settings.proof = options.proof;
  settings.chunk_target = options.chunk_target;
  settings.max_differences = options.max_differences;
  if (options.max_seconds > 0) {
    settings.deadline = started + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.max_seconds));
  }
  settings.stop = &stop;
  std::atomic<std::int64_t> found{0};
  settings.differences_found = &found;
  auto& recheck = settings.recheck;
  recheck.float_tolerance = config.migration.shadow_read.float_tolerance;
  recheck.options.float_digits = float_digits(recheck.float_tolerance);
  recheck.primary_is_new = report.primary_is_new;
  recheck.execute = options.execute;
  recheck.strategy = config.migration.strategy;
  recheck.journal_schema = config.migration.journal.schema;
  recheck.settle_timeout = config.limits.secondary_timeout + std::chrono::seconds(1);
  recheck.async_wait = config.limits.secondary_timeout;

  backfill::Board<TableReport> board(report.tables);
  std::atomic<std::size_t> next{0};
  std::atomic<unsigned> running{std::max(1u, options.workers)};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < std::max(1u, options.workers); ++i) {
    threads.emplace_back([&] {
      backfill::StorePair stores;
      stores.application_name = "pgdual reconcile";
      stores.extra_settings = kComparisonSettings;
      for (std::size_t index; (index = next.fetch_add(1)) < report.plans.size();) {
        TableReconciler(config, settings, stores, state,
                        [&board, index](const std::function<void(TableReport&)>& change) {
                          board.update(index, change);
                        })
            .run(report.plans[index]);
      }
      running.fetch_sub(1);
    });
  }
  // Drawn every kDrawEvery, but the end noticed within kPoll (a short table must not wait for
  // the next drawing).
  for (auto drawn = Clock::time_point{}; running.load() > 0; std::this_thread::sleep_for(kPoll)) {
    if (draw && Clock::now() - drawn >= kDrawEvery) {
      draw(board.snapshot());
      drawn = Clock::now();
    }
  }
  for (auto& thread : threads) thread.join();
  report.tables = board.snapshot();
  if (draw) draw(report.tables);
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

int run_continuous(const config::Config& config, const ReconcileOptions& options,
                   std::chrono::milliseconds interval, const std::atomic<bool>& stop,
                   const std::function<void(const ReconcileReport&)>& each) {
  const std::string database = backfill::job_database(config, options.database);
  const StateTable state(config.migration.journal.schema);
  int last = 0;
  while (!stop.load()) {
    backfill::StorePair control;
    control.application_name = "pgdual reconcile";
    std::string error = control.connect(config, database);
    std::vector<std::pair<std::string, std::int64_t>> marked;
    if (error.empty()) error = state.ensure(control.new_store.get());
    if (error.empty()) marked = state.unresolved(control.new_store.get(), error);
    if (!error.empty()) {
      ReconcileReport failed;
      failed.database = database;
      failed.error = error;
      each(failed);
      last = 2;
    } else if (!marked.empty()) {
      ReconcileOptions pass = options;
      pass.resume = false;
      pass.proof = false;
      pass.tables.clear();
      bool whole_database = false;
      for (const auto& [table, count] : marked) {
        if (table == journal::kUnknownTable) whole_database = true;
        pass.tables.push_back(table);
      }
      if (whole_database) pass.tables.clear();
      const auto report = run_reconcile(config, pass, stop, {});
      // A mark of an unnamed table is resolved by a pass over every table that found them equal
      // (or repaired them all).
      if (whole_database && report.exit_code() == 0) {
        for (const auto& [table, count] : marked) {
          if (table == journal::kUnknownTable) {
            state.resolve(control.new_store.get(), table, count, 0, "");
          }
        }
      }
      each(report);
      last = report.exit_code();
    }
    control = {};
    for (auto waited = std::chrono::milliseconds(0); waited < interval && !stop.load();
         waited += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return last;
}

}  // namespace pgdual::jobs::reconcile
