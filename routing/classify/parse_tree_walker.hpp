#pragma once

// Internal to routing/: a generic walk over a libpg_query protobuf parse tree that gathers the
// facts the classifier needs, whatever node types lie between the statement and its tables.

#include <string>
#include <vector>

struct PgQuery__Node;
struct PgQuery__SQLValueFunction;
struct PgQuery__ColumnDef;

namespace pgdual::routing::detail {

struct TreeFacts {
  std::vector<std::string> tables;        // see StatementInfo::tables
  std::vector<std::string> write_tables;  // see StatementInfo::write_tables
  std::vector<std::string> functions;     // see StatementInfo::functions
  bool has_locking_clause = false;
  int strongest_lock = 0;  // PgQuery__LockClauseStrength of the strongest FOR ... clause
  bool has_modifying_cte = false;
  bool is_select_into = false;
  bool has_data_modification = false;  // an INSERT/UPDATE/DELETE/MERGE anywhere in the tree
  // SKIP LOCKED, LIMIT, ctid or WHERE CURRENT OF: rows may be chosen differently per store
  // (a cheap hint; the rewrite analysis decides, routing/rewrite/sites.cpp).
  bool may_choose_rows_per_store = false;
  // DO, ALTER TABLE ... ADD COLUMN with a default, serial or identity (or ALTER COLUMN ... TYPE
  // ... USING), COPY FROM a file or a program: each store may compute values of its own (a cheap
  // hint; the rewrite analysis decides, routing/rewrite/per_store.hpp).
  bool may_evaluate_per_store = false;
};

TreeFacts collect_tree_facts(const PgQuery__Node& statement);

// "current_timestamp", "current_user", ... as the classifier reports a SQL value function; null
// for one it does not name.
const char* sql_value_function_name(const PgQuery__SQLValueFunction& svf);

// serial, bigserial, smallserial, serial2/4/8: a column that draws its values from a new sequence
// (only unqualified names are serial types to PostgreSQL).
bool is_serial_type(const PgQuery__ColumnDef& column);

}  // namespace pgdual::routing::detail
