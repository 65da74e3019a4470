// Transaction boundaries: between transactions, with nothing in flight, a session takes the
// configuration in force, follows a phase change (a cutover swaps its connections) and
// (re)connects its secondary. A reload never changes the rules under an open transaction
// (invariant 12).

#include <spdlog/spdlog.h>

#include "proxy/session/classifier_context.hpp"
#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {
constexpr auto kMaxSecondaryBackoff = std::chrono::milliseconds(30000);
}  // namespace

bool ClientSession::at_boundary() const {
  return idle() && predicted_status_ == protocol::TxnStatus::idle && !unit_open_ &&
         !shadow_cancelling_;
}

asio::awaitable<bool> ClientSession::take_boundary_configuration() {
  const bool reconnected = co_await refresh_phase_at_boundary();
  if (reconnected) {
    reconfigure_ = true;
    co_return true;
  }
  if (catalog_refresh_due()) {
    catalog_refresh_pending_ = true;
    reconfigure_ = true;
    co_return true;
  }
  co_return false;
}

void ClientSession::take_latest_config() {
  auto latest = runtime_.config();
  if (latest == config_) return;
  config_ = std::move(latest);
  worker_classification_cache(*config_);  // clears it if the classifier options changed
  units_->set_options(config_->classifier_options);
  client_reader_.set_max_message_size(config_->config.limits.max_message_size);
}

asio::awaitable<bool> ClientSession::refresh_phase_at_boundary() {
  // Only between transactions, with nothing in flight.
  take_latest_config();
  const auto& migration = config_->config.migration;
  phase_ = routing::session_phase(migration, identity_);
  auto roles = routing::roles_for(phase_, migration.keep_old_in_sync);
  bool changed = false;

  if (secondary_ && secondary_missed_units_ && !journal_mode() && secondary_->outstanding() == 0) {
    // The leg stayed open while writes went through the journal, so it lacks what those
    // units prepared: a fresh connection gets the session's state replayed instead.
    drop_secondary();
    next_secondary_attempt_ = Clock::now();
    changed = true;
  }

  if (roles.primary != roles_.primary) {
    const bool switched = co_await switch_primary(roles);
    // Still on the other primary: under fleet coordination its writes are refused until the
    // switch happens (session_fleet.cpp).
    primary_behind_ = roles.primary != roles_.primary;
    co_return switched || changed;
  }
  primary_behind_ = false;
  roles_ = roles;

  if (!roles_.secondary || (outbox() && migration.journal.enabled)) {
    if (secondary_) {
      // Rolled back to a phase without a secondary (or outbox: the relay writes it): stop
      // writing it from this session.
      drop_secondary();
      co_return true;
    }
    co_return changed;
  }
  if (secondary_usable() || Clock::now() < next_secondary_attempt_ || journal_mode())
    co_return changed;
  const bool connected = co_await connect_secondary(*roles_.secondary);
  co_return connected || changed;
}

asio::awaitable<bool> ClientSession::switch_primary(routing::PhaseRoles roles) {
  // Cutover (or its rollback): the other store becomes primary. A leg that followed every
  // write holds the same session state; one that missed units (they went through the
  // journal) or none at all (outbox) is replaced by a fresh connection with the state
  // replayed. False: the switch waits for a later boundary.
  if (secondary_ && secondary_missed_units_ && secondary_->outstanding() == 0) drop_secondary();
  if (!secondary_usable()) {
    // Open one now; the switch happens at a later boundary, once the new connection has
    // the session's state (its replay runs when the pumps restart).
    const bool connected = co_await connect_secondary(roles.primary);
    if (connected) co_return true;
    spdlog::warn(
        "phase {} wants the other store as primary, but this session has no healthy "
        "connection to it; the switch waits",
        config::to_string(phase_));
    co_return false;
  }
  if (!secondary_missed_units_ && secondary_->outstanding() != 0 &&
      config_->config.migration.cutover.coordination == config::Coordination::fleet) {
    // The fleet switched together: rather than go on in the old order until a later
    // boundary, wait (bounded) for the leg to answer what it still owes, then switch.
    asio::steady_timer pause(co_await asio::this_coro::executor);
    const auto until = Clock::now() + config_->config.limits.secondary_timeout;
    while (secondary_usable() && secondary_->outstanding() != 0 && Clock::now() < until) {
      pause.expires_after(std::chrono::milliseconds(1));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!secondary_usable()) co_return false;
  }
  if (secondary_missed_units_ || secondary_->outstanding() != 0) co_return false;
  auto old_primary = std::move(primary_);
  primary_ = std::unique_ptr<BackendConnection>(secondary_->release_connection());
  secondary_ = std::make_unique<SecondaryLeg>(std::move(old_primary));
  commit_tickets_.clear();
  watch_commit_order();
  roles_ = roles;
  const auto& migration = config_->config.migration;
  if (!roles_.secondary || (outbox() && migration.journal.enabled)) drop_secondary();
  register_cancel_targets();
  catalog_generation_ = 0;  // the new primary's catalog entry is looked up at the next boundary
  spdlog::info("session switched primary to the {} store (phase {})",
               roles_.primary == routing::Store::old_store ? "old" : "new",
               config::to_string(phase_));
  co_return true;
}

void ClientSession::drop_secondary() {
  if (!secondary_) return;
  secondary_->mark_broken("closed by pgdual");
  secondary_->take_failure_report();  // not a failure of the secondary
  runtime_.metrics().backend(secondary_->connection().role()).connections->Decrement();
  secondary_->connection().stream().close();
  secondary_.reset();
  commit_tickets_.clear();
  secondary_missed_units_ = false;
  register_cancel_targets();
}

asio::awaitable<bool> ClientSession::connect_secondary(routing::Store store) {
  // (Re)connect the secondary, with backoff while it stays down.
  BackendFailure failure;
  auto connection = co_await open_backend(store, failure);
  if (!connection) {
    runtime_.metrics().secondary_failures(metrics::SecondaryFailure::connect).Increment();
    secondary_backoff_ = std::min(
        kMaxSecondaryBackoff, std::max(std::chrono::milliseconds(1000), secondary_backoff_ * 2));
    next_secondary_attempt_ = Clock::now() + secondary_backoff_;
    spdlog::warn("secondary still unavailable (next attempt in {} ms): {}",
                 secondary_backoff_.count(),
                 failure.server_error ? failure.server_error->message : failure.reason);
    co_return false;
  }
  if (secondary_)
    runtime_.metrics().backend(secondary_->connection().role()).connections->Decrement();
  secondary_ = std::make_unique<SecondaryLeg>(std::move(connection));
  commit_tickets_.clear();
  watch_commit_order();
  secondary_missed_units_ = false;
  secondary_backoff_ = std::chrono::milliseconds(0);
  if (auto replay = secondary_state_replay(); !replay.empty()) {
    // A new connection mid-session: give it the session's prepared
    // statements and settings before any unit that refers to them.
    secondary_->enqueue(next_unit_++, EntryPurpose::control, std::move(replay), true);
  }
  register_cancel_targets();
  spdlog::info("secondary connection (re)established");
  co_return true;
}

}  // namespace pgdual::proxy
