// The data path of a client session: three pumps run together until one ends (client gone,
// backend gone, Terminate, or a boundary that swaps connections):
//   - pump_client (session_pump_client.cpp): client -> primary, and each unit to the secondary
//     per the migration phase (session_dispatch.cpp);
//   - pump_primary (session_pump_primary.cpp): primary -> client; a unit ends in
//     finish_primary_unit (session_finish_unit.cpp);
//   - pump_secondary (here): the secondary's replies, consumed for comparison
//     (session_outcomes.cpp) and never forwarded.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/net/use_tuple.hpp"
#include "proxy/session/classifier_context.hpp"
#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> ClientSession::relay() {
  auto& cache = worker_classification_cache(*config_);
  units_ = std::make_unique<routing::UnitBuilder>(cache, config_->classifier_options);
  shadow_timer_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  primary_progress_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  for (;;) {
    reconfigure_ = false;
    // The last round's pump_primary set it when it was cancelled: the (possibly new) primary
    // answers again, so values queries must wait for it (a cutover's first write would
    // otherwise go out unrewritten).
    primary_gone_ = false;
    // The pumps run together; when one ends (client gone, backend gone,
    // Terminate, or a phase change that swaps connections) the others are
    // cancelled. A reconfiguration happens only while idle, so nothing is in
    // flight when the pumps restart.
    co_await (pump_client() || pump_primary() || pump_secondary() || shadow_watchdog());
    if (shadow_cancelling_ && secondary_) {
      // The watchdog was stopped in the middle of a cancel (the client left).
      shadow_cancelling_ = false;
      secondary_->hold_for_cancel(false);
    }
    if (!reconfigure_) co_return;
    if (catalog_refresh_pending_) {
      catalog_refresh_pending_ = false;
      co_await load_catalog();
      if (!pending_client_bytes_.empty()) {
        const std::string bytes = std::move(pending_client_bytes_);
        pending_client_bytes_.clear();
        if (co_await client_.write_all(bytes)) co_return;
      }
    }
  }
}

asio::awaitable<void> ClientSession::let_secondary_finish() {
  // The client left. What the primary already did and the secondary has not
  // applied yet (under async, the client never waited for it) is finished
  // now, within the secondary timeout; only then is the connection closed.
  if (!secondary_usable()) co_return;
  co_await secondary_->flush();
  const auto last = secondary_->last_sendable_unit();
  if (!last || secondary_->done_through(*last)) co_return;
  co_await (pump_secondary() ||
            secondary_->wait_through(*last, config_->config.limits.secondary_timeout));
}

asio::awaitable<void> ClientSession::pump_secondary() {
  if (secondary_usable()) {
    co_await secondary_->pump(
        [this](const SecondaryResult& result) { on_secondary_result(result); });
    if (secondary_ && secondary_->broken()) on_secondary_broken();
  }
  // No (more) secondary: idle until the relay is cancelled.
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(use_tuple);
}

}  // namespace pgdual::proxy
