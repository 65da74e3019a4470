#pragma once
// Inside `pgdual run` under migration.cutover.coordination fleet: the member's side of the fleet
// flip (docs/cutover.md, "The fleet flip"). A thread polls the control tables
// (cutover/fleet_control.hpp) every kPoll and:
//   - at start, runs the fleet's assignment (the newest done flip), or records its own as the
//     fleet's baseline when there is none;
//   - on a flip in state pausing: pauses new transactions at their boundaries, waits until
//     nothing is in flight and its journal is empty, then acknowledges `paused`;
//   - on flipping: runs the new assignment, acknowledges `flipped`; new transactions still wait;
//   - on done: resumes; on aborted: goes back to the previous assignment, then resumes;
//   - later, whenever its assignment's primaries differ from the fleet's (it was not there for a
//     flip), takes the fleet's.
// An instance that cannot read the control state refuses writes rather than guess: before its
// first read, after kFenceAfter without one, and when a flip it paused for stays unresolved
// past its bound (then its sessions resume with writes refused). kFenceAfter is shorter than
// the time after which a coordinator stops counting a silent instance as a member, so the fleet
// never flips around an instance that still writes.
// Blocking libpq on its own thread; the hooks are thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "config/phase_assignment.hpp"

namespace pgdual::cutover {

struct FleetHooks {
  // true: new transactions wait at their boundaries; false: they go on.
  std::function<void(bool)> set_paused;
  // Nothing in flight on any session, nothing waiting for the secondary, the journal empty.
  std::function<bool()> drained;
  // Runs the assignment (the rest of the config stays); false when it could not.
  std::function<bool(const config::PhaseAssignment&)> apply;
  // After apply, before the acknowledgement: whatever the new assignment needs before the
  // sessions resume is in place (under cdc: the replication's health read ready again).
  std::function<bool()> settled;
  // A reason: writes are refused with it; nullopt: writes are allowed.
  std::function<void(std::optional<std::string>)> set_fenced;
  // The databases this instance serves (the flip syncs their sequences, turns their cdc).
  std::function<std::vector<std::string>()> databases;
  // Under cdc: the replication runs the way the running phases want (cheap, no wait).
  std::function<bool()> replication_ready;
};

class FleetAgent {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

  static constexpr std::chrono::milliseconds kPoll{25};
  static constexpr std::chrono::seconds kHeartbeat{1};
  static constexpr std::chrono::seconds kFenceAfter{4};

  // Starts fenced (the caller's hold too, with kNotReadYet) when coordination is fleet.
  FleetAgent(std::string instance, ConfigSource config, FleetHooks hooks);
  ~FleetAgent();
  FleetAgent(const FleetAgent&) = delete;
  FleetAgent& operator=(const FleetAgent&) = delete;

  void stop();
  // Waits (bounded) until the fleet's assignment has been read: the server accepts clients
  // after it. Until then, and whenever it returns false, writes stay fenced.
  bool wait_known(std::chrono::milliseconds timeout);
  static constexpr const char* kNotReadYet =
      "this pgdual instance has not read the fleet's control state on the old store yet";

 private:
  struct Flip;  // the flip this instance is taking part in
  struct Connection;

  void run();
  // One poll; false when the control state could not be read.
  bool poll(const config::Config& config);
  bool poll_fleet(const config::Config& config);
  bool take_part(const config::Config& config, const struct FlipRecord& flip);
  bool follow_fleet(const config::Config& config);
  void resume();
  void leave_fleet();
  bool failed(const std::string& error);  // false, with the error kept for the log
  void fence(std::optional<std::string> reason);
  // The fleet's assignment, parsed once per text: every 25 ms poll reads the same YAML.
  std::optional<config::PhaseAssignment> parsed_assignment(const std::string& yaml,
                                                           std::string& error);

  std::string instance_;
  ConfigSource config_;
  FleetHooks hooks_;
  std::unique_ptr<Connection> connection_;
  std::unique_ptr<Flip> flip_;
  std::atomic<bool> known_{false};  // the fleet's assignment has been read since start
  bool fenced_ = false;
  bool was_local_ = false;            // coordination was local at the last poll
  bool record_running_ = false;       // turned to fleet: the running phases may be the newer
  bool replication_suspect_ = false;  // a flip this instance abandoned may have turned cdc
  std::chrono::steady_clock::time_point next_heartbeat_{};
  std::string poll_error_;         // why the last poll failed
  std::string last_logged_error_;  // logged once per outage
  std::string fence_reason_;
  std::string parsed_text_;
  std::optional<config::PhaseAssignment> parsed_;
  std::chrono::steady_clock::time_point last_read_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable known_changed_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgdual::cutover
