#include "routing/primary_changes.hpp"

#include <set>

namespace pgdual::routing {

namespace {

config::Phase rule_phase(const config::MigrationConfig& migration,
                         const config::TenantMatch& match) {
  for (const auto& rule : migration.tenants) {
    if (rule.match == match) return rule.phase;
  }
  return migration.phase;  // a rule that is gone leaves its sessions to migration.phase
}

}  // namespace

std::vector<PrimaryChange> primary_changes(const config::MigrationConfig& before,
                                           const config::MigrationConfig& after) {
  std::vector<PrimaryChange> changes;
  const auto compare = [&](std::optional<std::string> database, config::Phase was,
                           config::Phase will) {
    const Store from = roles_for(was, before.keep_old_in_sync).primary;
    const Store to = roles_for(will, after.keep_old_in_sync).primary;
    if (from != to) changes.push_back({std::move(database), from, to});
  };
  compare(std::nullopt, before.phase, after.phase);
  // Every table either config names.
  std::set<std::string> tables;
  for (const auto& [table, phase] : before.tables) tables.insert(table);
  for (const auto& [table, phase] : after.tables) tables.insert(table);
  for (const auto& table : tables) {
    compare(std::nullopt, table_phase(before, before.phase, table),
            table_phase(after, after.phase, table));
  }
  // Every tenant rule either config has.
  std::vector<config::TenantMatch> matches;
  for (const auto& rule : before.tenants) matches.push_back(rule.match);
  for (const auto& rule : after.tenants) matches.push_back(rule.match);
  for (const auto& match : matches) {
    compare(match.database, rule_phase(before, match), rule_phase(after, match));
  }
  return changes;
}

}  // namespace pgdual::routing
