// The end-of-run summary of `pgdual backfill` as JSON (backfill_job.hpp).

#include "jobs/backfill/backfill_job.hpp"
#include "jobs/backfill/json_fields.hpp"

namespace pgdual::jobs::backfill {

namespace {

void table_object(std::string& out, const TableStatus& table, const TablePlan* plan) {
  out += '{';
  json_field(out, "table", table.table);
  if (plan != nullptr) {
    json_field(out, "target", plan->target);
    json_field(out, "format", std::string(plan->binary ? "binary" : "text"));
    json_field(out, "locked_copy", plan->locked_copy);
  }
  json_field(out, "state", table.state);
  json_field(out, "rows_copied", table.rows_copied);
  json_field(out, "rows_skipped", table.rows_skipped);
  json_field(out, "rows_overwritten", table.rows_overwritten);
  if (table.rows_replaced > 0) json_field(out, "rows_replaced", table.rows_replaced);
  json_field(out, "bytes", table.bytes);
  json_field(out, "chunks", table.chunks);
  json_field(out, "seconds", table.seconds);
  const double seconds = table.seconds > 0 ? table.seconds : 1;
  json_field(out, "rows_per_second", static_cast<double>(table.rows_seen()) / seconds);
  json_field(out, "mb_per_second", static_cast<double>(table.bytes) / 1e6 / seconds);
  if (table.estimated_rows) json_field(out, "estimated_rows", *table.estimated_rows);
  if (!table.error.empty()) json_field(out, "error", table.error);
  if (!table.note.empty()) json_field(out, "needs_reconciliation", table.note);
  out += '}';
}

}  // namespace

std::string report_json(const BackfillReport& report) {
  std::string out = "{";
  json_field(out, "database", report.database);
  json_field(out, "ok", report.ok());
  if (!report.error.empty()) json_field(out, "error", report.error);
  json_field(out, "stopped", report.stopped);
  json_field(out, "seconds", report.seconds);
  json_key(out, "tables");
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
  json_field(out, "rows_copied", copied);
  json_field(out, "rows_skipped", skipped);
  json_field(out, "bytes", bytes);
  json_key(out, "refused");
  out += '[';
  for (std::size_t i = 0; i < report.refusals.size(); ++i) {
    if (i != 0) out += ", ";
    out += '{';
    json_field(out, "table", report.refusals[i].table);
    json_field(out, "reason", report.refusals[i].reason);
    out += '}';
  }
  out += ']';
  json_string_list(out, "not_mirrored", report.not_mirrored);
  json_string_list(out, "unordered_foreign_keys", report.unordered_edges);
  if (!report.notes.empty()) json_string_list(out, "notes", report.notes);
  if (report.sequences_run) {
    json_key(out, "sequences");
    out += '{';
    std::int64_t failed = 0;
    for (const auto& line : report.sequences.lines) failed += line.error.empty() ? 0 : 1;
    json_field(out, "set", static_cast<std::int64_t>(report.sequences.lines.size()) - failed);
    json_field(out, "failed", failed);
    if (!report.sequences.error.empty()) json_field(out, "error", report.sequences.error);
    out += '}';
  }
  out += "}\n";
  return out;
}

}  // namespace pgdual::jobs::backfill
