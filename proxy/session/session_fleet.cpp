// The fleet flip from a session's side (docs/cutover.md, "The fleet flip"): a session counts
// itself in the fleet hold (proxy/server/fleet_hold.hpp) when a new transaction starts, waits
// there while a flip pauses the instance, and counts itself out once it is back at a
// transaction boundary. Under fleet coordination writes are refused, with a reason, while the
// instance cannot read the fleet's control state, and while this session could not follow the
// primary the fleet's phases give it: a write in the old order would split the stores.

#include <spdlog/spdlog.h>

#include "proxy/net/use_tuple.hpp"
#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {
// A paused session looks again this often; a flip pauses for milliseconds to a few seconds.
constexpr auto kPausePoll = std::chrono::milliseconds(1);
// An operator's PAUSE may last minutes: the look backs off to this, so that a thousand waiting
// sessions do not wake a thousand times a millisecond.
constexpr auto kLongPausePoll = std::chrono::milliseconds(20);
}  // namespace

asio::awaitable<void> ClientSession::enter_fleet_transaction() {
  if (in_fleet_transaction_) co_return;
  auto& hold = runtime_.fleet();
  asio::steady_timer pause(co_await asio::this_coro::executor);
  auto poll = kPausePoll;
  while (!hold.try_enter()) {
    pause.expires_after(poll);
    co_await pause.async_wait(use_tuple);
    if (hold.admin_paused()) poll = std::min(poll * 2, kLongPausePoll);
  }
  in_fleet_transaction_ = true;
}

asio::awaitable<void> ClientSession::settle_shadow_cancel() {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  const auto until = Clock::now() + config_->config.migration.shadow_read.timeout;
  while (shadow_cancelling_ && Clock::now() < until) {
    pause.expires_after(kPausePoll);
    co_await pause.async_wait(use_tuple);
  }
}

void ClientSession::leave_fleet_transaction() {
  if (!in_fleet_transaction_) return;
  in_fleet_transaction_ = false;
  runtime_.fleet().leave();
}

std::string ClientSession::fleet_writes_refused() {
  const auto& cutover = config_->config.migration.cutover;
  if (cutover.coordination != config::Coordination::fleet) return {};
  std::string reason = runtime_.fleet().fenced_reason();
  if (reason.empty() && primary_behind_) {
    reason =
        "this session could not switch to the primary the fleet's phases give it (no healthy "
        "connection to that store yet); it tries again at its next transaction";
  }
  if (reason.empty()) return {};
  runtime_.metrics().cutover().count_fenced_write();
  return "pgdual: writes are refused: " + reason + " (docs/cutover.md, \"The fleet flip\")";
}

}  // namespace pgdual::proxy
