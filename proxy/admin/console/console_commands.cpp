#include "proxy/admin/console/console_commands.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "config/describe.hpp"
#include "protocol/backend_messages.hpp"
#include "text/ascii.hpp"

namespace pgdual::proxy::console {

namespace {

constexpr std::int32_t kTextOid = 25;

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                        s.back() == '\r' || s.back() == ';')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!word.empty()) words.push_back(text::ascii_upper(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(text::ascii_upper(word));
  return words;
}

std::string num(double value) {
  if (!std::isfinite(value)) return "";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{:.4f}", value);
}
std::optional<std::string> num(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return num(*value);
}
std::string yes(bool value) { return value ? "yes" : "no"; }

using Row = std::vector<std::optional<std::string>>;

ResultSet phases(const status::StatusReport& r) {
  ResultSet out{{"scope", "name", "phase", "primary", "secondary"}, {}};
  for (const auto& p : r.phases) {
    // The default first, as the config reads.
    Row row{p.scope, p.name, p.phase, std::nullopt, std::nullopt};
    if (p.scope == "default") {
      row[3] = r.primary;
      row[4] = r.secondary;
      out.rows.insert(out.rows.begin(), std::move(row));
    } else {
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

// A result set of two columns: a name and its value.
class NameValueRows {
 public:
  NameValueRows(std::string name_column, std::string value_column)
      : out_{{std::move(name_column), std::move(value_column)}, {}} {}
  void operator()(std::string name, std::string value) {
    out_.rows.push_back({std::move(name), std::move(value)});
  }
  ResultSet take() { return std::move(out_); }

 private:
  ResultSet out_;
};

ResultSet stats(const status::StatusReport& r) {
  NameValueRows add("stat", "value");
  add("instance", r.instance);
  add("version", r.version);
  add("uptime_seconds", num(std::floor(r.uptime_seconds)));
  add("phase", r.phase);
  add("strategy", r.strategy);
  add("paused", r.admin_paused ? "admin" : (r.fleet_paused ? "fleet flip" : "no"));
  add("writes_fenced", r.writes_fenced.empty() ? "no" : r.writes_fenced);
  add("old_up", yes(r.old_up));
  add("new_up", yes(r.new_up));
  add("secondary_healthy", yes(r.secondary_healthy));
  add("client_connections", num(r.client_connections));
  add("writes_ok_old", num(r.writes_ok_old));
  add("writes_error_old", num(r.writes_error_old));
  add("writes_ok_new", num(r.writes_ok_new));
  add("writes_error_new", num(r.writes_error_new));
  for (const auto& f : r.secondary_failures) add("secondary_failures_" + f.column, num(f.count));
  add("nondeterministic_statements", num(r.nondeterministic));
  add("parse_failures", num(r.parse_failures));
  add("protocol_errors", num(r.protocol_errors));
  add("reconciliation_queue_depth", num(r.reconciliation_queue_depth));
  return add.take();
}

ResultSet journal(const status::StatusReport& r) {
  NameValueRows add("item", "value");
  add("enabled", yes(r.journal_enabled));
  add("depth_records", num(r.journal_depth_records));
  add("depth_bytes", num(r.journal_depth_bytes));
  add("oldest_age_seconds", num(r.journal_oldest_age_seconds));
  add("dead_letters_total", num(r.journal_dead_letters));
  add("retry_queue_depth", num(r.retry_queue_depth));
  add("async_queue_depth", num(r.async_queue_depth));
  add("secondary_lag_seconds", num(r.secondary_lag_seconds));
  for (const auto& l : r.replication) {
    add("cdc_lag_bytes[" + l.database + "]", num(l.bytes));
    add("cdc_lag_seconds[" + l.database + "]", num(l.seconds));
    add("cdc_slot_retained_bytes[" + l.database + "]", num(l.slot_retained_bytes));
    add("cdc_ready[" + l.database + "]", yes(l.ready));
  }
  return add.take();
}

ResultSet backfill(const status::StatusReport& r) {
  ResultSet out{{"table", "phase", "state", "progress", "rows", "rows_remaining", "rows_per_second",
                 "eta_seconds"},
                {}};
  for (const auto& t : r.tables) {
    if (t.backfill_state.empty()) continue;
    out.rows.push_back({t.table, t.phase, t.backfill_state, num(t.backfill_ratio),
                        num(t.backfill_rows), num(t.backfill_rows_remaining),
                        num(t.backfill_rows_per_second), num(t.backfill_eta_seconds)});
  }
  return out;
}

ResultSet reconcile(const status::StatusReport& r) {
  ResultSet out{{"table", "unresolved", "needed_total", "drift_risk_total", "divergences_total",
                 "match_rate", "top_mismatched_columns"},
                {}};
  for (const auto& t : r.tables) {
    std::string columns;
    for (const auto& f : t.top_mismatches) {
      columns += (columns.empty() ? "" : ", ") + f.column + " (" + num(f.count) + ")";
    }
    out.rows.push_back({t.table, num(t.unresolved), num(t.reconciliation_needed), num(t.drift_risk),
                        num(t.divergences), num(t.match_rate), columns});
  }
  return out;
}

ResultSet cutover(const status::StatusReport& r) {
  ResultSet out{{"criterion", "scope", "ok", "measured", "threshold", "source"}, {}};
  // The verdict first: whether every criterion holds, and how old the measurement is.
  out.rows.push_back({"(all)", "", yes(r.cutover_looked && r.cutover_ready),
                      r.cutover_looked
                          ? "measured " + num(std::round(r.cutover_look_age_seconds)) + " s ago"
                          : std::string("not measured yet"),
                      "every criterion", r.cutover_error.empty() ? "" : r.cutover_error});
  for (const auto& c : r.checklist) {
    out.rows.push_back({c.name, c.database.empty() ? "fleet" : c.database, yes(c.ok), c.measured,
                        c.threshold, c.source});
  }
  return out;
}

ResultSet instances(const status::StatusReport& r) {
  ResultSet out{{"instance", "phase", "state", "heartbeat_age_seconds", "journal_depth", "this"},
                {}};
  for (const auto& i : r.instances) {
    out.rows.push_back(
        {i.instance, i.phase, i.state, fmt::format("{:.1f}", i.heartbeat_age_seconds),
         i.journal_depth < 0 ? std::nullopt
                             : std::optional<std::string>(std::to_string(i.journal_depth)),
         yes(i.this_instance)});
  }
  return out;
}

ResultSet config_rows(const config::Config& config) {
  ResultSet out{{"key", "value", "changes"}, {}};
  for (auto& row : config::describe(config)) {
    out.rows.push_back({std::move(row.key), std::move(row.value),
                        std::string(row.restart ? "restart" : "reload")});
  }
  return out;
}

ResultSet help() {
  ResultSet out{{"command", "does"}, {}};
  const std::pair<const char*, const char*> kCommands[] = {
      {"SHOW PHASES", "the default phase, each table's and tenant rule's"},
      {"SHOW STATS", "stores, writes, failures and errors of this instance"},
      {"SHOW JOURNAL", "the journal's depth and age, queues, replication lag"},
      {"SHOW BACKFILL", "each table's backfill state, progress and ETA"},
      {"SHOW RECONCILE", "each table's unresolved marks, drift and shadow mismatches"},
      {"SHOW CUTOVER", "the cutover checklist with measured values"},
      {"SHOW INSTANCES", "the fleet's instances, their phase and heartbeat"},
      {"SHOW CONFIG", "the config in force (no secrets)"},
      {"RELOAD", "reload the config file, as SIGHUP; errors if it does not apply"},
      {"PAUSE", "hold new transactions on this instance once those in flight end"},
      {"RESUME", "release a PAUSE"},
  };
  for (const auto& [command, does] : kCommands) out.rows.push_back({command, does});
  return out;
}

}  // namespace

std::optional<Command> parse_command(std::string_view query, ConsoleError& error) {
  const std::string_view text = trim(query);
  if (text.empty()) return Command{Verb::empty, {}};
  if (text.find(';') != std::string_view::npos) {
    error = {"42601", "the admin console runs one command per query",
             "send each command on its own"};
    return std::nullopt;
  }
  const auto words = words_of(text);
  if (words.size() == 2 && words[0] == "SHOW") return Command{Verb::show, words[1]};
  // Drivers set these on connect (pgjdbc: extra_float_digits, application_name); the console's
  // answers are text and carry no floats to format, so they are accepted and change nothing.
  // Any other SET is refused, so that nobody believes it changed pgdual's config.
  if (words.size() >= 2 && words[0] == "SET" &&
      (words[1] == "EXTRA_FLOAT_DIGITS" || words[1] == "APPLICATION_NAME" ||
       words[1].starts_with("EXTRA_FLOAT_DIGITS=") || words[1].starts_with("APPLICATION_NAME="))) {
    return Command{Verb::set, words[1]};
  }
  if (words.size() == 1 && words[0] == "RELOAD") return Command{Verb::reload, {}};
  if (words.size() == 1 && words[0] == "PAUSE") return Command{Verb::pause, {}};
  if (words.size() == 1 && words[0] == "RESUME") return Command{Verb::resume, {}};
  error = {"42601", "unknown admin console command: " + std::string(text.substr(0, 80)),
           "SHOW HELP lists the commands"};
  return std::nullopt;
}

const std::vector<std::string>& show_objects() {
  static const std::vector<std::string> kObjects{"PHASES",    "STATS",     "JOURNAL",
                                                 "BACKFILL",  "RECONCILE", "CUTOVER",
                                                 "INSTANCES", "CONFIG",    "HELP"};
  return kObjects;
}

std::optional<ResultSet> show(std::string_view object, const status::StatusReport& report,
                              const config::Config& config) {
  if (object == "PHASES") return phases(report);
  if (object == "STATS") return stats(report);
  if (object == "JOURNAL") return journal(report);
  if (object == "BACKFILL") return backfill(report);
  if (object == "RECONCILE") return reconcile(report);
  if (object == "CUTOVER") return cutover(report);
  if (object == "INSTANCES") return instances(report);
  if (object == "CONFIG") return config_rows(config);
  if (object == "HELP") return help();
  return std::nullopt;
}

void append_result_set(std::string& out, const ResultSet& result) {
  std::vector<protocol::RowDescriptionField> fields;
  for (const auto& name : result.columns) {
    protocol::RowDescriptionField field;
    field.name = name;
    field.type_oid = kTextOid;
    field.type_size = -1;
    field.type_mod = -1;
    fields.push_back(std::move(field));
  }
  protocol::append_row_description(out, fields);
  for (const auto& row : result.rows) protocol::append_data_row(out, row);
  protocol::append_command_complete(out, "SHOW");
}

}  // namespace pgdual::proxy::console
