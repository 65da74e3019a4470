#include "jobs/backfill/cdc_initial_copy.hpp"

#include "cdc/exported_slot.hpp"
#include "cdc/ownership.hpp"
#include "cdc/preflight.hpp"
#include "cdc/setup.hpp"
#include "jobs/backfill/blocking_query.hpp"
#include "jobs/backfill/store_pair.hpp"

namespace pgdual::jobs::backfill {

namespace {

// Why the options cannot work for an initial copy under a snapshot ("" when they can).
std::string refuse_options(const config::Config& config, const BackfillOptions& options) {
  if (config.migration.cdc.copy_data != config::CdcCopyData::pgdual) {
    return "strategy cdc with copy_data: " +
           std::string(config::to_string(config.migration.cdc.copy_data)) + ": the subscription " +
           (config.migration.cdc.copy_data == config::CdcCopyData::postgres
                ? "copies the rows itself (PostgreSQL's initial table sync)"
                : "assumes the new store holds the rows already") +
           ", and a chunked copy next to a running subscription would collide with the rows it "
           "inserts. Set migration.cdc.copy_data: pgdual before replication is set up to let "
           "pgdual backfill make the initial copy";
  }
  if (options.resume) {
    return "an initial copy under strategy cdc cannot resume: its snapshot ended with the run "
           "that exported it. Run it again without --resume (it starts over)";
  }
  if (!options.tables.empty()) {
    return "--tables: under strategy cdc the initial copy covers every published table, or the "
           "subscription would start without the rows of the others";
  }
  return "";
}

// TRUNCATE of the new store's copies of the planned tables: the rows of a copy that did not
// finish (the preflight found these tables empty, and under cdc only this copy writes rows
// there before the subscription exists).
std::string truncate_partial_copy(PGconn* new_store, const std::vector<TablePlan>& plans) {
  std::string targets;
  for (const auto& plan : plans) targets += (targets.empty() ? "" : ", ") + plan.target_quoted;
  if (targets.empty()) return "";
  std::string error;
  if (run_query(new_store, "TRUNCATE " + targets, {}, error)) return "";
  return error + " (TRUNCATE them on the new store before the next run)";
}

// Whether the session holding the replication lock is still alive (so no other instance could
// have touched the replication meanwhile) and the slot is still there.
bool still_holds_slot(PGconn* lock_holder, const std::string& slot) {
  std::string error;
  const auto value = single_value(
      lock_holder, "SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
      {slot}, error);
  return error.empty() && value == "1";
}

}  // namespace

BackfillReport run_cdc_initial_copy(
    const config::Config& config, const BackfillOptions& options, const std::atomic<bool>& stop,
    const std::function<void(const std::vector<TableStatus>&)>& draw) {
  BackfillReport report;
  report.database = job_database(config, options.database);
  if (report.error = refuse_options(config, options); !report.error.empty()) return report;
  if (report.database.empty()) {
    report.error = "no database: give --database (backends.old.dbname is not set)";
    return report;
  }
  const pg::Cancelled cancelled = [&stop] { return stop.load(); };
  const pg::Cancelled not_cancelled;  // the steps after a stop: the slot must still go
  std::string error;
  // The lock serializes this copy with every pgdual instance's own setup of the database: none
  // of them may create the subscription (or drop the slot) while the copy runs.
  const pg::Conn lock_holder = pg::connect(cdc::old_store_conninfo(config, report.database),
                                           config.old_backend.connect_timeout, cancelled, error);
  if (!lock_holder) {
    report.error = "old store: " + error;
    return report;
  }
  // It idles for the whole copy: no server-side idle timeout may end it (and the lock with it).
  if (PQserverVersion(lock_holder.get()) >= 140000) {
    pg::exec(lock_holder.get(), "SET idle_session_timeout = 0", cancelled);
  }
  if (!cdc::lock_replication(lock_holder.get(), report.database, cancelled, report.error)) {
    return report;
  }
  const auto finish = [&]() -> BackfillReport {
    cdc::unlock_replication(lock_holder.get(), report.database, not_cancelled);
    return report;
  };

  const cdc::SetupResult setup =
      cdc::ensure_replication(config, report.database, cancelled, /*caller_holds_lock=*/true);
  for (const auto& action : setup.actions) report.notes.push_back(action);
  if (!setup.ok) {
    report.error = setup.error;
    return finish();
  }
  if (!setup.initial_copy_pending) {
    report.notes.push_back(
        "the subscription exists already: replication carries the rows, "
        "nothing to copy (pgdual cdc status shows its state)");
    return finish();
  }

  cdc::ExportedSlot slot(config, report.database, cancelled);
  if (!slot.ok()) {
    report.error = slot.error();
    return finish();
  }
  report.notes.push_back("created replication slot " + slot.slot() +
                         " on the old store; copying under its snapshot " + slot.snapshot() +
                         " (consistent point " + slot.consistent_point() + ")");
  BackfillOptions copy = options;
  copy.snapshot = slot.snapshot();
  copy.restart = true;       // progress of an earlier copy belongs to another snapshot
  copy.lock_keyless = true;  // a keyless table is read whole under the snapshot, not locked
  BackfillReport copied = run_backfill(config, copy, stop, draw);
  slot.release();
  copied.notes.insert(copied.notes.begin(), report.notes.begin(), report.notes.end());
  report = std::move(copied);

  // Sequences that could not be moved do not undo the copy: the report says so apart.
  bool all_copied = report.error.empty() && report.refusals.empty() && !report.stopped;
  for (const auto& table : report.tables) all_copied = all_copied && table.state == "done";
  if (all_copied && !still_holds_slot(lock_holder.get(), slot.slot())) {
    report.error =
        "the old store's session holding the replication lock ended during the copy, "
        "so another pgdual may have changed the replication: copy again";
    all_copied = false;
  }
  if (all_copied) {
    const cdc::SetupResult attached =
        cdc::attach_subscription(config, report.database, not_cancelled);
    for (const auto& action : attached.actions) report.notes.push_back(action);
    if (!attached.ok) report.error = attached.error;
    // A subscription that exists (its mark failed after it was created) streams into the copy:
    // the slot and the rows stay, the error says what to do.
    if (attached.ok || attached.subscription_created) return finish();
  }
  // Not finished: the slot can never be attached, and the rows copied so far cannot be
  // completed under another snapshot.
  if (const auto dropped = cdc::drop_unattached_slot(config, report.database, not_cancelled);
      !dropped.empty()) {
    report.notes.push_back("the replication slot could not be dropped: " + dropped);
  } else {
    report.notes.push_back("dropped replication slot " + slot.slot() +
                           " (the copy did not finish; run pgdual backfill again)");
  }
  StorePair stores;
  if (const auto connected = stores.connect(config, report.database); !connected.empty()) {
    report.notes.push_back("the partial copy was not removed: " + connected);
  } else if (const auto truncated = truncate_partial_copy(stores.new_store.get(), report.plans);
             !truncated.empty()) {
    report.notes.push_back("the partial copy was not removed: " + truncated);
  } else if (!report.plans.empty()) {
    report.notes.push_back("emptied the partly copied tables on the new store");
  }
  if (report.error.empty() && !report.stopped && report.refusals.empty()) {
    report.error = "the initial copy did not finish";
  }
  return finish();
}

}  // namespace pgdual::jobs::backfill
