#include "proxy/server/cutover_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>

#include "cutover/stats_publisher.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::proxy {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);

bool same_match(const config::TenantMatch& a, const config::TenantMatch& b) {
  return a.database == b.database && a.user == b.user && a.application_name == b.application_name;
}

}  // namespace

std::vector<std::string> databases_entering_cutover(const config::Config& running,
                                                    const config::Config& next,
                                                    const std::set<std::string>& seen) {
  const auto& before = running.migration;
  const auto& after = next.migration;
  // A scope enters cutover when the new store becomes its primary: cutover itself, and cleanup
  // reached straight from a phase before it.
  const auto enters = [&](config::Phase was, config::Phase will) {
    return routing::roles_for(was, before.keep_old_in_sync).primary != routing::Store::new_store &&
           routing::roles_for(will, after.keep_old_in_sync).primary == routing::Store::new_store;
  };
  std::set<std::string> databases;
  bool everywhere = enters(before.phase, after.phase);
  // Every table either config names: an entry added, changed or removed (it then follows
  // migration.phase).
  std::set<std::string> tables;
  for (const auto& [table, phase] : before.tables) tables.insert(table);
  for (const auto& [table, phase] : after.tables) tables.insert(table);
  for (const auto& table : tables) {
    everywhere = everywhere || enters(routing::table_phase(before, before.phase, table),
                                      routing::table_phase(after, after.phase, table));
  }
  // Every tenant rule either config has; a rule that is gone leaves its sessions to
  // migration.phase.
  const auto rule_phase = [](const config::MigrationConfig& migration,
                             const config::TenantMatch& match) {
    for (const auto& rule : migration.tenants) {
      if (same_match(rule.match, match)) return rule.phase;
    }
    return migration.phase;
  };
  std::vector<config::TenantMatch> matches;
  for (const auto& rule : before.tenants) matches.push_back(rule.match);
  for (const auto& rule : after.tenants) matches.push_back(rule.match);
  for (const auto& match : matches) {
    if (!enters(rule_phase(before, match), rule_phase(after, match))) continue;
    if (match.database) {
      databases.insert(*match.database);
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
