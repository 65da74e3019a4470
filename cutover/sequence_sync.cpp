#include "cutover/sequence_sync.hpp"

#include <libpq-fe.h>

#include <map>
#include <memory>

#include "libpq/connection.hpp"
#include "libpq/conninfo.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cutover {

namespace {

using Connection = pg::Conn;
using Result = pg::Result;
using pg::connection_error;

// Every sequence with its last value and direction, but pgdual's own (the journal's ids live on
// the primary only and mean nothing on the other store). Sequences of extensions are included:
// the new store needs them moved too.
constexpr const char* kSequencesQuery =
    "SELECT pg_catalog.quote_ident(schemaname) || '.' || pg_catalog.quote_ident(sequencename), "
    "last_value::text, start_value::text, increment_by::text "
    "FROM pg_catalog.pg_sequences WHERE schemaname <> $1 ORDER BY 1";

}  // namespace

namespace {

// Every column of `table` whose default or identity draws from a sequence, with that sequence
// (quoted and qualified as kSequencesQuery's names).
std::vector<std::pair<std::string, std::string>> serial_columns(PGconn* conn,
                                                                const std::string& table) {
  const std::string name = text::quote_qualified(table);
  const char* params[] = {name.c_str()};
  Result result(
      PQexecParams(conn,
                   "SELECT a.attname, pg_catalog.pg_get_serial_sequence($1, a.attname) "
                   "FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass($1) "
                   "AND a.attnum > 0 AND NOT a.attisdropped "
                   "AND pg_catalog.pg_get_serial_sequence($1, a.attname) IS NOT NULL",
                   1, nullptr, params, nullptr, nullptr, 0));
  std::vector<std::pair<std::string, std::string>> columns;
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) return columns;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    columns.emplace_back(PQgetvalue(result.get(), row, 0), PQgetvalue(result.get(), row, 1));
  }
  return columns;
}

}  // namespace

std::map<std::string, std::string> mapped_sequences(PGconn* old_store, PGconn* new_store,
                                                    const config::MappingConfig& mapping) {
  std::map<std::string, std::string> sequences;
  for (const auto& [old_table, table] : mapping.tables) {
    std::map<std::string, std::string> on_new;
    for (auto& [column, sequence] : serial_columns(new_store, table.to)) {
      on_new[column] = std::move(sequence);
    }
    for (const auto& [column, sequence] : serial_columns(old_store, old_table)) {
      const auto rule = table.columns.find(column);
      std::string target = column;
      if (rule != table.columns.end()) {
        if (rule->second.drop) continue;
        if (!rule->second.to.empty()) target = rule->second.to;
      }
      const auto found = on_new.find(target);
      sequences[sequence] = found == on_new.end() ? "" : found->second;
    }
  }
  return sequences;
}

bool SequenceSyncReport::ok() const {
  if (!error.empty()) return false;
  for (const auto& line : lines) {
    if (!line.error.empty()) return false;
  }
  return true;
}

std::string backend_conninfo(const config::BackendConfig& backend, const std::string& database) {
  return pg::libpq_conninfo(backend, database, "pgdual sequences sync");
}

SequenceSyncReport sync_sequences(const config::Config& config,
                                  const SequenceSyncOptions& options) {
  SequenceSyncReport report;
  const std::string old_db =
      options.database.empty() ? config.old_backend.dbname.value_or("") : options.database;
  const std::string new_db =
      options.database.empty() ? config.new_backend.dbname.value_or("") : options.database;
  if (old_db.empty() || new_db.empty()) {
    report.error = "no database: give --database (the backends' dbname is not set)";
    return report;
  }
  Connection old_store(PQconnectdb(backend_conninfo(config.old_backend, old_db).c_str()));
  if (PQstatus(old_store.get()) != CONNECTION_OK) {
    report.error = "old store: " + connection_error(old_store.get());
    return report;
  }
  Connection new_store(PQconnectdb(backend_conninfo(config.new_backend, new_db).c_str()));
  if (PQstatus(new_store.get()) != CONNECTION_OK) {
    report.error = "new store: " + connection_error(new_store.get());
    return report;
  }
  const char* schema[] = {config.migration.journal.schema.c_str()};
  Result sequences(
      PQexecParams(old_store.get(), kSequencesQuery, 1, nullptr, schema, nullptr, nullptr, 0));
  if (PQresultStatus(sequences.get()) != PGRES_TUPLES_OK) {
    report.error = "old store: " + connection_error(old_store.get());
    return report;
  }
  const auto renamed = mapped_sequences(old_store.get(), new_store.get(), config.migration.mapping);
  for (int row = 0; row < PQntuples(sequences.get()); ++row) {
    SequenceSyncLine line;
    line.sequence = PQgetvalue(sequences.get(), row, 0);
    std::string target = line.sequence;
    if (const auto found = renamed.find(line.sequence); found != renamed.end()) {
      if (found->second.empty()) continue;  // the new column draws from no sequence
      target = found->second;
      line.sequence += " -> " + target;
    }
    const bool used = !PQgetisnull(sequences.get(), row, 1);
    line.old_value = used ? PQgetvalue(sequences.get(), row, 1) : "";
    const std::int64_t base =
        std::stoll(used ? line.old_value : PQgetvalue(sequences.get(), row, 2));
    const bool descending = std::stoll(PQgetvalue(sequences.get(), row, 3)) < 0;
    // Past everything the old store handed out, by the headroom, in the sequence's direction.
    line.new_value = std::to_string(descending ? base - options.headroom : base + options.headroom);
    if (!options.dry_run) {
      const char* params[] = {target.c_str(), line.new_value.c_str()};
      Result set(PQexecParams(new_store.get(),
                              "SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::bigint, true)",
                              2, nullptr, params, nullptr, nullptr, 0));
      if (PQresultStatus(set.get()) != PGRES_TUPLES_OK)
        line.error = connection_error(new_store.get());
    }
    report.lines.push_back(std::move(line));
  }
  return report;
}

}  // namespace pgdual::cutover
