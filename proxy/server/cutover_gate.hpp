#pragma once
// The cutover gate on a configuration reload (docs/cutover.md, "The gate"): a reload that moves
// some scope (migration.phase, a table, a tenant rule) into the cutover phase is applied only
// when cutover::evaluate_gate passes for the databases it concerns, unless
// migration.cutover.force. The gate's blocking queries run on a thread of their own; the
// control loop awaits them.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "cutover/gate.hpp"

namespace pgdual::proxy {

// The databases whose gate a reload from `running` to `next` must pass; empty when it moves
// nothing into cutover, that is makes the new store primary for no scope that did not have it
// (cutover, or cleanup straight from an earlier phase; a table entry or tenant rule added,
// changed or removed). A tenant rule names its database; migration.phase and a table entry
// concern every database this instance has served (`seen`), else the control database.
std::vector<std::string> databases_entering_cutover(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen);

// Every database a reload gives another primary for some scope (either direction): a fleet flip
// covers these.
std::vector<std::string> databases_changing_primary(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen);

// Resumes once `result` (blocking work on a thread of its own, std::async) is ready; the control
// loop goes on meanwhile. The future is passed by reference and the work is started by the
// caller: GCC 12 mis-copies a lambda with non-trivial captures passed by value into a coroutine.
template <class T>
boost::asio::awaitable<void> wait_ready(std::future<T>& result) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

// evaluate_gate off the calling thread; the coroutine resumes once it is done.
boost::asio::awaitable<cutover::GateReport> evaluate_gate_async(
    const config::Config& config, const std::vector<std::string>& databases);

}  // namespace pgdual::proxy
