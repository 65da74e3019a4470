#include "jobs/reconcile/recheck.hpp"

#include <thread>

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/reconcile/store_reads.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kSettlePoll{20};
constexpr std::chrono::seconds kFenceWait{60};

constexpr const char* kInProgress =
    "SELECT count(*) FROM pg_snapshot_xip($1::pg_snapshot) AS x "
    "WHERE pg_xact_status(x) = 'in progress'";

void rollback(PGconn* conn) {
  if (conn != nullptr && PQtransactionStatus(conn) != PQTRANS_IDLE) {
    pg::Result ignored(PQexec(conn, "ROLLBACK"));
  }
}

std::string exec(PGconn* conn, const char* store, const std::string& sql) {
  std::string error;
  if (!backfill::run_query(conn, sql, {}, error)) return std::string(store) + " store: " + error;
  return "";
}

bool retryable(const std::string& error) {
  return error.find("lock timeout") != std::string::npos ||
         error.find("deadlock") != std::string::npos;
}

std::vector<Key> keys_of(const std::vector<RowDifference>& differences) {
  std::vector<Key> keys;
  for (const auto& difference : differences) keys.push_back(difference.key);
  return keys;
}

}  // namespace

std::string repair_statement(const TablePlan& plan, const RowDifference& difference,
                             bool primary_is_new) {
  const auto& primary_values = primary_is_new ? difference.new_values : difference.old_values;
  const bool only_on_secondary = primary_is_new ? difference.kind == DifferenceKind::only_on_old
                                                : difference.kind == DifferenceKind::only_on_new;
  if (plan.mapping)
    return mapped_repair_sql(plan, primary_values, difference.key, only_on_secondary,
                             primary_is_new);
  return only_on_secondary ? delete_sql(plan, difference.key) : upsert_sql(plan, primary_values);
}

Rechecker::Rechecker(const TablePlan& plan, const RecheckSettings& settings,
                     backfill::StorePair& stores)
    : plan_(plan),
      settings_(settings),
      stores_(stores),
      fence_(settings.journal_schema,
             std::chrono::duration_cast<std::chrono::milliseconds>(kFenceWait)) {}

PGconn* Rechecker::primary() const {
  return settings_.primary_is_new ? stores_.new_store.get() : stores_.old_store.get();
}

PGconn* Rechecker::secondary() const {
  return settings_.primary_is_new ? stores_.old_store.get() : stores_.new_store.get();
}

std::string Rechecker::run(const std::vector<Key>& keys, RecheckOutcome& outcome) {
  if (!fence_checked_ && !settings_.primary_is_new) {
    std::string error;
    if (!fence_.find(stores_.old_store.get(), error)) return "old store: " + error;
    fence_checked_ = true;
  }
  for (std::size_t start = 0; start < keys.size(); start += kBatch) {
    const std::vector<Key> batch(
        keys.begin() + static_cast<std::ptrdiff_t>(start),
        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), start + kBatch)));
    // A row lock the application holds longer than lock_timeout (1 s), or a deadlock with it:
    // the batch is decided again from the start (nothing of it was kept or committed).
    std::string error;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      RecheckOutcome batch_outcome;
      error = run_batch(batch, batch_outcome);
      if (error.empty()) {
        outcome.repaired += batch_outcome.repaired;
        outcome.repair_failed += batch_outcome.repair_failed;
        outcome.cleared += batch_outcome.cleared;
        for (auto& difference : batch_outcome.differences) {
          outcome.differences.push_back(std::move(difference));
        }
        break;
      }
      if (!retryable(error)) return error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    }
    if (!error.empty()) return error;
  }
  return "";
}

std::string Rechecker::run_batch(const std::vector<Key>& batch, RecheckOutcome& outcome) {
  Round first;
  if (auto error = round(batch, false, first, outcome); !error.empty()) return error;
  outcome.cleared += static_cast<std::int64_t>(batch.size() - first.differences.size());
  if (first.differences.empty()) return "";
  if (auto error = settle(first.snapshot); !error.empty()) return error;
  Round second;
  if (auto error = round(keys_of(first.differences), settings_.execute, second, outcome);
      !error.empty()) {
    return error;
  }
  outcome.cleared +=
      static_cast<std::int64_t>(first.differences.size() - second.differences.size());
  if (settings_.execute) {
    // The repaired keys once more: what still differs stays reported as not repaired.
    std::vector<Key> repaired;
    for (const auto& difference : second.differences) {
      if (difference.repaired) repaired.push_back(difference.key);
    }
    Round verify;
    if (auto error = round(repaired, false, verify, outcome); !error.empty()) return error;
    for (const auto& left : verify.differences) {
      for (auto& difference : second.differences) {
        if (difference.key == left.key && difference.repaired) {
          difference.repaired = false;
          --outcome.repaired;
          ++outcome.repair_failed;
        }
      }
    }
  }
  for (auto& difference : second.differences) {
    outcome.differences.push_back(std::move(difference));
  }
  return "";
}

std::string Rechecker::round(const std::vector<Key>& keys, bool repair, Round& out,
                             RecheckOutcome& outcome) {
  if (keys.empty()) return "";
  PGconn* first = primary();
  PGconn* second = secondary();
  const char* first_name = settings_.primary_is_new ? "new" : "old";
  const char* second_name = settings_.primary_is_new ? "old" : "new";
  const TablePlan old_plan = backfill::old_store_side(plan_);
  const std::string old_fetch = fetch_rows_sql(old_plan, settings_.options, keys, true);
  const std::string new_fetch = fetch_rows_sql(plan_, settings_.options, keys, true);
  const std::string& fetch = settings_.primary_is_new ? new_fetch : old_fetch;
  const std::string& second_fetch = settings_.primary_is_new ? old_fetch : new_fetch;
  const auto fail = [&](std::string error) {
    rollback(second);
    rollback(first);
    return error;
  };
  if (auto error = exec(first, first_name, "BEGIN"); !error.empty()) return fail(error);
  std::string error;
  const pg::Result first_rows = backfill::run_query(first, fetch, {}, error);
  if (!first_rows) return fail(std::string(first_name) + " store: " + error);
  if (!settings_.primary_is_new && fence_.present()) {
    if (auto waited = fence_.wait(first, [] { return false; }); !waited.empty()) {
      return fail("old store: " + waited);
    }
  }
  if (auto begun = exec(second, second_name, "BEGIN"); !begun.empty()) return fail(begun);
  out.snapshot = backfill::single_value(second, "SELECT pg_current_snapshot()::text", {}, error);
  if (out.snapshot.empty()) return fail(std::string(second_name) + " store: " + error);
  const pg::Result second_rows = backfill::run_query(second, second_fetch, {}, error);
  if (!second_rows) return fail(std::string(second_name) + " store: " + error);

  const std::size_t key_columns = plan_.key.size();
  const std::size_t columns = plan_.columns_quoted.size();
  auto primary_rows = read_fetched_rows(first_rows, key_columns, columns);
  auto secondary_rows = read_fetched_rows(second_rows, key_columns, columns);
  out.differences =
      settings_.primary_is_new
          ? compare_rows(plan_, secondary_rows, primary_rows, settings_.float_tolerance)
          : compare_rows(plan_, primary_rows, secondary_rows, settings_.float_tolerance);
  for (auto& difference : out.differences) {
    difference.repair = repair_statement(plan_, difference, settings_.primary_is_new);
  }
  if (repair) {
    if (auto failed = apply_repairs(out.differences, outcome); !failed.empty()) {
      return fail(failed);
    }
    // The primary's locks must have lasted until the repairs are committed (as the backfill's
    // chunks check): a session that died let writes pass under them.
    if (auto alive = exec(first, first_name, "SELECT 1"); !alive.empty()) return fail(alive);
    if (auto committed = exec(second, second_name, "COMMIT"); !committed.empty()) {
      return fail(committed);
    }
  } else {
    rollback(second);
  }
  if (auto committed = exec(first, first_name, "COMMIT"); !committed.empty()) {
    return fail(committed);
  }
  return "";
}

std::string Rechecker::apply_repairs(std::vector<RowDifference>& differences,
                                     RecheckOutcome& outcome) {
  PGconn* second = secondary();
  for (auto& difference : differences) {
    std::string error;
    if (!backfill::run_query(second, "SAVEPOINT pgdual_repair", {}, error)) return error;
    if (backfill::run_query(second, difference.repair, {}, error)) {
      difference.repaired = true;
      ++outcome.repaired;
      backfill::run_query(second, "RELEASE SAVEPOINT pgdual_repair", {}, error);
    } else {
      ++outcome.repair_failed;
      if (!backfill::run_query(second, "ROLLBACK TO SAVEPOINT pgdual_repair", {}, error)) {
        return error;
      }
    }
  }
  return "";
}

std::string Rechecker::settle(const std::string& snapshot) {
  if (settings_.strategy == config::Strategy::async) {
    std::this_thread::sleep_for(settings_.async_wait);
  }
  const auto deadline = Clock::now() + settings_.settle_timeout;
  for (;;) {
    std::string error;
    const std::string open = backfill::single_value(secondary(), kInProgress, {snapshot}, error);
    if (open.empty()) return "settling: " + error;
    if (open == "0" || Clock::now() >= deadline) return "";  // past the deadline: round 2 decides
    std::this_thread::sleep_for(kSettlePoll);
  }
}

}  // namespace pgdual::jobs::reconcile
