#pragma once
// `pgdual journal status` and `pgdual journal purge` (docs/journal.md): what
// an operator runs to see the journal of one database, and to drop it
// explicitly after a rollback to prepare (the rollback plan keeps the journal
// until then). Table store: libpq on the primary of the configured phase;
// file store: the directory, which must not be open by a running pgdual.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgdual::jobs {

struct JournalAdminOptions {
  std::string database = "postgres";
  bool dead_letter = false;  // purge: the dead letter too
};

struct JournalAdminReport {
  std::vector<std::string> lines;  // for stdout
  std::string error;               // empty on success
};

JournalAdminReport journal_status(const config::Config& config, const JournalAdminOptions& options);
JournalAdminReport journal_purge(const config::Config& config, const JournalAdminOptions& options);

}  // namespace pgdual::jobs
