#pragma once
// The coordinator's side of a fleet flip (docs/cutover.md, "The fleet flip"): run by the
// instance whose reload asks for other primaries, on a thread of its own.
//
//   1. Take the flip lock on the control database (one flip at a time, fleet-wide); abort what
//      a dead coordinator left open. If the fleet already runs the target's primaries, stop:
//      another instance flipped it.
//   2. The members: every live instance (cutover/instance_samples.hpp), and this one.
//   3. Record the flip (pausing) and wait until every member acknowledged `paused`: its new
//      transactions wait at their boundaries, nothing is in flight, its journal is empty.
//   4. With the fleet paused, per database: under cdc turn the replication around at lag 0
//      (cdc/switch.hpp); move the sequences of the store that takes the writes past the
//      other's, with headroom; and check the way back: the store that stops being primary
//      accepts writes (it is the rollback's primary).
//   5. Move to flipping; wait until every member acknowledged `flipped`.
//   6. Move to done; the members resume on the new primaries.
// A step past migration.cutover.pause_timeout (3 and 5 each), or one that fails, aborts the
// flip: the members go back to the previous assignment and resume on the old primaries; under
// cdc the replication is turned back. Blocking libpq.

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/phase_assignment.hpp"
#include "libpq/connection.hpp"

namespace pgdual::cutover {

struct FlipRequest {
  config::Config config;  // the configuration the reload asks for (the target's assignment)
  config::PhaseAssignment previous;    // the assignment in force
  std::string instance;                // the coordinator's instance name
  std::vector<std::string> databases;  // the databases whose primary changes
};

struct FlipOutcome {
  enum class Result {
    done,     // every member runs the target
    already,  // the fleet already ran the target's primaries: nothing to flip
    busy,     // another flip holds the lock
    aborted,  // the fleet resumed on the previous assignment
  };
  Result result = Result::aborted;
  std::int64_t id = 0;
  std::string reason;                // why it aborted or was busy
  std::vector<std::string> members;  // the instances that took part
  double paused_ms = 0;              // from the flip's start until done or aborted
};

FlipOutcome run_fleet_flip(const FlipRequest& request, const pg::Cancelled& cancelled);

std::string_view to_string(FlipOutcome::Result result);

}  // namespace pgdual::cutover
