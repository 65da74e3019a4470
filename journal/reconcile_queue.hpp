#pragma once
// The reconciliation queue: <schema>.reconcile_queue on the NEW store of each database, one row
// per table that needs (or had) a reconciliation. Written from two sides:
//   - every pgdual instance adds the tables it marked (pgdual_reconciliation_needed_total: a
//     non-deterministic write sent as it is, a dead letter, an async loss, a COPY beyond its
//     buffer...) to `marked`, a few seconds after marking them (journal/backfill_watch);
//   - `pgdual reconcile` (jobs/reconcile) sets `resolved` to the `marked` it read before it
//     compared the table, and `differences` to what the comparison left unrepaired.
// A table is unresolved while marked > resolved or differences > 0; the queue's depth is the
// number of unresolved tables. The cutover gate (a later issue) reads the same rows.
// Pure SQL text: the callers own the connections.

#include <cstdint>
#include <string>
#include <string_view>

namespace pgdual::journal {

inline constexpr std::string_view kReconcileQueueTable = "reconcile_queue";
// The table name that stands for "a table pgdual could not name": the whole database.
inline constexpr std::string_view kUnknownTable = "(unknown)";

// CREATE SCHEMA/TABLE IF NOT EXISTS (schema unquoted).
std::string reconcile_queue_ddl(std::string_view schema);
// $1 table ("schema.table"), $2 marks to add.
std::string reconcile_queue_mark_sql(std::string_view schema);
// table_name, marked, resolved, differences, last_marked, last_reconciled, note; ordered by name.
std::string reconcile_queue_read_sql(std::string_view schema);
// $1 table, $2 the marked value read before the comparison began, $3 differences left, $4 note.
std::string reconcile_queue_resolve_sql(std::string_view schema);

// What a row counts in pgdual_reconciliation_unresolved{table}: the marks no reconciliation has
// covered yet plus the differences the last one left.
std::int64_t reconcile_unresolved(std::int64_t marked, std::int64_t resolved,
                                  std::int64_t differences);

}  // namespace pgdual::journal
