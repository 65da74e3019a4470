#pragma once
// The reconcile's report for people (a table), for scripts (JSON), and the proof (markdown and
// JSON). Data values (keys included) are shown as text::redacted() hashes unless
// shadow_read.log_values is full; the repair statements necessarily hold the values and are
// written only where values may be shown (see repair_script).

#include <string>

#include "jobs/reconcile/reconcile_job.hpp"

namespace pgdual::jobs::reconcile {

std::string report_table(const ReconcileReport& report);
std::string report_json(const ReconcileReport& report);
std::string proof_markdown(const ReconcileReport& report);
std::string proof_json(const ReconcileReport& report);
// Every reported difference's repair statement, one per line after a comment naming the table,
// its kind and (redacted or not) key; "" when there is none. The statements are plain SQL: run
// them on the secondary with psql, or let --repair execute run them under the row locks.
std::string repair_script(const ReconcileReport& report);

// One line per repair run by --repair execute: "repaired|repair failed TABLE KIND key (...)",
// keys redacted as in the report.
std::string repair_log(const ReconcileReport& report);

// How many differences a table line shows in the human table.
inline constexpr std::size_t kSamplesPerTable = 10;

}  // namespace pgdual::jobs::reconcile
