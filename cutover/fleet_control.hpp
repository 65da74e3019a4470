#pragma once
// The fleet's control state (docs/cutover.md, "The fleet flip"): two tables in the journal's
// schema on the old store, in the control database, through which every pgdual instance agrees
// on which store is primary for each scope.
//
//   fleet_flips  one row per flip: the phase assignment it moves to (config/phase_assignment.hpp)
//                and the one it replaces, its coordinator, the instances that must acknowledge,
//                and its state: pausing -> flipping -> done, or aborted from either. The newest
//                `done` row is the fleet's assignment; a state only moves by compare-and-set, so
//                the coordinator's `done` and a member's `aborted` cannot both win.
//   fleet_members every running instance's heartbeat (each agent writes it every second) and the
//                databases it serves: a flip waits for every instance seen in the last
//                kMemberFresh, which is longer than an agent goes on writing without reading
//                the control state (FleetAgent::kFenceAfter).
//   fleet_acks   each instance's acknowledgements of a flip: paused (its sessions wait at their
//                boundaries, nothing in flight, its journal empty) and flipped (it runs the new
//                assignment).
//
// One flip runs at a time: its coordinator holds a session advisory lock for the whole flip, and
// a flip still open without that lock held is the leftover of a coordinator that died.
// Blocking libpq; every call takes an open connection to the control database.

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::cutover {

enum class FlipState { pausing, flipping, done, aborted };
std::string_view to_string(FlipState state);
std::optional<FlipState> parse_flip_state(std::string_view text);

struct FlipRecord {
  std::int64_t id = 0;
  std::string coordinator;
  std::string assignment;  // the phase assignment it moves to (YAML)
  std::string previous;    // the one it replaces
  FlipState state = FlipState::pausing;
  std::string reason;       // why it aborted, or "baseline"
  double idle_seconds = 0;  // since its state last changed, by the control store's clock
};

constexpr int kMemberFreshSeconds = 6;

// Creates the schema and the tables (idempotent; serialized across instances).
bool ensure_control_tables(PGconn* conn, const std::string& schema, std::string& error);

// The newest flip (any state), or the newest done one: the fleet's assignment. nullopt with
// `error` empty when there is none.
std::optional<FlipRecord> newest_flip(PGconn* conn, const std::string& schema, bool done_only,
                                      std::string& error);

// The first instance of a fleet records its own assignment as the fleet's, unless one exists:
// true when it did. Later instances start on the fleet's.
bool record_baseline(PGconn* conn, const std::string& schema, const std::string& instance,
                     const std::string& assignment, std::string& error);

// Records `assignment` as the fleet's (a done row with `reason`), for an instance that turns
// fleet coordination on while the recorded phases are older than what every instance runs.
bool record_assignment(PGconn* conn, const std::string& schema, const std::string& instance,
                       const std::string& assignment, const std::string& reason,
                       std::string& error);

// The advisory lock a coordinator holds on its connection for the whole flip.
bool try_lock_flips(PGconn* conn, const std::string& schema, std::string& error);
void unlock_flips(PGconn* conn, const std::string& schema);

// A new flip in state pausing; its id, or 0 with `error`.
std::int64_t start_flip(PGconn* conn, const std::string& schema, const std::string& coordinator,
                        const std::string& assignment, const std::string& previous,
                        const std::vector<std::string>& members, std::string& error);

// Compare-and-set: moves flip `id` from one of `from` to `to`; true when this call moved it.
bool move_flip(PGconn* conn, const std::string& schema, std::int64_t id,
               const std::vector<FlipState>& from, FlipState to, const std::string& reason,
               std::string& error);

// Every flip left open (pausing or flipping) is aborted with `reason`: the caller holds the
// lock, so their coordinator is gone. Returns how many.
int abort_open_flips(PGconn* conn, const std::string& schema, const std::string& reason,
                     std::string& error);

// This instance is alive and serves `databases`; forget: it stopped cleanly.
bool heartbeat(PGconn* conn, const std::string& schema, const std::string& instance,
               const std::vector<std::string>& databases, std::string& error);
void forget_member(PGconn* conn, const std::string& schema, const std::string& instance);

struct Members {
  std::set<std::string> instances;  // seen in the last kMemberFreshSeconds
  std::set<std::string> databases;  // the databases they serve
};
Members live_members(PGconn* conn, const std::string& schema, std::string& error);

// A coordinator's sign of life on an open flip (its members abort one that shows none).
bool touch_flip(PGconn* conn, const std::string& schema, std::int64_t id, std::string& error);

enum class AckStage { paused, flipped };
bool acknowledge(PGconn* conn, const std::string& schema, std::int64_t id,
                 const std::string& instance, AckStage stage, std::string& error);
std::set<std::string> acknowledged(PGconn* conn, const std::string& schema, std::int64_t id,
                                   AckStage stage, std::string& error);

}  // namespace pgdual::cutover
