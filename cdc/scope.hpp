#pragma once
// Which tables of a database strategy cdc publishes on the old store (docs/cdc.md, "Scope"):
// every persistent ordinary or partitioned table outside the system schemas, extensions and
// pgdual's own schema, whose phase sends writes to the new store (dual_write, backfill,
// shadow_read). A partitioned table is published as its root and covers its partitions; the
// rows travel per leaf (publish_via_partition_root stays false), so the leaves are what the
// new store must hold. The phase rules repeat routing's (routing/phase_rules.hpp), which this
// layer may not include: a table's entry in migration.tables, else the database's phase.

#include <libpq-fe.h>

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cdc {

// A relation as PostgreSQL stores its names (no quoting, no case folding).
struct TableName {
  std::string schema, table;

  std::string display() const { return schema + "." + table; }  // also migration.tables' key
  std::string quoted() const;                                   // "schema"."table" for SQL
  auto operator<=>(const TableName&) const = default;
};

// The phase of the database's sessions: the first tenant rule that can match every session of
// the database (its database unset or equal, no user or application_name condition), else
// migration.phase. Under strategy cdc the config allows only database conditions.
config::Phase database_phase(const config::MigrationConfig& migration, std::string_view database);
// migration.tables' entry for the table, else `database`.
config::Phase table_phase(const config::MigrationConfig& migration, config::Phase database,
                          const TableName& table);
// Whether the phase sends the table's writes to the new store (the forward publication).
bool published_forward(config::Phase phase);

// One relation of the old store's catalog, as read_relations lists it.
struct CatalogRelation {
  TableName name;
  char relkind = 'r';                       // r ordinary, p partitioned, f foreign
  char persistence = 'p';                   // p permanent, u unlogged
  std::optional<TableName> partition_root;  // a partition: its topmost partitioned ancestor
};

struct Scope {
  std::vector<TableName> published;   // what the publication lists, sorted
  std::vector<TableName> replicated;  // whose rows travel: ordinary tables and published leaves
  std::vector<std::string> notes;     // in scope but not publishable (unlogged, foreign)
};

Scope decide_scope(const config::MigrationConfig& migration, std::string_view database,
                   const std::vector<CatalogRelation>& relations);

// Ordinary, partitioned and foreign tables of the connected database, but for pg_catalog,
// information_schema, pg_toast*, temporary schemas, `journal_schema` and extension members.
bool read_relations(PGconn* old_store, const std::string& journal_schema,
                    std::vector<CatalogRelation>& out, std::string& error,
                    const pg::Cancelled& cancelled);

// ---- shared by preflight and setup ----

// A PostgreSQL text[] literal of the values ({"a","b"}), for unnest($1::text[]).
std::string text_array(const std::vector<std::string>& values);
// The schemas and the table names of `tables`, as two text[] literals in the same order.
std::vector<std::string> name_arrays(const std::vector<TableName>& tables);
// A query with text parameters; on failure reply.error holds the server's message.
pg::Reply run_query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                    const pg::Cancelled& cancelled);
// "a, b, c" of the display names.
std::string list_names(const std::vector<TableName>& tables);

}  // namespace pgdual::cdc
