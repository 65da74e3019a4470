#pragma once
// Turning strategy cdc's replication around for cutover, and back for its rollback
// (docs/cdc.md, "Cutover and rollback"). PostgreSQL 15 has no origin filter, so the two
// directions must never run at once: the current direction is stopped at lag 0 before the other
// starts, and the starting one copies nothing (the stores are identical at that moment).
//
// The caller has paused the application's writes (docs/cdc.md says how). As a guard, the
// current publisher's published tables are locked IN EXCLUSIVE MODE for the switch, so a write
// that slips through waits instead of landing in the gap; the new direction's slot exists
// before the locks are released.
//
// Blocking libpq, serialized with setup and teardown by the same advisory lock.

#include <chrono>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cdc {

enum class Direction {
  forward,  // old -> new: publication on the old store, subscription on the new one
  reverse,  // new -> old, after cutover
};

struct SwitchResult {
  bool ok = false;
  std::string error;
  std::vector<std::string> actions;
};

// Stops the replication running in the other direction once it has applied everything, and
// starts `to` without an initial copy. Idempotent: when `to` already runs and the other does
// not, nothing changes.
SwitchResult switch_direction(const config::Config& config, const std::string& database,
                              Direction to, std::chrono::milliseconds lag_timeout,
                              const pg::Cancelled& cancelled);

}  // namespace pgdual::cdc
