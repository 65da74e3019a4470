#include "jobs/reconcile/report_format.hpp"

#include <cstdarg>
#include <cstdio>

#include "jobs/backfill/json_fields.hpp"
#include "text/json.hpp"
#include "text/redact.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using backfill::json_field;
using backfill::json_key;
using backfill::json_string_list;

std::string shown(const Value& value, bool full) {
  if (!value) return "NULL";
  return full ? *value : text::redacted(*value);
}

std::string key_text(const Key& key, bool full) {
  std::string out = "(";
  for (std::size_t i = 0; i < key.size(); ++i) {
    out += (i == 0 ? "" : ", ") + shown(key[i], full);
  }
  return out + ")";
}

std::string line(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string line(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

void values_json(std::string& out, const char* name, const TablePlan* plan,
                 const std::vector<Value>& values, bool full) {
  json_key(out, name);
  if (values.empty()) {
    out += "null";
    return;
  }
  out += '{';
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string column = plan != nullptr && i < plan->columns_quoted.size()
                                   ? plan->columns_quoted[i]
                                   : std::to_string(i);
    if (values[i]) {
      json_field(out, column.c_str(), shown(values[i], full));
    } else {
      json_key(out, column.c_str());
      out += "null";
    }
  }
  out += '}';
}

// A table's proof: verdict, both stores' row counts and checksums.
void proof_fields(std::string& out, const TableProof& proof) {
  json_field(out, "verdict", proof.verdict);
  json_field(out, "old_rows", proof.old_sum.rows);
  json_field(out, "new_rows", proof.new_sum.rows);
  json_field(out, "old_checksum", proof.old_sum.sum);
  json_field(out, "new_checksum", proof.new_sum.sum);
}

const TablePlan* plan_of(const ReconcileReport& report, const std::string& table) {
  for (const auto& plan : report.plans) {
    if (plan.target == table) return &plan;
  }
  return nullptr;
}

void table_json(std::string& out, const ReconcileReport& report, const TableReport& table) {
  out += '{';
  json_field(out, "table", table.table);
  json_field(out, "state", table.state);
  json_field(out, "rows_compared", table.rows_compared);
  json_field(out, "rows_matching", table.rows_matching());
  json_field(out, "different", table.different);
  json_field(out, "only_on_old", table.only_on_old);
  json_field(out, "only_on_new", table.only_on_new);
  if (table.earlier_differences > 0) {
    json_field(out, "differences_in_resumed_run", table.earlier_differences);
  }
  json_field(out, "repaired", table.repaired);
  json_field(out, "repair_failed", table.repair_failed);
  json_field(out, "remaining", table.remaining());
  json_field(out, "cleared_in_flight", table.cleared);
  json_field(out, "ranges_checked", table.ranges);
  json_field(out, "seconds", table.seconds);
  json_field(out, "rows_per_second", table.rows_per_second());
  if (!table.error.empty()) json_field(out, "error", table.error);
  const TablePlan* plan = plan_of(report, table.table);
  json_key(out, "differences");
  out += '[';
  for (const auto& difference : table.differences) {
    out += out.back() == '[' ? "{" : ", {";
    json_field(out, "kind", std::string(to_string(difference.kind)));
    json_key(out, "key");
    out += '[';
    for (const auto& part : difference.key) {
      if (out.back() != '[') out += ", ";
      text::append_json_string(out, shown(part, report.full_values));
    }
    out += ']';
    json_string_list(out, "columns", difference.columns);
    values_json(out, "old", plan, difference.old_values, report.full_values);
    values_json(out, "new", plan, difference.new_values, report.full_values);
    json_field(out, "repaired", difference.repaired);
    if (report.full_values) json_field(out, "repair_sql", difference.repair);
    out += '}';
  }
  out += ']';
  if (table.proof) {
    json_key(out, "proof");
    out += '{';
    proof_fields(out, *table.proof);
    json_field(out, "attempts", static_cast<std::int64_t>(table.proof->attempts));
    out += '}';
  }
  out += '}';
}

void settings_json(std::string& out, const ReconcileReport& report) {
  json_key(out, "settings");
  out += '{';
  for (const auto& [name, value] : report.settings) json_field(out, name.c_str(), value);
  out += '}';
}

const char* verdict_of(const ReconcileReport& report) {
  switch (report.exit_code()) {
    case 0:
      return "equal";
    case 1:
      return "different";
    default:
      return "error";
  }
}

}  // namespace

std::string report_json(const ReconcileReport& report) {
  std::string out = "{";
  json_field(out, "database", report.database);
  json_field(out, "verdict", std::string(verdict_of(report)));
  json_field(out, "exit_code", static_cast<std::int64_t>(report.exit_code()));
  if (!report.error.empty()) json_field(out, "error", report.error);
  json_field(out, "repair", std::string(report.execute ? "execute" : "dry-run"));
  json_field(out, "values", std::string(report.full_values ? "full" : "redacted"));
  json_field(out, "seconds", report.seconds);
  json_field(out, "remaining", report.remaining());
  settings_json(out, report);
  json_key(out, "tables");
  out += '[';
  for (const auto& table : report.tables) {
    if (out.back() != '[') out += ", ";
    table_json(out, report, table);
  }
  out += ']';
  json_key(out, "refused");
  out += '[';
  for (const auto& refusal : report.refusals) {
    out += out.back() == '[' ? "{" : ", {";
    json_field(out, "table", refusal.table);
    json_field(out, "reason", refusal.reason);
    out += '}';
  }
  out += ']';
  json_string_list(out, "not_mirrored", report.not_mirrored);
  return out + "}\n";
}

std::string report_table(const ReconcileReport& report) {
  std::string out =
      line("%-32s %-9s %12s %12s %10s %10s %10s %9s %9s %10s\n", "table", "state", "compared",
           "matching", "different", "only old", "only new", "repaired", "seconds", "rows/s");
  for (const auto& table : report.tables) {
    out +=
        line("%-32s %-9s %12lld %12lld %10lld %10lld %10lld %9lld %9.2f %10.0f\n",
             table.table.c_str(), table.state.c_str(), static_cast<long long>(table.rows_compared),
             static_cast<long long>(table.rows_matching()), static_cast<long long>(table.different),
             static_cast<long long>(table.only_on_old), static_cast<long long>(table.only_on_new),
             static_cast<long long>(table.repaired), table.seconds, table.rows_per_second());
    if (!table.error.empty()) out += "  error: " + table.error + "\n";
    for (std::size_t i = 0; i < table.differences.size() && i < kSamplesPerTable; ++i) {
      const auto& difference = table.differences[i];
      out += "  " + std::string(to_string(difference.kind)) + " key " +
             key_text(difference.key, report.full_values);
      if (!difference.columns.empty()) {
        out += " columns";
        for (const auto& column : difference.columns) out += " " + column;
      }
      out += difference.repaired ? " (repaired)\n" : "\n";
    }
    if (table.differences.size() > kSamplesPerTable) {
      out += line("  ... and %zu more (--format json lists them)\n",
                  table.differences.size() - kSamplesPerTable);
    }
  }
  for (const auto& refusal : report.refusals) {
    out += "refused: " + refusal.table + ": " + refusal.reason + "\n";
  }
  if (!report.error.empty()) out += "error: " + report.error + "\n";
  out += line("verdict: %s (%lld differences remaining, %.1f s)\n", verdict_of(report),
              static_cast<long long>(report.remaining()), report.seconds);
  return out;
}

std::string repair_script(const ReconcileReport& report) {
  std::string out;
  for (const auto& table : report.tables) {
    for (const auto& difference : table.differences) {
      if (difference.repaired) continue;
      out += "-- " + table.table + " " + to_string(difference.kind) + " key " +
             key_text(difference.key, report.full_values) + "\n" + difference.repair + ";\n";
    }
  }
  return out;
}

std::string repair_log(const ReconcileReport& report) {
  if (!report.execute) return "";
  std::string out;
  for (const auto& table : report.tables) {
    for (const auto& difference : table.differences) {
      out += std::string(difference.repaired ? "repaired " : "repair failed ") + table.table + " " +
             to_string(difference.kind) + " key " + key_text(difference.key, report.full_values) +
             "\n";
    }
  }
  return out;
}

std::string proof_json(const ReconcileReport& report) {
  std::string out = "{";
  json_field(out, "database", report.database);
  json_field(out, "verdict", std::string(verdict_of(report)));
  settings_json(out, report);
  json_key(out, "tables");
  out += '[';
  for (const auto& table : report.tables) {
    out += out.back() == '[' ? "{" : ", {";
    json_field(out, "table", table.table);
    json_field(out, "rows_compared", table.rows_compared);
    json_field(out, "remaining", table.remaining());
    if (table.proof) {
      proof_fields(out, *table.proof);
    } else {
      json_field(out, "verdict",
                 table.state == "failed" ? std::string("error") : std::string("not_proven"));
    }
    out += '}';
  }
  out += ']';
  return out + "}\n";
}

std::string proof_markdown(const ReconcileReport& report) {
  std::string out = "# pgdual reconcile proof: database " + report.database + "\n\nVerdict: **" +
                    verdict_of(report) + "**\n\n";
  out += "| table | verdict | rows (old) | rows (new) | checksum (old) | checksum (new) |\n";
  out += "|-|-|-|-|-|-|\n";
  for (const auto& table : report.tables) {
    if (table.proof) {
      out += "| " + table.table + " | " + table.proof->verdict + " | " +
             std::to_string(table.proof->old_sum.rows) + " | " +
             std::to_string(table.proof->new_sum.rows) + " | " + table.proof->old_sum.sum + " | " +
             table.proof->new_sum.sum + " |\n";
    } else {
      out += "| " + table.table + " | " + (table.state == "failed" ? "error" : "not proven") +
             " | | | | |\n";
    }
  }
  out +=
      "\nVerdicts: `equal`: the whole table's row count and checksum are the same on both "
      "stores; `equal_by_rows`: every key range compared equal once in-flight writes had "
      "landed, but live writes moved the whole-table checksums between the two stores' "
      "snapshots; `different`: differences remain.\n\n## Settings\n\n";
  for (const auto& [name, value] : report.settings) out += "- " + name + ": " + value + "\n";
  return out;
}

}  // namespace pgdual::jobs::reconcile
