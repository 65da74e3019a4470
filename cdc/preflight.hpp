#pragma once
// The checks strategy cdc runs before it creates anything (docs/cdc.md, "Preflight"), each with
// a message that names the fix: wal_level, free replication slots and WAL senders on the old
// store, room for the apply and table-sync workers on the new one, the privileges on both,
// replica identities, the new store's tables and columns, rows the initial copy would collide
// with, large objects. Whether the new server reaches the old one is not checked here: only
// CREATE SUBSCRIPTION can tell, and setup reports its error as such.

#include <libpq-fe.h>

#include <string>
#include <string_view>
#include <vector>

#include "cdc/scope.hpp"
#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cdc {

enum class CheckStatus { pass, warn, fail };
std::string_view to_string(CheckStatus status);

struct Check {
  std::string name;
  CheckStatus status = CheckStatus::pass;
  std::string message;
};

struct PreflightReport {
  std::string database;
  std::string error;  // a connection or a query failed: the checks are incomplete
  std::vector<Check> checks;
  Scope scope;
  // Published relations without a usable replica identity, which setup sets to REPLICA
  // IDENTITY FULL (only with migration.cdc.replica_identity_full; else they fail the check).
  std::vector<TableName> identity_full;

  bool ok() const;  // no error and no failed check
};

// ---- pure rules (unit-tested) ----

// Whether the new store's column type accepts the old store's values unchanged in meaning:
// equal types, and widenings (smallint -> integer -> bigint -> numeric, real -> double
// precision, varchar(n) -> varchar(m >= n) / varchar / text, numeric(p,s) -> numeric).
// Types as format_type() prints them.
bool safe_type_change(std::string_view old_type, std::string_view new_type);

struct ColumnInfo {
  std::string name, type;  // type as format_type() prints it
  bool not_null = false;
  bool has_default = false;  // a DEFAULT, or an identity column
  bool generated = false;
};

// What keeps replication from writing the old table's rows into the new table, in words: a
// published column missing or generated on the new store, a type that is not a safe
// widening, a NOT NULL column without a default that replication does not fill. Empty: fine.
std::vector<std::string> column_problems(const std::vector<ColumnInfo>& old_columns,
                                         const std::vector<ColumnInfo>& new_columns);

// ---- the checks ----

// Runs every check on two open connections to `database` (old_store as backends.old's user,
// new_store as backends.new's).
PreflightReport run_preflight(PGconn* old_store, PGconn* new_store, const config::Config& config,
                              const std::string& database, const pg::Cancelled& cancelled);

// Connects to both stores and runs them; a connection failure is the report's error.
PreflightReport preflight(const config::Config& config, const std::string& database,
                          const pg::Cancelled& cancelled);

// libpq connection strings pgdual uses for the stores' control connections (they hold the
// password: never log them), and the one the subscription uses to reach the old store
// (migration.cdc.publisher, else backends.old).
std::string old_store_conninfo(const config::Config& config, const std::string& database);
std::string new_store_conninfo(const config::Config& config, const std::string& database);
const config::BackendConfig& publisher_backend(const config::Config& config);

}  // namespace pgdual::cdc
