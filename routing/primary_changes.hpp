#pragma once
// Which scopes a configuration change gives another primary store: the cutover, its rollback,
// and cleanup reached straight from a phase before cutover. A scope is migration.phase, a table
// entry or a tenant rule, added, changed or removed (a removed one falls back to
// migration.phase). The cutover gate judges the changes towards the new store; under fleet
// coordination every change is one flip of the whole fleet (docs/cutover.md).

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

struct PrimaryChange {
  // The database a tenant rule names; nullopt: every database (migration.phase, a table entry,
  // a rule that matches no database).
  std::optional<std::string> database;
  Store before = Store::old_store;
  Store after = Store::old_store;
};

std::vector<PrimaryChange> primary_changes(const config::MigrationConfig& before,
                                           const config::MigrationConfig& after);

inline bool same_primaries(const config::MigrationConfig& a, const config::MigrationConfig& b) {
  return primary_changes(a, b).empty();
}

}  // namespace pgdual::routing
