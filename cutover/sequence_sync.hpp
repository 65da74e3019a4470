#pragma once
// `pgdual sequences sync`: sets every sequence of the new store to the old store's value plus a
// headroom. Logical copies and pgdual's deterministic writes do not advance the new store's
// sequences (the new store receives explicit values), so before the new store draws values of
// its own (cutover) its sequences must be moved past everything the old store handed out.
// A control-plane job: blocking libpq, never on an I/O thread.

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgdual::cutover {

struct SequenceSyncOptions {
  std::string database;  // empty: the backends' dbname
  std::int64_t headroom = 1000;
  bool dry_run = false;  // report what would be set, change nothing
};

struct SequenceSyncLine {
  // "schema"."name" as quote_ident writes it; "old -> new" for a sequence of a column of
  // migration.mapping, which has another name on the new store
  std::string sequence;
  std::string old_value;  // last_value on the old store ("" when never used)
  std::string new_value;  // what the new store was (or would be) set to
  std::string error;      // why it was not set (missing on the new store, permission, ...)
};

struct SequenceSyncReport {
  std::string error;  // a connection or catalog failure: nothing was done
  std::vector<SequenceSyncLine> lines;
  bool ok() const;
};

SequenceSyncReport sync_sequences(const config::Config& config, const SequenceSyncOptions& options);

// libpq keyword/value connection string for a backend (values quoted as libpq wants).
std::string backend_conninfo(const config::BackendConfig& backend, const std::string& database);

// migration.mapping (docs/schema-mapping.md): the sequence behind each column of a mapped old
// table -> the sequence behind its new column on the new store ("" when that column draws from
// none: the new store then takes the old store's values, the deterministic rewrite's literals).
// Names quoted and qualified like pg_get_serial_sequence's.
std::map<std::string, std::string> mapped_sequences(PGconn* old_store, PGconn* new_store,
                                                    const config::MappingConfig& mapping);

}  // namespace pgdual::cutover
