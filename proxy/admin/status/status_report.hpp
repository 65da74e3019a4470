#pragma once
// The operator's view of one pgdual instance (docs/operations.md): what `pgdual status`, the
// page /status, /status.json and the admin console's SHOW commands all show. It is built from
// three sources only, so that every view agrees with the others and with /metrics:
//   - the metrics registry (metrics::MetricView): phases, backfill, shadow reads, journal, lag,
//     reconciliation, errors;
//   - the running config: strategy and the keys the phases come from;
//   - the status watch's last look (cutover/status_watch.hpp): the cutover checklist with
//     measured values and the fleet's instances.
// Pure: no I/O, unit-tested with hand-made views.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "cutover/status_watch.hpp"
#include "metrics/metric_view.hpp"

namespace pgdual::proxy::status {

struct ScopePhase {
  std::string scope;  // default, table, tenant
  std::string name;   // the table, or the tenant rule's match; "" for the default
  std::string phase;
};

struct FieldCount {
  std::string column;
  double count = 0;
};

struct TableStatus {
  std::string table;  // schema.table, as the metrics name it
  std::string phase;  // its override, else the default phase
  // The backfill job's progress as the new store records it.
  std::string backfill_state;  // "" when the job has not seen the table
  double backfill_ratio = 0;
  double backfill_rows = 0;  // copied + skipped
  double backfill_rows_per_second = 0;
  std::optional<double> backfill_rows_remaining;  // nullopt while an estimate is unknown
  std::optional<double> backfill_eta_seconds;     // while copying: rows left / the job's rate
  // Shadow reads.
  double shadow_matched = 0, shadow_mismatched = 0, shadow_errors = 0;
  std::optional<double> match_rate;        // over the last match_window compared reads
  std::vector<FieldCount> top_mismatches;  // the columns that differ most often, at most 3
  // Reconciliation: marks not yet covered plus what the last run left.
  double unresolved = 0;
  double reconciliation_needed = 0;
  double drift_risk = 0;   // writes let through that may leave the stores different
  double divergences = 0;  // writes whose outcome differed between the stores
};

struct CheckItem {
  std::string name, database, measured, threshold, source;
  bool ok = false;
};

struct InstanceStatus {
  std::string instance;
  std::string phase;
  double heartbeat_age_seconds = 0;
  std::int64_t journal_depth = -1;  // -1: unknown
  std::string state;                // live, stale, stopped
  bool this_instance = false;
};

struct StatusReport {
  std::string version;
  std::string instance;
  double uptime_seconds = 0;
  std::int64_t generated_at_unix_ms = 0;

  // The migration.
  std::string phase, strategy;
  std::string primary, secondary;  // old / new / "" (no secondary)
  std::vector<ScopePhase> phases;
  bool admin_paused = false, fleet_paused = false;
  std::string writes_fenced;  // why writes are refused; "" when they are not

  // The stores and the data path.
  bool old_up = false, new_up = false, secondary_healthy = false;
  double client_connections = 0;
  double writes_ok_old = 0, writes_error_old = 0, writes_ok_new = 0, writes_error_new = 0;
  std::vector<FieldCount> secondary_failures;  // by type (column = the type)
  double nondeterministic = 0, parse_failures = 0, protocol_errors = 0;

  // The journal and the lag.
  bool journal_enabled = false;
  double journal_depth_records = 0, journal_depth_bytes = 0, journal_oldest_age_seconds = 0;
  double journal_dead_letters = 0, retry_queue_depth = 0, async_queue_depth = 0;
  double secondary_lag_seconds = 0;
  struct Lag {
    std::string database;
    double bytes = 0, seconds = 0, slot_retained_bytes = 0;
    bool ready = false;
  };
  std::vector<Lag> replication;  // strategy cdc, per database
  double reconciliation_queue_depth = 0;

  std::vector<TableStatus> tables;

  // The cutover checklist and the fleet, from the status watch's last look.
  bool cutover_looked = false;
  double cutover_look_age_seconds = 0;
  bool cutover_ready = false;
  std::string cutover_error;
  std::vector<std::string> cutover_databases;
  std::vector<CheckItem> checklist;
  std::vector<InstanceStatus> instances;
};

struct StatusInputs {
  const config::Config* config = nullptr;
  const metrics::MetricView* metrics = nullptr;
  std::shared_ptr<const cutover::StatusLook> look;  // null: none yet
  std::string instance;
  std::chrono::system_clock::time_point started_at, now;
  bool admin_paused = false, fleet_paused = false;
  std::string writes_fenced;
};

StatusReport build_status(const StatusInputs& inputs);

// The backfill's time left: 0 once done; while copying, `remaining` rows at `rate` per second;
// nullopt otherwise (pending, paused or failed: no rate to trust), or without an estimate or rate.
std::optional<double> eta_seconds(std::string_view state, std::optional<double> remaining,
                                  double rate);

}  // namespace pgdual::proxy::status
