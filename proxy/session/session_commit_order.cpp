// Strategy sync keeps the order in which other sessions see commits (routing/commit_horizon.hpp,
// issue 12 class 2). A COMMIT takes a ticket when it goes to the primary, after the secondary
// caught up with its transaction, and gives it back when the secondary answered that COMMIT;
// a write that ran on the primary reaches the secondary only once every ticket handed out
// before the primary finished it is back. The COMMIT's own secondary entry never waits: its
// transaction is complete on the secondary already, so tickets depend on nothing and the waits
// cannot form a cycle.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

bool ClientSession::keeps_commit_order() const {
  return config_->config.migration.strategy == config::Strategy::sync && secondary_usable();
}

void ClientSession::watch_commit_order() {
  if (!secondary_) return;
  if (!commit_horizon_) commit_horizon_ = runtime_.commit_horizon(identity_.database);
  std::weak_ptr<ClientSession> weak = weak_from_this();
  secondary_->watch_commit_order(commit_horizon_, [weak](SecondaryLeg::CommitGate gate) {
    if (auto self = weak.lock()) self->on_commit_order_blocked(gate);
  });
}

void ClientSession::open_commit_ticket(UnitId unit) {
  // Only while the secondary still has to answer the unit: a wrapped autocommit write was
  // applied there before pgdual's COMMIT went to the primary.
  if (!keeps_commit_order() || !commit_horizon_ || secondary_->done_through(unit)) return;
  // Once per unit: a unit can be both an autocommit write pgdual cannot wrap and one that
  // carries its own COMMIT. (try_emplace would still take a ticket it then never returns.)
  if (commit_tickets_.contains(unit)) return;
  commit_tickets_.emplace(unit, CommitTicket(commit_horizon_, commit_horizon_->open()));
}

SecondaryLeg::CommitGate ClientSession::commit_gate(UnitId unit) const {
  if (!keeps_commit_order() || !commit_horizon_ || commit_tickets_.contains(unit)) return {};
  return {commit_horizon_->issued(), 0};
}

void ClientSession::close_commit_tickets_through(UnitId unit) {
  commit_tickets_.erase(commit_tickets_.begin(), commit_tickets_.upper_bound(unit));
}

void ClientSession::on_commit_order_blocked(SecondaryLeg::CommitGate gate) {
  if (commit_wake_pending_) return;
  commit_wake_pending_ = true;
  runtime_.metrics().commit_order_waits().Increment();
  // The ticket in the way is closed on another session's thread: come back on this one.
  std::weak_ptr<ClientSession> weak = weak_from_this();
  auto executor = client_.socket().get_executor();
  commit_horizon_->notify_when_settled(gate.horizon, gate.own, [weak, executor] {
    asio::post(executor, [weak] {
      auto self = weak.lock();
      if (!self) return;
      self->commit_wake_pending_ = false;
      if (!self->secondary_usable()) return;
      asio::co_spawn(
          self->client_.socket().get_executor(),
          [self]() -> asio::awaitable<void> {
            if (self->secondary_usable()) co_await self->secondary_->flush();
          },
          asio::detached);
    });
  });
}

}  // namespace pgdual::proxy
