#include "proxy/server/cutover_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>

#include "cutover/stats_publisher.hpp"
#include "routing/primary_changes.hpp"

namespace pgdual::proxy {

namespace {

std::vector<std::string> databases_of(const std::vector<routing::PrimaryChange>& changes,
                                      bool into_new_only, const config::Config& next,
                                      const std::set<std::string>& seen) {
  std::set<std::string> databases;
  bool everywhere = false;
  for (const auto& change : changes) {
    if (into_new_only && change.after != routing::Store::new_store) continue;
    if (change.database) {
      databases.insert(*change.database);
    } else {
      everywhere = true;
    }
  }
  if (everywhere) {
    databases.insert(seen.begin(), seen.end());
    if (seen.empty()) databases.insert(cutover::control_database(next));
  }
  return {databases.begin(), databases.end()};
}

}  // namespace

std::vector<std::string> databases_entering_cutover(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen) {
  // A scope enters cutover when the new store becomes its primary: cutover itself, and cleanup
  // reached straight from a phase before it.
  return databases_of(routing::primary_changes(running.migration, next.migration), true, next,
                      seen);
}

std::vector<std::string> databases_changing_primary(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen) {
  return databases_of(routing::primary_changes(running.migration, next.migration), false, next,
                      seen);
}

boost::asio::awaitable<cutover::GateReport> evaluate_gate_async(
    const config::Config& config, const std::vector<std::string>& databases) {
  auto result = std::async(std::launch::async, [config, databases] {
    return cutover::evaluate_gate(config, databases, {});
  });
  co_await wait_ready(result);
  co_return result.get();
}

}  // namespace pgdual::proxy
