// The end-of-run summary of `pgdual backfill` as JSON (backfill_job.hpp).

#include <cstdio>

#include "jobs/backfill/backfill_job.hpp"
#include "text/json.hpp"

namespace pgdual::jobs::backfill {

namespace {

void key(std::string& out, const char* name) {
  if (out.back() != '{' && out.back() != '[') out += ", ";
  text::append_json_string(out, name);
  out += ": ";
}

void field(std::string& out, const char* name, const std::string& value) {
  key(out, name);
  text::append_json_string(out, value);
}

void field(std::string& out, const char* name, double value) {
  key(out, name);
  char number[64];
  std::snprintf(number, sizeof number, "%.3f", value);
  out += number;
}

void field(std::string& out, const char* name, std::int64_t value) {
  key(out, name);
  out += std::to_string(value);
}

void field(std::string& out, const char* name, bool value) {
  key(out, name);
  out += value ? "true" : "false";
}

void string_list(std::string& out, const char* name, const std::vector<std::string>& values) {
  key(out, name);
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ", ";
    text::append_json_string(out, values[i]);
  }
  out += ']';
}

void table_object(std::string& out, const TableStatus& table, const TablePlan* plan) {
  out += '{';
  field(out, "table", table.table);
  if (plan != nullptr) {
    field(out, "target", plan->target);
    field(out, "format", std::string(plan->binary ? "binary" : "text"));
    field(out, "locked_copy", plan->locked_copy);
  }
  field(out, "state", table.state);
  field(out, "rows_copied", table.rows_copied);
  field(out, "rows_skipped", table.rows_skipped);
  field(out, "rows_overwritten", table.rows_overwritten);
  if (table.rows_replaced > 0) field(out, "rows_replaced", table.rows_replaced);
  field(out, "bytes", table.bytes);
  field(out, "chunks", table.chunks);
  field(out, "seconds", table.seconds);
  const double seconds = table.seconds > 0 ? table.seconds : 1;
  field(out, "rows_per_second", static_cast<double>(table.rows_seen()) / seconds);
  field(out, "mb_per_second", static_cast<double>(table.bytes) / 1e6 / seconds);
  if (table.estimated_rows) field(out, "estimated_rows", *table.estimated_rows);
  if (!table.error.empty()) field(out, "error", table.error);
  if (!table.note.empty()) field(out, "needs_reconciliation", table.note);
  out += '}';
}

}  // namespace

std::string report_json(const BackfillReport& report) {
  std::string out = "{";
  field(out, "database", report.database);
  field(out, "ok", report.ok());
  if (!report.error.empty()) field(out, "error", report.error);
  field(out, "stopped", report.stopped);
  field(out, "seconds", report.seconds);
  key(out, "tables");
  out += '[';
  std::int64_t copied = 0, skipped = 0, bytes = 0;
  for (std::size_t i = 0; i < report.tables.size(); ++i) {
    if (i != 0) out += ", ";
    table_object(out, report.tables[i], i < report.plans.size() ? &report.plans[i] : nullptr);
    copied += report.tables[i].rows_copied;
    skipped += report.tables[i].rows_skipped;
    bytes += report.tables[i].bytes;
  }
  out += ']';
  field(out, "rows_copied", copied);
  field(out, "rows_skipped", skipped);
  field(out, "bytes", bytes);
  key(out, "refused");
  out += '[';
  for (std::size_t i = 0; i < report.refusals.size(); ++i) {
    if (i != 0) out += ", ";
    out += '{';
    field(out, "table", report.refusals[i].table);
    field(out, "reason", report.refusals[i].reason);
    out += '}';
  }
  out += ']';
  string_list(out, "not_mirrored", report.not_mirrored);
  string_list(out, "unordered_foreign_keys", report.unordered_edges);
  if (report.sequences_run) {
    key(out, "sequences");
    out += '{';
    std::int64_t failed = 0;
    for (const auto& line : report.sequences.lines) failed += line.error.empty() ? 0 : 1;
    field(out, "set", static_cast<std::int64_t>(report.sequences.lines.size()) - failed);
    field(out, "failed", failed);
    if (!report.sequences.error.empty()) field(out, "error", report.sequences.error);
    out += '}';
  }
  out += "}\n";
  return out;
}

}  // namespace pgdual::jobs::backfill
