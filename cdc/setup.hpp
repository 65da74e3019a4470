#pragma once
// Creates, updates and drops the replication objects of strategy cdc for one database
// (docs/cdc.md, "Objects"): the publication on the old store, the subscription on the new one
// and its slot on the old one, all named by cdc/names.hpp. Blocking libpq, for `pgdual cdc`
// and the proxy's own thread. Several pgdual instances may call these at once: a session
// advisory lock on the old store serializes them, and every step first looks at what exists,
// so a second call (or one after a crash) finishes what the first left and changes nothing
// else.

#include <string>
#include <vector>

#include "cdc/preflight.hpp"
#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cdc {

struct SetupResult {
  bool ok = false;
  bool refused = false;  // a check failed (preflight, strategy): fix it, then run it again
  std::string error;     // why nothing (more) was done
  std::vector<std::string> actions;           // what was changed, in order; empty: nothing to do
  std::vector<std::string> published_tables;  // "schema.table", as the publication lists them
  PreflightReport preflight;                  // its checks (warnings included)
};

// Preflight first (nothing is created when it fails), then: an orphan slot of a crashed
// earlier run dropped, REPLICA IDENTITY FULL where asked, the publication created and its
// table list brought to the scope, the subscription created (or refreshed when its tables
// differ from the publication's, copying the new ones). Refused unless migration.strategy is
// cdc.
SetupResult ensure_replication(const config::Config& config, const std::string& database,
                               const pg::Cancelled& cancelled);

struct TeardownResult {
  bool ok = false;
  std::string error;                   // what could not be done (the rest was still tried)
  std::vector<std::string> actions;    // what was dropped
  std::vector<std::string> remaining;  // pgdual's objects still present afterwards
};

// Drops the forward and the reverse subscription (DROP SUBSCRIPTION drops their slots; when the
// publisher cannot be reached: DISABLE, SET (slot_name = NONE), DROP, then the slot by hand),
// both publications, and every inactive table-sync slot a dropped subscription left; then
// checks that none of them remains.
TeardownResult drop_replication(const config::Config& config, const std::string& database,
                                const pg::Cancelled& cancelled);

// ---- pure parts (unit-tested) ----

// The subscription's CREATE statement. `conninfo` holds a password: never log the statement.
std::string create_subscription_sql(const std::string& name, const std::string& conninfo,
                                    bool copy_data);
// The connection string the new server uses to reach the old one for `database`.
std::string subscription_conninfo(const config::Config& config, const std::string& database,
                                  const std::string& name);

}  // namespace pgdual::cdc
