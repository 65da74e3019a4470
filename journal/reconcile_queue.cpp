#include "journal/reconcile_queue.hpp"

#include <algorithm>

#include "text/sql_quote.hpp"

namespace pgdual::journal {

namespace {

std::string table_name(std::string_view schema) {
  return text::quote_identifier(std::string(schema)) + "." + std::string(kReconcileQueueTable);
}

}  // namespace

std::string reconcile_queue_ddl(std::string_view schema) {
  return "CREATE SCHEMA IF NOT EXISTS " + text::quote_identifier(std::string(schema)) +
         "; CREATE TABLE IF NOT EXISTS " + table_name(schema) +
         " (table_name text PRIMARY KEY, marked bigint NOT NULL DEFAULT 0, "
         "resolved bigint NOT NULL DEFAULT 0, differences bigint NOT NULL DEFAULT 0, "
         "last_marked timestamptz, last_reconciled timestamptz, note text)";
}

std::string reconcile_queue_mark_sql(std::string_view schema) {
  return "INSERT INTO " + table_name(schema) +
         " AS q (table_name, marked, last_marked) VALUES ($1, $2::bigint, now()) "
         "ON CONFLICT (table_name) DO UPDATE SET marked = q.marked + EXCLUDED.marked, "
         "last_marked = now()";
}

std::string reconcile_queue_read_sql(std::string_view schema) {
  return "SELECT table_name, marked, resolved, differences, last_marked, last_reconciled, note "
         "FROM " +
         table_name(schema) + " ORDER BY table_name";
}

std::string reconcile_queue_resolve_sql(std::string_view schema) {
  return "INSERT INTO " + table_name(schema) +
         " AS q (table_name, marked, resolved, differences, last_reconciled, note) "
         "VALUES ($1, $2::bigint, $2::bigint, $3::bigint, now(), nullif($4, '')) "
         "ON CONFLICT (table_name) DO UPDATE SET resolved = greatest(q.resolved, "
         "EXCLUDED.resolved), differences = EXCLUDED.differences, last_reconciled = now(), "
         "note = EXCLUDED.note";
}

std::int64_t reconcile_unresolved(std::int64_t marked, std::int64_t resolved,
                                  std::int64_t differences) {
  return std::max<std::int64_t>(marked - resolved, 0) + std::max<std::int64_t>(differences, 0);
}

}  // namespace pgdual::journal
