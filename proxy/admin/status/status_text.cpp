#include "proxy/admin/status/status_text.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

namespace pgdual::proxy::status {

namespace {

std::string count(double value) { return fmt::format("{:.0f}", value); }

std::string backfill_cell(const TableStatus& t) {
  if (t.backfill_state.empty()) return "-";
  return fmt::format("{} {}", t.backfill_state, human_percent(t.backfill_ratio));
}

std::string match_cell(const TableStatus& t) {
  if (!t.match_rate) return "-";
  return fmt::format("{} ({:.0f}/{:.0f})", human_percent(*t.match_rate), t.shadow_matched,
                     t.shadow_matched + t.shadow_mismatched);
}

std::string top_fields_cell(const TableStatus& t) {
  std::string out;
  for (const auto& f : t.top_mismatches) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}({:.0f})", f.column, f.count);
  }
  return out.empty() ? "-" : out;
}

void append_header(std::string& out, const StatusReport& r) {
  out += fmt::format("pgdual {}  instance {}  up {}\n", r.version, printable(r.instance),
                     human_duration(r.uptime_seconds));
  out += fmt::format("phase {}  strategy {}  primary {}{}{}{}{}\n", r.phase, r.strategy, r.primary,
                     r.secondary.empty() ? "" : "  secondary ", r.secondary,
                     r.admin_paused ? "  PAUSED (admin console)" : "",
                     r.fleet_paused ? "  PAUSED (fleet flip)" : "");
  if (!r.writes_fenced.empty()) out += "writes refused: " + printable(r.writes_fenced) + "\n";
  std::string failures;
  for (const auto& f : r.secondary_failures) {
    failures += fmt::format(" {}={:.0f}", f.column, f.count);
  }
  out += fmt::format(
      "stores  old {}  new {}  secondary {}  clients {:.0f}  writes old {:.0f} ok/{:.0f} err, new "
      "{:.0f} ok/{:.0f} err  secondary failures{}\n",
      r.old_up ? "up" : "DOWN", r.new_up ? "up" : "DOWN",
      r.secondary_healthy ? "healthy" : "not healthy", r.client_connections, r.writes_ok_old,
      r.writes_error_old, r.writes_ok_new, r.writes_error_new, failures.empty() ? " 0" : failures);
  out += fmt::format(
      "journal {}  {:.0f} transactions ({})  oldest {}  dead letters {:.0f}  retry queue {:.0f}  "
      "async queue {:.0f}  reconciliation queue {:.0f}\n",
      r.journal_enabled ? "on" : "off", r.journal_depth_records, human_bytes(r.journal_depth_bytes),
      human_duration(r.journal_oldest_age_seconds), r.journal_dead_letters, r.retry_queue_depth,
      r.async_queue_depth, r.reconciliation_queue_depth);
  for (const auto& l : r.replication) {
    out += fmt::format("replication {}  lag {} / {}  slot keeps {}  {}\n", printable(l.database),
                       human_bytes(l.bytes), human_duration(l.seconds),
                       human_bytes(l.slot_retained_bytes), l.ready ? "ready" : "NOT READY");
  }
}

void append_tables(std::string& out, const StatusReport& r) {
  std::vector<std::vector<std::string>> rows{{"TABLE", "PHASE", "BACKFILL", "ETA", "MATCH",
                                              "TOP DIFFERING COLUMNS", "UNRESOLVED", "DRIFT"}};
  for (const auto& t : r.tables) {
    rows.push_back({t.table, t.phase, backfill_cell(t),
                    t.backfill_eta_seconds ? human_duration(*t.backfill_eta_seconds) : "-",
                    match_cell(t), top_fields_cell(t), count(t.unresolved),
                    count(t.drift_risk + t.divergences)});
  }
  out += "\n";
  out += rows.size() > 1 ? aligned_table(rows) : "no table seen yet\n";
}

void append_cutover(std::string& out, const StatusReport& r) {
  out += "\n";
  if (!r.cutover_looked) {
    out += "CUTOVER  not measured yet\n";
  } else {
    out +=
        fmt::format("CUTOVER  {}  (measured {} ago{}{})\n", r.cutover_ready ? "READY" : "NOT READY",
                    human_duration(r.cutover_look_age_seconds),
                    r.cutover_error.empty() ? "" : "; error: ", printable(r.cutover_error));
    std::vector<std::vector<std::string>> rows{{"", "CRITERION", "SCOPE", "MEASURED", "NEEDS"}};
    for (const auto& c : r.checklist) {
      rows.push_back({c.ok ? "ok" : "FAIL", c.name, c.database.empty() ? "fleet" : c.database,
                      c.measured, c.threshold});
    }
    if (rows.size() > 1) out += aligned_table(rows);
  }
  out += "\n";
  std::vector<std::vector<std::string>> rows{
      {"INSTANCE", "PHASE", "STATE", "HEARTBEAT", "JOURNAL"}};
  for (const auto& i : r.instances) {
    rows.push_back({i.instance + (i.this_instance ? " (this)" : ""), i.phase, i.state,
                    human_duration(i.heartbeat_age_seconds) + " ago",
                    i.journal_depth < 0 ? "?" : std::to_string(i.journal_depth)});
  }
  out += rows.size() > 1 ? aligned_table(rows) : "no instance has reported to the fleet yet\n";
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

std::string aligned_table(const std::vector<std::vector<std::string>>& input) {
  // Names come from the application's schema: no control byte may reach the terminal.
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : input) {
    auto& out = rows.emplace_back();
    for (const auto& cell : row) out.push_back(printable(cell));
  }
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string human_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string human_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<long long>(std::llround(seconds));
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  if (total < 86400) return fmt::format("{}h{:02}m", total / 3600, total / 60 % 60);
  return fmt::format("{}d{:02}h", total / 86400, total / 3600 % 24);
}

std::string human_percent(double fraction) {
  if (!std::isfinite(fraction)) return "?";
  return fmt::format("{:.2f}%", fraction * 100);
}

std::string to_text(const StatusReport& r) {
  std::string out;
  append_header(out, r);
  append_tables(out, r);
  append_cutover(out, r);
  return out;
}

}  // namespace pgdual::proxy::status
