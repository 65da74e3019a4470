#pragma once

// `pgdual mapping check|install` and the start-up check of `pgdual run` (docs/schema-mapping.md):
// resolves every table of migration.mapping against both stores' catalogs, lets PostgreSQL check
// every expression (types, functions, immutability) on both stores, and installs the views and
// triggers on the new store in one transaction. The installed mapping is recognised by a
// fingerprint of its SQL, kept as the comment of the mapping's schema.

#include <string>
#include <vector>

#include "config/config.hpp"
#include "jobs/mapping/resolved_mapping.hpp"

// libpq's connection, declared as libpq-fe.h does: cmd/ includes this header and only hands
// the connections through.
typedef struct pg_conn PGconn;

namespace pgdual::jobs::mapping {

enum class MappingAction { check, install, verify };

struct MappingReport {
  std::vector<std::string> errors;  // "<key path>: <message>"
  std::vector<ResolvedTable> tables;
  std::string fingerprint;            // of this config's install SQL
  std::string installed_fingerprint;  // what the new store holds; "" when nothing
  bool installed = false;             // install: committed; verify: the fingerprints agree

  bool ok() const { return errors.empty(); }
};

// Reads both catalogs and resolves every mapped table (no change anywhere).
MappingReport resolve_mapping(PGconn* old_store, PGconn* new_store,
                              const config::MappingConfig& mapping);

// check: resolve, then run every expression check and the install in a transaction that is
// rolled back. install: the same, committed. verify: resolve and compare fingerprints only.
MappingReport run_mapping(PGconn* old_store, PGconn* new_store,
                          const config::MappingConfig& mapping, MappingAction action);

}  // namespace pgdual::jobs::mapping
