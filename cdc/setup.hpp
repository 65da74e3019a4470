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
  // copy_data: pgdual and no subscription yet: it waits for `pgdual backfill`, which copies the
  // rows under its slot's snapshot and then attaches the subscription (attach_subscription).
  bool initial_copy_pending = false;
  // CREATE SUBSCRIPTION succeeded (even when a later step failed): the subscription exists.
  bool subscription_created = false;
};

// Preflight first (nothing is created when it fails), then: an orphan slot of a crashed
// earlier run dropped, REPLICA IDENTITY FULL where asked, the publication created and its
// table list brought to the scope, the subscription created (or refreshed when its tables
// differ from the publication's, copying the new ones). Refused unless migration.strategy is
// cdc. Under copy_data: pgdual a missing subscription is left to `pgdual backfill`
// (initial_copy_pending). `caller_holds_lock`: the caller's own session holds
// lock_replication for the database (the backfill's initial copy), so this does not take it.
SetupResult ensure_replication(const config::Config& config, const std::string& database,
                               const pg::Cancelled& cancelled, bool caller_holds_lock = false);

// copy_data: pgdual, after the backfill copied every published table under the snapshot of the
// slot it created (cdc/exported_slot.hpp): creates the subscription on that slot, without a
// copy of its own, so it streams from the slot's consistent point. The caller holds
// lock_replication.
SetupResult attach_subscription(const config::Config& config, const std::string& database,
                                const pg::Cancelled& cancelled);

// Drops the forward slot of an initial copy that did not finish: its snapshot went with the
// connection that exported it, so it can never be attached. "" or what failed.
std::string drop_unattached_slot(const config::Config& config, const std::string& database,
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

// How a new subscription starts: PostgreSQL copies the tables first, or it streams from now
// on, or from the consistent point of a slot created beforehand (copy_data: pgdual).
enum class SubscriptionStart { copy, no_copy, existing_slot };

// The subscription's CREATE statement. `conninfo` holds a password: never log the statement.
std::string create_subscription_sql(const std::string& name, const std::string& conninfo,
                                    SubscriptionStart start);
// The connection string the new server uses to reach the old one for `database`.
std::string subscription_conninfo(const config::Config& config, const std::string& database,
                                  const std::string& name);

}  // namespace pgdual::cdc
