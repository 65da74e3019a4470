#include "cutover/fleet_agent.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "cutover/fleet_control.hpp"
#include "cutover/stats_publisher.hpp"
#include "libpq/connection.hpp"
#include "libpq/conninfo.hpp"
#include "routing/primary_changes.hpp"

namespace pgdual::cutover {

namespace {

using Clock = std::chrono::steady_clock;

// How long a flip this instance paused for may stay unresolved before it stops waiting: the
// coordinator's two bounds (pause, then flip) and a margin for its last writes.
Clock::duration unresolved_bound(const config::Config& config) {
  return 2 * config.migration.cutover.pause_timeout + std::chrono::seconds(5);
}

bool same_primaries(const config::Config& config, const config::PhaseAssignment& a,
                    const config::PhaseAssignment& b) {
  return routing::same_primaries(config::with_assignment(config.migration, a),
                                 config::with_assignment(config.migration, b));
}

}  // namespace

struct FleetAgent::Connection {
  pg::Conn conn;
  std::string schema;  // the control tables exist in this schema
};

struct FleetAgent::Flip {
  std::int64_t id = 0;
  Clock::time_point paused_at;
  bool acked_paused = false;
  bool applied = false;  // runs the flip's assignment
  config::PhaseAssignment previous;
};

FleetAgent::FleetAgent(std::string instance, ConfigSource config, FleetHooks hooks)
    : instance_(std::move(instance)),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      connection_(std::make_unique<Connection>()),
      last_read_(Clock::now()) {
  if (config_()->migration.cutover.coordination == config::Coordination::fleet) {
    fenced_ = true;
    fence_reason_ = kNotReadYet;
  }
  thread_ = std::thread([this] { run(); });
}

FleetAgent::~FleetAgent() { stop(); }

void FleetAgent::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetAgent::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const auto config = config_();
    if (config->migration.cutover.coordination == config::Coordination::local) {
      // Each instance flips by itself: nothing to agree on, nothing to fence.
      if (flip_) resume();
      fence(std::nullopt);
      known_ = false;
      was_local_ = true;
      leave_fleet();
    } else if (poll_fleet(*config)) {
      last_read_ = Clock::now();
      last_logged_error_.clear();
      if (replication_suspect_ && hooks_.replication_ready()) {
        replication_suspect_ = false;
        spdlog::info("fleet: the replication runs the way the phases want again");
      }
      if (replication_suspect_) {
        fence(
            "a fleet flip under strategy cdc was abandoned by its coordinator: the replication "
            "may run the wrong way (pgdual cdc status; pgdual cdc cutover or rollback --yes)");
      } else if (!flip_ && known_) {
        fence(std::nullopt);
      }
    } else {
      if (!poll_error_.empty() && poll_error_ != last_logged_error_) {
        spdlog::warn("fleet: cannot read the control state on the old store: {}", poll_error_);
        last_logged_error_ = poll_error_;
      }
      connection_->conn.reset();
      const auto silent = Clock::now() - last_read_;
      if (!known_) {
        // Until the fleet's assignment has been read, this instance does not know its primary.
        fence(kNotReadYet);
      } else if (flip_ && silent > unresolved_bound(*config)) {
        // The flip's outcome is unknown: let the sessions go on, without writes.
        fence("this pgdual instance lost the fleet's control state during a phase flip");
        resume();
      } else if (!flip_ && silent > kFenceAfter) {
        fence("this pgdual instance cannot read the fleet's control state on the old store");
      }
    }
    lock.lock();
    if (known_) known_changed_.notify_all();
    wake_.wait_for(lock, kPoll, [this] { return stopping_; });
  }
  lock.unlock();
  if (flip_) resume();
  leave_fleet();
}

void FleetAgent::leave_fleet() {
  // A clean stop: the next flip does not wait for this instance.
  if (connection_->conn && PQstatus(connection_->conn.get()) == CONNECTION_OK &&
      !connection_->schema.empty()) {
    forget_member(connection_->conn.get(), connection_->schema, instance_);
  }
  connection_->conn.reset();
  connection_->schema.clear();
}

bool FleetAgent::poll_fleet(const config::Config& config) {
  // Turned from local to fleet: the running phases may be newer than the recorded ones.
  if (std::exchange(was_local_, false)) record_running_ = true;
  return poll(config);
}

bool FleetAgent::wait_known(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return known_changed_.wait_for(lock, timeout, [this] { return known_ || stopping_; }) && known_;
}

bool FleetAgent::poll(const config::Config& config) {
  Connection& c = *connection_;
  const std::string& schema = config.migration.journal.schema;
  std::string error;
  if (!c.conn || PQstatus(c.conn.get()) != CONNECTION_OK) {
    const auto timeout =
        std::min(config.old_backend.connect_timeout, std::chrono::milliseconds(kFenceAfter) / 2);
    c.conn = pg::connect(
        pg::libpq_conninfo(config.old_backend, control_database(config), "pgdual fleet agent"),
        timeout, {}, error);
    if (!c.conn) return failed(error);
    pg::exec(c.conn.get(), "SET statement_timeout = '2s'", {});
    c.schema.clear();
  }
  if (c.schema != schema) {
    if (!ensure_control_tables(c.conn.get(), schema, error)) return failed(error);
    c.schema = schema;
  }
  poll_error_.clear();
  if (Clock::now() >= next_heartbeat_) {
    // Before anything else: a flip that starts after this counts this instance in.
    if (!heartbeat(c.conn.get(), schema, instance_, hooks_.databases(), error)) {
      return failed(error);
    }
    next_heartbeat_ = Clock::now() + kHeartbeat;
  }
  const auto newest = newest_flip(c.conn.get(), schema, false, error);
  if (!error.empty()) return failed(error);
  if (newest && (newest->state == FlipState::pausing || newest->state == FlipState::flipping)) {
    return take_part(config, *newest);
  }
  if (flip_ && newest && newest->id == flip_->id) {
    if (newest->state == FlipState::aborted && flip_->applied) {
      std::string parse_error;
      const auto previous = config::parse_phase_assignment(newest->previous, parse_error);
      if (!previous || !hooks_.apply(*previous)) {
        spdlog::error("fleet flip {} aborted, but this instance could not go back: {}", newest->id,
                      parse_error.empty() ? "apply failed" : parse_error);
        return false;
      }
    }
    spdlog::info("fleet flip {} {}: resuming", newest->id, to_string(newest->state));
    // A done flip this instance had not applied yet (it missed the flipping state) is taken
    // by follow_fleet below, before the sessions resume.
    if (!follow_fleet(config)) return false;
    resume();
    return true;
  }
  if (flip_) {
    // The flip this instance paused for is gone (its row deleted): do not stay paused.
    resume();
  }
  return follow_fleet(config);
}

std::optional<config::PhaseAssignment> FleetAgent::parsed_assignment(const std::string& yaml,
                                                                     std::string& error) {
  if (parsed_ && yaml == parsed_text_) return parsed_;
  auto assignment = config::parse_phase_assignment(yaml, error);
  if (assignment) {
    parsed_text_ = yaml;
    parsed_ = assignment;
  }
  return assignment;
}

bool FleetAgent::follow_fleet(const config::Config& config) {
  Connection& c = *connection_;
  const std::string& schema = config.migration.journal.schema;
  std::string error;
  const auto running = config::phase_assignment(config.migration);
  auto fleet = newest_flip(c.conn.get(), schema, true, error);
  if (!error.empty()) return failed(error);
  if (!fleet) {
    // The first instance of the fleet: its own assignment becomes the fleet's (unless another
    // instance starting at the same moment recorded its own first: that one is read back).
    record_baseline(c.conn.get(), schema, instance_, config::to_yaml(running), error);
    if (!error.empty()) return failed(error);
    fleet = newest_flip(c.conn.get(), schema, true, error);
    if (!fleet) return failed(error.empty() ? "no fleet phases recorded" : error);
  }
  const auto assignment = parsed_assignment(fleet->assignment, error);
  if (!assignment) {
    spdlog::error("fleet flip {} holds an unreadable assignment: {}", fleet->id, error);
    return failed(error);
  }
  if (record_running_ && !same_primaries(config, running, *assignment)) {
    // Coordination turned from local to fleet: the recorded phases predate what the instances
    // flipped to by themselves meanwhile, so this instance's are recorded (under the flip lock).
    if (!try_lock_flips(c.conn.get(), schema, error)) return failed(error);
    const bool recorded = record_assignment(c.conn.get(), schema, instance_,
                                            config::to_yaml(running), "coordination fleet", error);
    unlock_flips(c.conn.get(), schema);
    if (!recorded) return failed(error);
    spdlog::warn(
        "fleet: coordination turned to fleet; recorded this instance's phases as the "
        "fleet's (the recorded ones were older)");
    record_running_ = false;
    known_ = true;
    return true;
  }
  record_running_ = false;
  if (!same_primaries(config, running, *assignment)) {
    spdlog::warn(
        "this instance's phases give other primaries than the fleet's (flip {}): following the "
        "fleet; a reload of a file that asks for other primaries starts a fleet flip",
        fleet->id);
    if (!hooks_.apply(*assignment)) return false;
  }
  known_ = true;
  return true;
}

bool FleetAgent::take_part(const config::Config& config, const FlipRecord& flip) {
  Connection& c = *connection_;
  const std::string& schema = config.migration.journal.schema;
  std::string error;
  if (flip_ && flip_->id != flip.id) resume();  // a newer flip replaced ours
  if (!flip_) {
    flip_ = std::make_unique<Flip>();
    flip_->id = flip.id;
    flip_->paused_at = Clock::now();
    flip_->previous = config::phase_assignment(config.migration);
    hooks_.set_paused(true);
    spdlog::info("fleet flip {} (coordinator {}): pausing new transactions", flip.id,
                 flip.coordinator);
  }
  const double silent_bound =
      std::chrono::duration<double>(config.migration.cutover.pause_timeout).count() + 5;
  if (flip.idle_seconds > silent_bound) {
    // Its coordinator shows no sign of life (it touches the flip at every step): end the flip,
    // so that every instance resumes on the old assignment.
    const bool moved =
        move_flip(c.conn.get(), schema, flip.id, {FlipState::pausing, FlipState::flipping},
                  FlipState::aborted, "its coordinator showed no progress", error);
    if (moved && config.migration.strategy == config::Strategy::cdc) {
      // It may have turned the replication already: no write until it runs the right way.
      replication_suspect_ = true;
    }
    return error.empty() || failed(error);
  }
  if (!flip_->acked_paused && hooks_.drained()) {
    if (!acknowledge(c.conn.get(), schema, flip.id, instance_, AckStage::paused, error))
      return failed(error);
    flip_->acked_paused = true;
  }
  if (flip.state == FlipState::flipping && flip_->acked_paused && !flip_->applied) {
    const auto assignment = config::parse_phase_assignment(flip.assignment, error);
    if (!assignment) {
      spdlog::error("fleet flip {}: unreadable assignment: {}", flip.id, error);
      return true;  // no acknowledgement: the coordinator aborts
    }
    if (!hooks_.apply(*assignment)) return true;
    flip_->applied = true;
    if (!hooks_.settled()) {
      spdlog::error("fleet flip {}: the new phases are not ready here (see the cdc health)",
                    flip.id);
      return true;  // no acknowledgement: the coordinator aborts, this instance goes back
    }
    if (!acknowledge(c.conn.get(), schema, flip.id, instance_, AckStage::flipped, error))
      return failed(error);
    spdlog::info("fleet flip {}: flipped, waiting for the fleet", flip.id);
  }
  return true;
}

bool FleetAgent::failed(const std::string& error) {
  poll_error_ = error;
  return false;
}

void FleetAgent::resume() {
  flip_.reset();
  hooks_.set_paused(false);
}

void FleetAgent::fence(std::optional<std::string> reason) {
  const bool fenced = reason.has_value();
  if (fenced == fenced_ && (!fenced || *reason == fence_reason_)) return;
  fenced_ = fenced;
  fence_reason_ = reason.value_or("");
  if (fenced) {
    spdlog::error("writes refused: {}", *reason);
  } else {
    spdlog::info("the fleet's control state is readable: writes allowed");
  }
  hooks_.set_fenced(std::move(reason));
}

}  // namespace pgdual::cutover
