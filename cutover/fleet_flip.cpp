#include "cutover/fleet_flip.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "cdc/preflight.hpp"
#include "cdc/scope.hpp"
#include "cdc/switch.hpp"
#include "cutover/fleet_control.hpp"
#include "cutover/sequence_sync.hpp"
#include "cutover/stats_publisher.hpp"
#include "libpq/conninfo.hpp"
#include "routing/primary_changes.hpp"

namespace pgdual::cutover {

namespace {

using Clock = std::chrono::steady_clock;
using Result = FlipOutcome::Result;
constexpr auto kAckPoll = std::chrono::milliseconds(10);

std::string listed(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// Where one database's writes go after the flip, and what that needs while the fleet waits.
struct DatabaseStep {
  std::string database;
  routing::Store to = routing::Store::new_store;
  bool switched = false;  // cdc: the replication was turned around
};

class Coordinator {
 public:
  Coordinator(const FlipRequest& request, const pg::Cancelled& cancelled)
      : request_(request),
        config_(request.config),
        schema_(config_.migration.journal.schema),
        cancelled_(cancelled) {}

  FlipOutcome run() {
    std::string error;
    conn_ = pg::connect(
        pg::libpq_conninfo(config_.old_backend, control_database(config_), "pgdual fleet flip"),
        config_.old_backend.connect_timeout, cancelled_, error);
    if (!conn_) return busy("the control database on the old store: " + error);
    pg::exec(conn_.get(), "SET statement_timeout = '10s'", cancelled_);
    if (!ensure_control_tables(conn_.get(), schema_, error)) return busy(error);
    if (!try_lock_flips(conn_.get(), schema_, error)) {
      return busy(error.empty() ? "another fleet flip is running" : error);
    }
    FlipOutcome outcome = locked();
    unlock_flips(conn_.get(), schema_);
    return outcome;
  }

 private:
  FlipOutcome locked() {
    std::string error;
    if (abort_open_flips(conn_.get(), schema_, "its coordinator is gone", error) > 0) {
      spdlog::warn("fleet flip: aborted a flip whose coordinator is gone");
    }
    const auto target = config::phase_assignment(config_.migration);
    const auto fleet = newest_flip(conn_.get(), schema_, true, error);
    if (!error.empty()) return busy(error);
    config::PhaseAssignment previous = request_.previous;
    if (fleet) {
      std::string parse_error;
      if (auto assignment = config::parse_phase_assignment(fleet->assignment, parse_error)) {
        previous = *assignment;
      }
    }
    const auto before = config::with_assignment(config_.migration, previous);
    const auto changes = routing::primary_changes(before, config_.migration);
    if (changes.empty()) {
      FlipOutcome outcome;
      outcome.result = Result::already;
      return outcome;
    }
    // Every instance whose agent wrote its heartbeat lately, and the databases they serve.
    const Members live = live_members(conn_.get(), schema_, error);
    if (!error.empty()) return busy("the fleet's instances: " + error);
    members_ = live.instances;
    members_.insert(request_.instance);
    std::set<std::string> databases = live.databases;
    databases.insert(request_.databases.begin(), request_.databases.end());
    for (const auto& database : databases) {
      // The change that concerns this database: one of its own (a tenant rule), else one of
      // every database's; none: its primary stays, nothing to do for it.
      std::optional<routing::Store> to;
      for (const auto& change : changes) {
        if (change.database == database || (!change.database && !to)) to = change.after;
      }
      if (to) steps_.push_back({database, *to, false});
    }
    id_ = start_flip(conn_.get(), schema_, request_.instance, config::to_yaml(target),
                     config::to_yaml(previous),
                     std::vector<std::string>(members_.begin(), members_.end()), error);
    if (id_ == 0) return busy(error);
    started_ = Clock::now();
    spdlog::info("fleet flip {}: pausing {} instance(s): {}", id_, members_.size(),
                 listed(members_));
    if (auto missing = wait_for(AckStage::paused); !missing.empty()) return abort(missing);
    for (auto& step : steps_) {
      // Still ours and still open (a member aborts a flip whose coordinator looks dead).
      if (auto lost = still_open(); !lost.empty()) return abort(lost);
      if (auto failure = while_paused(step); !failure.empty()) return abort(failure);
    }
    if (!move_flip(conn_.get(), schema_, id_, {FlipState::pausing}, FlipState::flipping, "",
                   error)) {
      return abort(error.empty() ? "a member aborted the flip" : error);
    }
    if (auto missing = wait_for(AckStage::flipped); !missing.empty()) return abort(missing);
    if (!move_flip(conn_.get(), schema_, id_, {FlipState::flipping}, FlipState::done, "", error)) {
      // The update may have committed with its answer lost: the row says what happened.
      std::string read_error;
      const auto flip = newest_flip(conn_.get(), schema_, false, read_error);
      const bool done = flip && flip->id == id_ && flip->state == FlipState::done;
      if (!done) return abort(error.empty() ? "a member aborted the flip" : error);
    }
    FlipOutcome outcome = finished(Result::done, "");
    spdlog::info("fleet flip {}: done in {:.0f} ms, {} instance(s) flipped", id_, outcome.paused_ms,
                 members_.size());
    return outcome;
  }

  // Waits until every member acknowledged `stage`; what is missing when it did not.
  std::string wait_for(AckStage stage) {
    const auto deadline = Clock::now() + config_.migration.cutover.pause_timeout;
    std::string error;
    for (;;) {
      const auto acks = acknowledged(conn_.get(), schema_, id_, stage, error);
      std::set<std::string> missing;
      for (const auto& member : members_) {
        if (!acks.count(member)) missing.insert(member);
      }
      if (missing.empty()) return "";
      if (!error.empty()) return "the control database: " + error;
      const auto flip = newest_flip(conn_.get(), schema_, false, error);
      if (flip && flip->id == id_ && flip->state == FlipState::aborted) {
        return "a member aborted the flip: " + flip->reason;
      }
      if (Clock::now() >= next_touch_) {
        touch_flip(conn_.get(), schema_, id_, error);
        next_touch_ = Clock::now() + std::chrono::seconds(1);
      }
      if (Clock::now() >= deadline || (cancelled_ && cancelled_())) {
        return fmt::format(
            "{} did not acknowledge {} within migration.cutover.pause_timeout_ms ({} ms)",
            listed(missing), stage == AckStage::paused ? "paused (drained)" : "flipped",
            config_.migration.cutover.pause_timeout.count());
      }
      std::this_thread::sleep_for(kAckPoll);
    }
  }

  // "" while the flip is open and the lock held; else why not.
  std::string still_open() {
    std::string error;
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      return "the control database connection was lost (and the flip lock with it)";
    }
    const auto flip = newest_flip(conn_.get(), schema_, false, error);
    if (!error.empty()) return "the control database: " + error;
    if (!flip || flip->id != id_ || flip->state != FlipState::pausing) {
      return "the flip was ended by a member";
    }
    touch_flip(conn_.get(), schema_, id_, error);
    return "";
  }

  // With the fleet paused: the replication (cdc), the sequences and the way back.
  std::string while_paused(DatabaseStep& step) {
    const bool to_new = step.to == routing::Store::new_store;
    if (config_.migration.strategy == config::Strategy::cdc) {
      const auto result = cdc::switch_direction(
          config_, step.database, to_new ? cdc::Direction::reverse : cdc::Direction::forward,
          config_.migration.cutover.pause_timeout, cancelled_);
      if (!result.ok) return step.database + ": turning the replication around: " + result.error;
      step.switched = true;
    }
    config::Config sequence_config = config_;
    if (!to_new) std::swap(sequence_config.old_backend, sequence_config.new_backend);
    const auto sequences = sync_sequences(sequence_config, {.database = step.database});
    if (!sequences.ok()) {
      std::string why = sequences.error;
      for (const auto& line : sequences.lines) {
        if (why.empty() && !line.error.empty()) why = line.sequence + ": " + line.error;
      }
      return step.database + ": syncing the sequences: " + why;
    }
    return way_back(step);
  }

  // The rollback's primary (the store that stops being primary) must take writes: it is the
  // secondary until cleanup, and a rollback makes it primary again.
  std::string way_back(const DatabaseStep& step) {
    const bool to_new = step.to == routing::Store::new_store;
    if (to_new && !config_.migration.keep_old_in_sync) return "";  // the gate's rollback_path
    const auto& backend = to_new ? config_.old_backend : config_.new_backend;
    std::string error;
    const pg::Conn conn =
        pg::connect(pg::libpq_conninfo(backend, step.database, "pgdual fleet flip"),
                    backend.connect_timeout, cancelled_, error);
    const char* store = to_new ? "old" : "new";
    if (!conn) return fmt::format("{}: the {} store: {}", step.database, store, error);
    const pg::Reply reply =
        cdc::run_query(conn.get(),
                       "SELECT pg_catalog.pg_is_in_recovery(), "
                       "pg_catalog.current_setting('default_transaction_read_only')",
                       {}, cancelled_);
    if (!reply.ok) return fmt::format("{}: the {} store: {}", step.database, store, reply.error);
    if (reply.value(0, 0) == "t" || reply.value(0, 1) == "on") {
      return fmt::format(
          "{}: the {} store does not accept writes (in recovery or read-only), so a rollback "
          "could not write it",
          step.database, store);
    }
    return "";
  }

  FlipOutcome abort(const std::string& reason) {
    std::string error;
    // The replication goes back first, while the fleet still waits: members resume as soon as
    // they read `aborted`, and their writes must find it running old -> new again.
    for (auto& step : steps_) {
      if (!step.switched) continue;
      // The fleet resumes on the old primaries: the replication goes back with it.
      const bool to_new = step.to == routing::Store::new_store;
      const auto back = cdc::switch_direction(
          config_, step.database, to_new ? cdc::Direction::forward : cdc::Direction::reverse,
          config_.migration.cutover.pause_timeout, cancelled_);
      if (!back.ok) {
        spdlog::error(
            "fleet flip {}: aborted, but the replication of {} could not be turned back: {} "
            "(run pgdual cdc {} --yes)",
            id_, step.database, back.error, to_new ? "rollback" : "cutover");
      }
    }
    move_flip(conn_.get(), schema_, id_, {FlipState::pausing, FlipState::flipping},
              FlipState::aborted, reason, error);
    spdlog::error("fleet flip {}: ABORTED: {}; every instance resumes on the previous phases", id_,
                  reason);
    return finished(Result::aborted, reason);
  }

  FlipOutcome busy(const std::string& reason) {
    FlipOutcome outcome;
    outcome.result = Result::busy;
    outcome.reason = reason;
    return outcome;
  }

  FlipOutcome finished(Result result, std::string reason) {
    FlipOutcome outcome;
    outcome.result = result;
    outcome.id = id_;
    outcome.reason = std::move(reason);
    outcome.members.assign(members_.begin(), members_.end());
    outcome.paused_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    return outcome;
  }

  const FlipRequest& request_;
  const config::Config& config_;
  const std::string& schema_;
  const pg::Cancelled& cancelled_;
  pg::Conn conn_;
  std::set<std::string> members_;
  std::vector<DatabaseStep> steps_;
  std::int64_t id_ = 0;
  Clock::time_point started_;
  Clock::time_point next_touch_{};
};

}  // namespace

FlipOutcome run_fleet_flip(const FlipRequest& request, const pg::Cancelled& cancelled) {
  return Coordinator(request, cancelled).run();
}

std::string_view to_string(FlipOutcome::Result result) {
  switch (result) {
    case Result::done:
      return "done";
    case Result::already:
      return "already";
    case Result::busy:
      return "busy";
    case Result::aborted:
      return "aborted";
  }
  return "aborted";
}

}  // namespace pgdual::cutover
