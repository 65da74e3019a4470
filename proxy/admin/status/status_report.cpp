#include "proxy/admin/status/status_report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "cutover/gate.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::proxy::status {

namespace {

using metrics::LabelSet;
using metrics::MetricView;

constexpr std::size_t kTopMismatches = 3;

std::string_view store_name(routing::Store store) {
  return store == routing::Store::old_store ? "old" : "new";
}

// Every table any per-table family names, with the default phase or its override.
std::map<std::string, TableStatus> tables_of(const MetricView& view,
                                             const config::MigrationConfig& migration) {
  std::map<std::string, TableStatus> tables;
  for (const char* family :
       {"pgdual_backfill_progress_ratio", "pgdual_shadow_reads_total",
        "pgdual_reconciliation_unresolved", "pgdual_reconciliation_needed_total",
        "pgdual_drift_risk_total", "pgdual_write_divergence_total"}) {
    for (const auto& table : view.label_values(family, "table")) tables[table].table = table;
  }
  for (const auto& [table, phase] : migration.tables) tables[table].table = table;
  for (auto& [name, table] : tables) {
    table.phase =
        std::string(config::to_string(routing::table_phase(migration, migration.phase, name)));
  }
  return tables;
}

void add_backfill(const MetricView& view, TableStatus& t) {
  const LabelSet table{{"table", t.table}};
  if (!view.value("pgdual_backfill_progress_ratio", table)) return;
  t.backfill_ratio = view.sum("pgdual_backfill_progress_ratio", table);
  t.backfill_rows = view.sum("pgdual_backfill_rows_total", table);
  t.backfill_rows_per_second = view.sum("pgdual_backfill_rows_per_second", table);
  for (const auto& s : view.series("pgdual_backfill_state")) {
    if (s.value > 0 && metrics::labels_match(s.labels, table))
      t.backfill_state = s.labels.at("state");
  }
  if (const auto remaining = view.value("pgdual_backfill_rows_remaining", table);
      remaining && *remaining >= 0) {
    t.backfill_rows_remaining = *remaining;
  }
  t.backfill_eta_seconds =
      eta_seconds(t.backfill_state, t.backfill_rows_remaining, t.backfill_rows_per_second);
}

void add_shadow(const MetricView& view, TableStatus& t) {
  const auto reads = [&](const char* result) {
    return view.sum("pgdual_shadow_reads_total", {{"table", t.table}, {"result", result}});
  };
  t.shadow_matched = reads("match");
  t.shadow_mismatched = reads("mismatch");
  t.shadow_errors = reads("error");
  if (t.shadow_matched + t.shadow_mismatched > 0) {
    t.match_rate = view.value("pgdual_shadow_match_rate", {{"table", t.table}});
  }
  for (const auto& s : view.series("pgdual_shadow_field_mismatches_total")) {
    if (s.value > 0 && metrics::labels_match(s.labels, {{"table", t.table}})) {
      t.top_mismatches.push_back({s.labels.count("column") ? s.labels.at("column") : "", s.value});
    }
  }
  std::sort(t.top_mismatches.begin(), t.top_mismatches.end(),
            [](const FieldCount& a, const FieldCount& b) {
              return a.count != b.count ? a.count > b.count : a.column < b.column;
            });
  if (t.top_mismatches.size() > kTopMismatches) t.top_mismatches.resize(kTopMismatches);
}

void add_store_health(const MetricView& view, StatusReport& r) {
  r.old_up = view.sum("pgdual_backend_up", {{"backend", "old"}}) > 0;
  r.new_up = view.sum("pgdual_backend_up", {{"backend", "new"}}) > 0;
  r.secondary_healthy = view.sum("pgdual_secondary_healthy") > 0;
  r.client_connections = view.sum("pgdual_client_connections");
  r.writes_ok_old = view.sum("pgdual_writes_total", {{"backend", "old"}, {"result", "ok"}});
  r.writes_error_old = view.sum("pgdual_writes_total", {{"backend", "old"}, {"result", "error"}});
  r.writes_ok_new = view.sum("pgdual_writes_total", {{"backend", "new"}, {"result", "ok"}});
  r.writes_error_new = view.sum("pgdual_writes_total", {{"backend", "new"}, {"result", "error"}});
  for (const auto& type : view.label_values("pgdual_secondary_failures_total", "type")) {
    r.secondary_failures.push_back(
        {type, view.sum("pgdual_secondary_failures_total", {{"type", type}})});
  }
  r.nondeterministic = view.sum("pgdual_nondeterministic_statements_total");
  r.parse_failures = view.sum("pgdual_parse_failures_total");
  r.protocol_errors = view.sum("pgdual_protocol_errors_total");
}

void add_journal_and_lag(const MetricView& view, StatusReport& r) {
  r.journal_depth_records = view.sum("pgdual_journal_depth_records");
  r.journal_depth_bytes = view.sum("pgdual_journal_depth_bytes");
  r.journal_oldest_age_seconds = view.sum("pgdual_journal_oldest_age_seconds");
  r.journal_dead_letters = view.sum("pgdual_journal_dead_letters_total");
  r.retry_queue_depth = view.sum("pgdual_retry_queue_depth");
  r.async_queue_depth = view.sum("pgdual_async_queue_depth");
  r.secondary_lag_seconds = view.sum("pgdual_secondary_lag_seconds");
  r.reconciliation_queue_depth = view.sum("pgdual_reconciliation_queue_depth");
  for (const auto& database : view.label_values("pgdual_cdc_lag_bytes", "database")) {
    const LabelSet match{{"database", database}};
    r.replication.push_back({database, view.sum("pgdual_cdc_lag_bytes", match),
                             view.sum("pgdual_cdc_lag_seconds", match),
                             view.sum("pgdual_cdc_slot_retained_bytes", match),
                             view.sum("pgdual_cdc_ready", match) > 0});
  }
}

void add_look(const StatusInputs& in, StatusReport& r) {
  if (!in.look) return;
  const auto& gate = in.look->gate;
  r.cutover_looked = true;
  r.cutover_look_age_seconds =
      std::max(0.0, std::chrono::duration<double>(in.now - in.look->taken).count());
  r.cutover_ready = gate.ok();
  r.cutover_error = gate.error;
  r.cutover_databases = gate.databases;
  for (const auto& c : gate.criteria) {
    r.checklist.push_back({c.name, c.database, c.measured, c.threshold, c.source, c.ok});
  }
  for (const auto& m : gate.members) {
    InstanceStatus i;
    i.instance = m.instance;
    i.phase = m.phase;
    // The sample's age when the look read it, plus the look's own age.
    i.heartbeat_age_seconds = m.age_seconds + r.cutover_look_age_seconds;
    i.journal_depth = m.journal_depth;
    i.state = m.stopped ? "stopped"
                        : (m.age_seconds <= cutover::fresh_sample_seconds() ? "live" : "stale");
    i.this_instance = m.instance == in.instance;
    r.instances.push_back(std::move(i));
  }
}

}  // namespace

std::optional<double> eta_seconds(std::string_view state, std::optional<double> remaining,
                                  double rate) {
  if (state == "done") return 0.0;
  if (state != "copying" || !remaining || !(rate > 0)) return std::nullopt;
  return *remaining / rate;
}

StatusReport build_status(const StatusInputs& in) {
  const auto& config = *in.config;
  const auto& view = *in.metrics;
  const auto& migration = config.migration;
  StatusReport r;
  for (const auto& s : view.series("pgdual_build_info")) {
    if (s.labels.count("version")) r.version = s.labels.at("version");
  }
  r.instance = in.instance;
  r.uptime_seconds = std::chrono::duration<double>(in.now - in.started_at).count();
  r.generated_at_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(in.now.time_since_epoch()).count();

  r.phase = std::string(config::to_string(migration.phase));
  r.strategy = std::string(config::to_string(migration.strategy));
  const auto roles = routing::roles_for(migration.phase, migration.keep_old_in_sync);
  r.primary = std::string(store_name(roles.primary));
  r.secondary = roles.secondary ? std::string(store_name(*roles.secondary)) : std::string();
  for (const auto& s : view.series("pgdual_phase_info")) {
    const auto label = [&](const char* name) {
      const auto it = s.labels.find(name);
      return it == s.labels.end() ? std::string() : it->second;
    };
    r.phases.push_back({label("scope"), label("name"), label("phase")});
  }
  r.admin_paused = in.admin_paused;
  r.fleet_paused = in.fleet_paused;
  r.writes_fenced = in.writes_fenced;
  r.journal_enabled = migration.journal.enabled;

  add_store_health(view, r);
  add_journal_and_lag(view, r);
  for (auto& [name, table] : tables_of(view, migration)) {
    add_backfill(view, table);
    add_shadow(view, table);
    const LabelSet match{{"table", name}};
    table.unresolved = view.sum("pgdual_reconciliation_unresolved", match);
    table.reconciliation_needed = view.sum("pgdual_reconciliation_needed_total", match);
    table.drift_risk = view.sum("pgdual_drift_risk_total", match);
    table.divergences = view.sum("pgdual_write_divergence_total", match);
    r.tables.push_back(std::move(table));
  }
  add_look(in, r);
  return r;
}

}  // namespace pgdual::proxy::status
