#include "jobs/mapping/mapping_install.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <cstdio>

#include "config/yaml_section.hpp"
#include "jobs/backfill/blocking_query.hpp"
#include "jobs/mapping/mapping_catalog.hpp"
#include "jobs/mapping/mapping_ddl.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::mapping {
namespace {

using text::quote_identifier;

constexpr std::string_view kCommentPrefix = "pgdual mapping ";

std::string fingerprint_of(const std::vector<ResolvedTable>& tables) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (const auto& table : tables) {
    for (const auto& statement : install_statements(table)) {
      for (char c : statement + ";") {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
      }
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

bool exec(PGconn* conn, const std::string& sql, std::string& error) {
  error.clear();
  return backfill::run_query(conn, sql, {}, error) != nullptr;
}

// Runs `sql` inside a savepoint that is rolled back: its error (PostgreSQL's message), or "".
std::string try_statement(PGconn* conn, const std::string& sql) {
  std::string error;
  if (!exec(conn, "SAVEPOINT pgdual_mapping_check", error)) return error;
  std::string failure;
  exec(conn, sql, failure);
  std::string ignored;
  exec(conn, "ROLLBACK TO SAVEPOINT pgdual_mapping_check", ignored);
  return failure;
}

std::string column_path(const ResolvedTable& table, const std::string& key,
                        const std::string& column) {
  return config::child_path(
      config::child_path(config::child_path("migration.mapping.tables", table.old_table), key),
      column);
}

// A temporary table whose generated column is the expression: PostgreSQL checks its functions,
// its type (the cast to the target) and that it is immutable, as a mapping must be (the same
// row must give the same value in a trigger, a backfill and a reconcile).
std::string expression_check(const std::vector<std::pair<std::string, std::string>>& inputs,
                             const std::string& expression, const std::string& type) {
  std::string sql = "CREATE TEMP TABLE pgdual_mapping_expression (";
  for (const auto& [name, input_type] : inputs) {
    sql += quote_identifier(name) + " " + input_type + ", ";
  }
  return sql + "pgdual_out " + type + " GENERATED ALWAYS AS ((" + expression + ")::" + type +
         ") STORED) ON COMMIT DROP";
}

void check_expressions(PGconn* conn, const char* store, const ResolvedTable& table,
                       std::vector<std::string>& errors) {
  std::vector<std::pair<std::string, std::string>> old_inputs, new_inputs;
  // A forward expression sees the old columns the new store receives: not the dropped ones nor
  // the generated ones, which the backfill and the reconcile's repairs do not carry.
  for (const auto& column : table.columns) {
    if (column.dropped || column.generated) continue;
    old_inputs.emplace_back(column.old_name, column.old_type);
    new_inputs.emplace_back(column.new_name, column.new_type);
  }
  for (const auto& column : table.columns) {
    if (column.dropped || column.generated) continue;
    const auto forward =
        try_statement(conn, expression_check(old_inputs, column.forward, column.new_type));
    if (!forward.empty()) {
      errors.push_back(column_path(table, "columns", column.old_name) +
                       ": the new value cannot be computed on the " + store + " store: " + forward);
    }
    if (column.plain) continue;
    const auto inverse =
        try_statement(conn, expression_check(new_inputs, column.inverse, column.old_type));
    if (!inverse.empty()) {
      errors.push_back(column_path(table, "columns", column.old_name) +
                       ": the old value cannot be computed back on the " + store +
                       " store: " + inverse);
    }
  }
  for (const auto& column : table.new_only) {
    if (column.forward.empty()) continue;
    const auto failure =
        try_statement(conn, expression_check(old_inputs, column.forward, column.type));
    if (!failure.empty()) {
      errors.push_back(column_path(table, "new_columns", column.name) + ": expr on the " + store +
                       " store: " + failure);
    }
  }
}

std::string installed_fingerprint(PGconn* conn, const std::string& schema, std::string& error) {
  const std::string comment = backfill::single_value(
      conn, "SELECT coalesce(obj_description(to_regnamespace($1)::oid, 'pg_namespace'), '')",
      {quote_identifier(schema)}, error);
  if (!comment.starts_with(kCommentPrefix)) return "";
  return comment.substr(kCommentPrefix.size());
}

void install(PGconn* conn, const config::MappingConfig& mapping, MappingReport& report) {
  std::string error;
  const std::string schema = quote_identifier(mapping.schema);
  // Two installs at once would interleave their DROP and CREATE.
  if (!exec(conn, "SELECT pg_advisory_xact_lock(hashtext('pgdual mapping install'))", error) ||
      !exec(conn, "CREATE SCHEMA IF NOT EXISTS " + schema, error)) {
    report.errors.push_back("migration.mapping.schema: " + error);
    return;
  }
  for (const auto& table : report.tables) {
    std::vector<std::string> statements = {
        "DROP VIEW IF EXISTS " + table.view_quoted() + " CASCADE",
        "DROP FUNCTION IF EXISTS " + write_function_name(table) + "() CASCADE"};
    for (auto& statement : install_statements(table)) statements.push_back(std::move(statement));
    for (const auto& statement : statements) {
      if (!exec(conn, statement, error)) {
        report.errors.push_back(config::child_path("migration.mapping.tables", table.old_table) +
                                ": installing its view failed: " + error);
        return;
      }
    }
  }
  if (!exec(conn,
            "COMMENT ON SCHEMA " + schema + " IS " +
                text::quote_literal(std::string(kCommentPrefix) + report.fingerprint),
            error)) {
    report.errors.push_back("migration.mapping.schema: " + error);
  }
}

}  // namespace

MappingReport resolve_mapping(PGconn* old_store, PGconn* new_store,
                              const config::MappingConfig& mapping) {
  MappingReport report;
  for (const auto& [old_table, table] : mapping.tables) {
    std::string error;
    const TableFacts old_facts = read_table_facts(old_store, old_table, error);
    const TableFacts new_facts =
        error.empty() ? read_table_facts(new_store, table.to, error) : TableFacts{};
    if (!error.empty()) {
      report.errors.push_back(config::child_path("migration.mapping.tables", old_table) +
                              ": reading the catalogs failed: " + error);
      continue;
    }
    auto resolution = resolve_table(old_table, table, mapping.schema, old_facts, new_facts);
    for (auto& message : resolution.errors) report.errors.push_back(std::move(message));
    if (resolution.table) report.tables.push_back(std::move(*resolution.table));
  }
  if (report.ok()) report.fingerprint = fingerprint_of(report.tables);
  return report;
}

MappingReport run_mapping(PGconn* old_store, PGconn* new_store,
                          const config::MappingConfig& mapping, MappingAction action) {
  MappingReport report = resolve_mapping(old_store, new_store, mapping);
  if (!report.ok()) return report;
  std::string error;
  report.installed_fingerprint = installed_fingerprint(new_store, mapping.schema, error);
  if (!error.empty()) {
    report.errors.push_back("migration.mapping.schema: " + error);
    return report;
  }
  if (action == MappingAction::verify) {
    report.installed = report.installed_fingerprint == report.fingerprint;
    return report;
  }
  // The expressions run on the new store (triggers, backfill) and, for the reconcile's
  // round trip, on the old store too.
  for (PGconn* conn : {old_store, new_store}) {
    if (!exec(conn, "BEGIN", error)) {
      report.errors.push_back("migration.mapping: " + error);
      return report;
    }
    for (const auto& table : report.tables) {
      check_expressions(conn, conn == old_store ? "old" : "new", table, report.errors);
    }
    if (conn == new_store && report.ok()) install(conn, mapping, report);
    const bool commit = conn == new_store && action == MappingAction::install && report.ok();
    std::string end_error;
    exec(conn, commit ? "COMMIT" : "ROLLBACK", end_error);
    if (commit && end_error.empty()) report.installed = true;
    if (!end_error.empty()) report.errors.push_back("migration.mapping: " + end_error);
  }
  return report;
}

}  // namespace pgdual::jobs::mapping
