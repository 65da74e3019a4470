#pragma once
// Reads both stores' catalogs and turns every table of the database into a TablePlan, or a
// Refusal that says what to fix first: a table missing on the new store, columns that differ in
// name, type or generation, no usable key (refused unless the locked copy is asked for), a new
// store without the same unique key (insert-if-absent could not see a row already there).

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

struct CatalogScope {
  std::string database;
  std::vector<std::string> tables;  // named by the user, normalised; empty: every eligible table
  bool lock_keyless = false;        // keyless tables get the locked copy instead of a refusal
  std::string skip_schema;          // pgdual's own schema (journal, progress): never copied
  bool replica_role = false;        // the new store's session skips ordinary triggers
  // For `pgdual reconcile`, which only reads (and repairs row by row): tables in cutover count
  // too (both stores get their writes), triggers are not refused, and a keyless table is
  // refused with the reconcile's words.
  bool reconcile = false;
};

struct CatalogResult {
  std::string error;  // a query failed: nothing can be planned
  std::vector<TablePlan> plans;
  std::vector<Refusal> refusals;
  std::vector<std::string> not_mirrored;  // tables whose phase sends no writes to the new store
};

CatalogResult read_catalogs(PGconn* old_store, PGconn* new_store,
                            const config::MigrationConfig& migration, const CatalogScope& scope);

}  // namespace pgdual::jobs::backfill
