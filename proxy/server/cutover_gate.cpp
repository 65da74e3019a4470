#include "proxy/server/cutover_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>

#include "cutover/stats_publisher.hpp"

namespace pgdual::proxy {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);

bool same_match(const config::TenantMatch& a, const config::TenantMatch& b) {
  return a.database == b.database && a.user == b.user && a.application_name == b.application_name;
}

// The phase a table had under `migration` (its entry, else migration.phase).
config::Phase table_phase(const config::MigrationConfig& migration, const std::string& table) {
  const auto found = migration.tables.find(table);
  return found == migration.tables.end() ? migration.phase : found->second;
}

}  // namespace

std::vector<std::string> databases_entering_cutover(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen) {
  using config::Phase;
  const auto& before = running.migration;
  const auto& after = next.migration;
  std::set<std::string> databases;
  bool everywhere = before.phase != Phase::cutover && after.phase == Phase::cutover;
  for (const auto& [table, phase] : after.tables) {
    everywhere = everywhere || (phase == Phase::cutover && table_phase(before, table) != phase);
  }
  for (const auto& rule : after.tenants) {
    if (rule.phase != Phase::cutover) continue;
    bool was_cutover = false;
    for (const auto& old_rule : before.tenants) {
      if (same_match(old_rule.match, rule.match)) {
        was_cutover = old_rule.phase == Phase::cutover;
        break;
      }
    }
    if (was_cutover) continue;
    if (rule.match.database) {
      databases.insert(*rule.match.database);
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

boost::asio::awaitable<cutover::GateReport> evaluate_gate_async(
    boost::asio::any_io_executor executor, config::Config config,
    std::vector<std::string> databases) {
  auto result = std::async(std::launch::async,
                           [config = std::move(config), databases = std::move(databases)] {
                             return cutover::evaluate_gate(config, databases, {});
                           });
  boost::asio::steady_timer timer(executor);
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    timer.expires_after(kPoll);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  co_return result.get();
}

}  // namespace pgdual::proxy
