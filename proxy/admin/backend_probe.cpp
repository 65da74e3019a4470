#include "proxy/admin/backend_probe.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <mutex>
#include <utility>

#include "metrics/metrics.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

struct Target {
  std::string host;
  std::uint16_t port = 0;
};

std::size_t index_of(metrics::BackendRole role) {
  return role == metrics::BackendRole::new_backend ? 1 : 0;
}

}  // namespace

namespace detail {

struct BackendProbeState {
  BackendProbeState(asio::io_context& io, metrics::Metrics& metrics)
      : strand_(asio::make_strand(io)), metrics_(metrics), round_timer_(strand_) {}

  asio::strand<asio::io_context::executor_type> strand_;
  metrics::Metrics& metrics_;

  std::mutex targets_mutex_;  // set_targets runs on the reload thread
  std::array<Target, metrics::kBackendRoleCount> targets_;

  std::array<std::atomic<bool>, metrics::kBackendRoleCount> reachable_{};
  std::atomic<metrics::BackendRole> primary_{metrics::BackendRole::old_backend};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  asio::steady_timer round_timer_;  // strand only

  std::array<Target, metrics::kBackendRoleCount> targets() {
    std::lock_guard lock(targets_mutex_);
    return targets_;
  }

  void record(metrics::BackendRole role, const Target& target, bool up) {
    const bool was_up = reachable_[index_of(role)].exchange(up);
    metrics_.backend(role).up->Set(up ? 1.0 : 0.0);
    if (was_up != up) {
      spdlog::log(up ? spdlog::level::info : spdlog::level::warn, "backend {} ({}:{}) is {}",
                  to_string(role), target.host, target.port, up ? "reachable" : "unreachable");
    }
  }
};

}  // namespace detail

namespace {

using detail::BackendProbeState;

// Everything one connect attempt owns, shared with its deadline's handler,
// which may run after the attempt's coroutine has finished.
struct Attempt {
  explicit Attempt(const asio::any_io_executor& ex) : resolver(ex), socket(ex), deadline(ex) {}
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  bool timed_out = false;
};

// One TCP connect to target within kConnectTimeout. The deadline cancels the
// resolver and closes the socket; a name lookup already inside getaddrinfo
// cannot be interrupted and may finish late, but is still reported as down.
asio::awaitable<bool> probe_once(Target target) {
  if (target.host.empty() || target.port == 0) co_return false;
  auto attempt = std::make_shared<Attempt>(co_await asio::this_coro::executor);
  attempt->deadline.expires_after(BackendProbe::kConnectTimeout);
  attempt->deadline.async_wait([attempt](error_code ec) {
    if (ec) return;  // disarmed
    attempt->timed_out = true;
    attempt->resolver.cancel();
    error_code ignored;
    attempt->socket.close(ignored);
  });
  struct Disarm {
    Attempt& attempt;
    ~Disarm() { attempt.deadline.cancel(); }
  } disarm{*attempt};

  // A named local: GCC 12 mishandles temporaries inside co_await expressions.
  const std::string port = std::to_string(target.port);
  auto [resolve_ec, endpoints] =
      co_await attempt->resolver.async_resolve(target.host, port, use_tuple);
  if (resolve_ec || attempt->timed_out) co_return false;
  auto [connect_ec, endpoint] = co_await asio::async_connect(attempt->socket, endpoints, use_tuple);
  if (connect_ec || attempt->timed_out) co_return false;
  error_code ignored;
  attempt->socket.shutdown(tcp::socket::shutdown_both, ignored);
  attempt->socket.close(ignored);
  co_return true;
}

asio::awaitable<void> probe_loop(std::shared_ptr<BackendProbeState> state) {
  using namespace asio::experimental::awaitable_operators;
  while (!state->stopped_) {
    const auto targets = state->targets();
    const auto [old_up, new_up] = co_await (probe_once(targets[0]) && probe_once(targets[1]));
    if (state->stopped_) break;
    state->record(metrics::BackendRole::old_backend, targets[0], old_up);
    state->record(metrics::BackendRole::new_backend, targets[1], new_up);

    state->round_timer_.expires_after(BackendProbe::kInterval);
    co_await state->round_timer_.async_wait(use_tuple);  // cancelled by set_targets() and stop()
  }
}

}  // namespace

BackendProbe::BackendProbe(asio::io_context& io, metrics::Metrics& metrics)
    : state_(std::make_shared<BackendProbeState>(io, metrics)) {
  for (std::size_t i = 0; i < metrics::kBackendRoleCount; ++i) {
    metrics.backend(static_cast<metrics::BackendRole>(i)).up->Set(0);
  }
}

BackendProbe::~BackendProbe() { stop(); }

void BackendProbe::set_targets(std::string old_host, std::uint16_t old_port, std::string new_host,
                               std::uint16_t new_port) {
  {
    std::lock_guard lock(state_->targets_mutex_);
    state_->targets_[0] = Target{std::move(old_host), old_port};
    state_->targets_[1] = Target{std::move(new_host), new_port};
  }
  if (state_->started_ && !state_->stopped_) {
    auto state = state_;
    asio::post(state->strand_, [state] { state->round_timer_.cancel(); });
  }
}

void BackendProbe::set_primary(metrics::BackendRole primary) { state_->primary_.store(primary); }

void BackendProbe::start() {
  if (state_->started_.exchange(true) || state_->stopped_) return;
  asio::co_spawn(state_->strand_, probe_loop(state_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("backend probe stopped by exception: {}", ex.what());
    } catch (...) {
      spdlog::error("backend probe stopped by unknown exception");
    }
  });
}

void BackendProbe::stop() {
  if (state_->stopped_.exchange(true)) return;
  auto state = state_;
  asio::post(state->strand_, [state] { state->round_timer_.cancel(); });
}

bool BackendProbe::reachable(metrics::BackendRole role) const {
  return state_->reachable_[index_of(role)].load();
}

Readiness BackendProbe::readiness(bool config_valid) const {
  const bool old_up = reachable(metrics::BackendRole::old_backend);
  const bool new_up = reachable(metrics::BackendRole::new_backend);
  const bool primary_up =
      state_->primary_.load() == metrics::BackendRole::new_backend ? new_up : old_up;

  std::string detail = config_valid ? "" : "config invalid; ";
  detail += old_up ? "old=up" : "old=down";
  detail += new_up ? " new=up" : " new=down";
  return Readiness{config_valid && primary_up, std::move(detail)};
}

}  // namespace pgdual::proxy
