#include "proxy/admin/status/status_json.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "text/json.hpp"

namespace pgdual::proxy::status {

namespace {

// A JSON object written member by member; the caller closes nested ones.
class JsonWriter {
 public:
  JsonWriter& open(std::string_view key, char bracket) {
    comma_and_key(key);
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonWriter& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  JsonWriter& str(std::string_view key, std::string_view value) {
    comma_and_key(key);
    text::append_json_string(out_, value);
    return *this;
  }
  JsonWriter& num(std::string_view key, double value) {
    comma_and_key(key);
    // JSON has no NaN or infinity: an unknown value is null.
    out_ += std::isfinite(value) ? fmt::format("{}", value) : std::string("null");
    return *this;
  }
  JsonWriter& num(std::string_view key, const std::optional<double>& value) {
    if (value) return num(key, *value);
    comma_and_key(key);
    out_ += "null";
    return *this;
  }
  JsonWriter& boolean(std::string_view key, bool value) {
    comma_and_key(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  // An empty key writes an array element.
  void comma_and_key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    if (!key.empty()) {
      text::append_json_string(out_, key);
      out_ += ':';
    }
  }
  std::string out_;
  bool first_ = true;
};

void write_tables(JsonWriter& w, const std::vector<TableStatus>& tables) {
  w.open("tables", '[');
  for (const auto& t : tables) {
    w.open("", '{').str("table", t.table).str("phase", t.phase);
    w.open("backfill", '{')
        .str("state", t.backfill_state)
        .num("ratio", t.backfill_ratio)
        .num("rows", t.backfill_rows)
        .num("rows_per_second", t.backfill_rows_per_second)
        .num("rows_remaining", t.backfill_rows_remaining)
        .num("eta_seconds", t.backfill_eta_seconds)
        .close('}');
    w.open("shadow", '{')
        .num("matched", t.shadow_matched)
        .num("mismatched", t.shadow_mismatched)
        .num("errors", t.shadow_errors)
        .num("match_rate", t.match_rate);
    w.open("top_mismatched_columns", '[');
    for (const auto& f : t.top_mismatches) {
      w.open("", '{').str("column", f.column).num("count", f.count).close('}');
    }
    w.close(']').close('}');
    w.open("reconciliation", '{')
        .num("unresolved", t.unresolved)
        .num("needed_total", t.reconciliation_needed)
        .num("drift_risk_total", t.drift_risk)
        .num("divergences_total", t.divergences)
        .close('}');
    w.close('}');
  }
  w.close(']');
}

void write_cutover(JsonWriter& w, const StatusReport& r) {
  w.open("cutover", '{')
      .boolean("measured", r.cutover_looked)
      .num("age_seconds",
           r.cutover_looked ? std::optional<double>(r.cutover_look_age_seconds) : std::nullopt)
      .boolean("ready", r.cutover_ready)
      .str("error", r.cutover_error);
  w.open("databases", '[');
  for (const auto& d : r.cutover_databases) w.str("", d);
  w.close(']');
  w.open("checklist", '[');
  for (const auto& c : r.checklist) {
    w.open("", '{')
        .str("criterion", c.name)
        .str("database", c.database)
        .boolean("ok", c.ok)
        .str("measured", c.measured)
        .str("threshold", c.threshold)
        .str("source", c.source)
        .close('}');
  }
  w.close(']').close('}');
  w.open("instances", '[');
  for (const auto& i : r.instances) {
    w.open("", '{')
        .str("instance", i.instance)
        .str("phase", i.phase)
        .num("heartbeat_age_seconds", i.heartbeat_age_seconds)
        .num("journal_depth",
             i.journal_depth < 0 ? std::optional<double>() : static_cast<double>(i.journal_depth))
        .str("state", i.state)
        .boolean("this_instance", i.this_instance)
        .close('}');
  }
  w.close(']');
}

}  // namespace

std::string to_json(const StatusReport& r) {
  JsonWriter w;
  w.open("", '{')
      .str("version", r.version)
      .str("instance", r.instance)
      .num("uptime_seconds", r.uptime_seconds)
      .num("generated_at_unix_ms", static_cast<double>(r.generated_at_unix_ms));
  w.open("migration", '{')
      .str("phase", r.phase)
      .str("strategy", r.strategy)
      .str("primary", r.primary)
      .str("secondary", r.secondary)
      .boolean("admin_paused", r.admin_paused)
      .boolean("fleet_paused", r.fleet_paused)
      .str("writes_fenced", r.writes_fenced);
  w.open("phases", '[');
  for (const auto& p : r.phases) {
    w.open("", '{').str("scope", p.scope).str("name", p.name).str("phase", p.phase).close('}');
  }
  w.close(']').close('}');
  w.open("stores", '{')
      .boolean("old_up", r.old_up)
      .boolean("new_up", r.new_up)
      .boolean("secondary_healthy", r.secondary_healthy)
      .num("client_connections", r.client_connections)
      .num("writes_ok_old", r.writes_ok_old)
      .num("writes_error_old", r.writes_error_old)
      .num("writes_ok_new", r.writes_ok_new)
      .num("writes_error_new", r.writes_error_new)
      .num("nondeterministic_total", r.nondeterministic)
      .num("parse_failures_total", r.parse_failures)
      .num("protocol_errors_total", r.protocol_errors);
  w.open("secondary_failures", '{');
  for (const auto& f : r.secondary_failures) w.num(f.column, f.count);
  w.close('}').close('}');
  w.open("journal", '{')
      .boolean("enabled", r.journal_enabled)
      .num("depth_records", r.journal_depth_records)
      .num("depth_bytes", r.journal_depth_bytes)
      .num("oldest_age_seconds", r.journal_oldest_age_seconds)
      .num("dead_letters_total", r.journal_dead_letters)
      .num("retry_queue_depth", r.retry_queue_depth)
      .num("async_queue_depth", r.async_queue_depth)
      .num("secondary_lag_seconds", r.secondary_lag_seconds)
      .num("reconciliation_queue_depth", r.reconciliation_queue_depth)
      .close('}');
  w.open("replication", '[');
  for (const auto& l : r.replication) {
    w.open("", '{')
        .str("database", l.database)
        .num("lag_bytes", l.bytes)
        .num("lag_seconds", l.seconds)
        .num("slot_retained_bytes", l.slot_retained_bytes)
        .boolean("ready", l.ready)
        .close('}');
  }
  w.close(']');
  write_tables(w, r.tables);
  write_cutover(w, r);
  w.close('}');
  std::string out = w.take();
  out += '\n';
  return out;
}

}  // namespace pgdual::proxy::status
