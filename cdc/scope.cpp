#include "cdc/scope.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "text/sql_quote.hpp"

namespace pgdual::cdc {

namespace {

using config::Phase;

// Partition leaves name their topmost root; extension members are the extension's business
// (their rows already exist wherever the extension is installed).
constexpr const char* kRelations =
    "SELECT n.nspname, c.relname, c.relkind, c.relpersistence, "
    "coalesce(rn.nspname, ''), coalesce(r.relname, '') "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid) "
    "LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't' "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
    "'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') "
    "ORDER BY 1, 2";

void append_array_element(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

std::string TableName::quoted() const {
  return text::quote_identifier(schema) + "." + text::quote_identifier(table);
}

Phase database_phase(const config::MigrationConfig& migration, std::string_view database) {
  for (const auto& rule : migration.tenants) {
    const auto& match = rule.match;
    if (match.user || match.application_name) continue;  // not every session of the database
    if (match.database && *match.database != database) continue;
    return rule.phase;
  }
  return migration.phase;
}

Phase table_phase(const config::MigrationConfig& migration, Phase database,
                  const TableName& table) {
  // migration.tables' keys are stored as PostgreSQL stores names (config/config.hpp).
  const auto found = migration.tables.find(table.display());
  return found == migration.tables.end() ? database : found->second;
}

bool published_forward(Phase phase) {
  return phase == Phase::dual_write || phase == Phase::backfill || phase == Phase::shadow_read;
}

Scope decide_scope(const config::MigrationConfig& migration, std::string_view database,
                   const std::vector<CatalogRelation>& relations) {
  const Phase phase = database_phase(migration, database);
  Scope scope;
  std::set<TableName> published_roots;
  // Roots first: a leaf follows its root's phase, whatever order the catalog lists them in.
  for (const auto& relation : relations) {
    if (relation.partition_root || relation.relkind == 'f') continue;
    if (!published_forward(table_phase(migration, phase, relation.name))) continue;
    if (relation.persistence != 'p') {
      scope.notes.push_back(relation.name.display() +
                            " is unlogged: logical replication cannot carry it (skipped; copy it "
                            "by other means or make it LOGGED)");
      continue;
    }
    scope.published.push_back(relation.name);
    if (relation.relkind == 'p') published_roots.insert(relation.name);
    if (relation.relkind == 'r') scope.replicated.push_back(relation.name);
  }
  for (const auto& relation : relations) {
    if (relation.relkind == 'f') {
      if (published_forward(table_phase(migration, phase, relation.name))) {
        scope.notes.push_back(relation.name.display() +
                              " is a foreign table: its rows live elsewhere (skipped)");
      }
      continue;
    }
    if (!relation.partition_root || relation.relkind != 'r') continue;
    if (published_roots.count(*relation.partition_root) == 0) continue;
    if (relation.persistence != 'p') {
      scope.notes.push_back(relation.name.display() +
                            " is an unlogged partition: logical replication cannot carry its "
                            "rows (skipped)");
      continue;
    }
    scope.replicated.push_back(relation.name);
  }
  std::sort(scope.published.begin(), scope.published.end());
  std::sort(scope.replicated.begin(), scope.replicated.end());
  return scope;
}

bool read_relations(PGconn* old_store, const std::string& journal_schema,
                    std::vector<CatalogRelation>& out, std::string& error,
                    const pg::Cancelled& cancelled) {
  const pg::Reply reply = run_query(old_store, kRelations, {journal_schema}, cancelled);
  if (!reply.ok) {
    error = "old store: listing tables: " + reply.error;
    return false;
  }
  out.clear();
  for (int row = 0; row < reply.rows(); ++row) {
    CatalogRelation relation{
        .name = {.schema = reply.value(row, 0), .table = reply.value(row, 1)},
        .relkind = reply.value(row, 2).empty() ? 'r' : reply.value(row, 2)[0],
        .persistence = reply.value(row, 3).empty() ? 'p' : reply.value(row, 3)[0],
        .partition_root = std::nullopt,
    };
    if (!reply.value(row, 5).empty()) {
      relation.partition_root =
          TableName{.schema = reply.value(row, 4), .table = reply.value(row, 5)};
    }
    out.push_back(std::move(relation));
  }
  return true;
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    append_array_element(out, values[i]);
  }
  out += '}';
  return out;
}

std::vector<std::string> name_arrays(const std::vector<TableName>& tables) {
  std::vector<std::string> schemas, names;
  for (const auto& table : tables) {
    schemas.push_back(table.schema);
    names.push_back(table.table);
  }
  return {text_array(schemas), text_array(names)};
}

pg::Reply run_query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                    const pg::Cancelled& cancelled) {
  pg::Params bound;
  for (const auto& param : params) {
    bound.values.push_back(param.c_str());
    bound.lengths.push_back(static_cast<int>(param.size()));
    bound.formats.push_back(0);
  }
  return pg::exec_params(conn, sql, bound, 0, cancelled);
}

std::string list_names(const std::vector<TableName>& tables) {
  std::string out;
  for (const auto& table : tables) out += (out.empty() ? "" : ", ") + table.display();
  return out;
}

}  // namespace pgdual::cdc
