#pragma once
// The part of migration that decides which store is primary for each scope: migration.phase,
// keep_old_in_sync, the table entries and the tenant rules. Under fleet coordination
// (docs/cutover.md, "The fleet flip") the instances agree on it through the control tables, so
// it travels as text: YAML written and read here. Plain data, like the rest of config/.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pgdual::config {

struct PhaseAssignment {
  Phase phase = Phase::prepare;
  bool keep_old_in_sync = true;
  std::map<std::string, Phase> tables;
  std::vector<TenantRule> tenants;

  bool operator==(const PhaseAssignment&) const = default;
};

PhaseAssignment phase_assignment(const MigrationConfig& migration);
// `migration` with the assignment's phases in place of its own; every other key stays.
MigrationConfig with_assignment(MigrationConfig migration, const PhaseAssignment& assignment);

std::string to_yaml(const PhaseAssignment& assignment);
// nullopt with `error` set when the text is not an assignment to_yaml wrote.
std::optional<PhaseAssignment> parse_phase_assignment(std::string_view yaml, std::string& error);

}  // namespace pgdual::config
