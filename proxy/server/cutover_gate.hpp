#pragma once
// The cutover gate on a configuration reload (docs/cutover.md, "The gate"): a reload that moves
// some scope (migration.phase, a table, a tenant rule) into the cutover phase is applied only
// when cutover::evaluate_gate passes for the databases it concerns, unless
// migration.cutover.force. The gate's blocking queries run on a thread of their own; the
// control loop awaits them.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
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

// evaluate_gate off the calling thread; the coroutine resumes once it is done.
boost::asio::awaitable<cutover::GateReport> evaluate_gate_async(
    boost::asio::any_io_executor executor, config::Config config,
    std::vector<std::string> databases);

}  // namespace pgdual::proxy
