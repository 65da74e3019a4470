#include "config/phase_assignment.hpp"

#include <yaml-cpp/yaml.h>

namespace pgdual::config {

namespace {

void emit_optional(YAML::Emitter& out, const char* key, const std::optional<std::string>& value) {
  if (value) out << YAML::Key << key << YAML::Value << *value;
}

Phase phase_of(const YAML::Node& node, const std::string& where) {
  const auto phase = parse_phase(node.as<std::string>());
  if (!phase) throw std::runtime_error(where + ": not a phase: " + node.as<std::string>());
  return *phase;
}

std::optional<std::string> optional_of(const YAML::Node& map, const char* key) {
  if (!map[key]) return std::nullopt;
  return map[key].as<std::string>();
}

}  // namespace

PhaseAssignment phase_assignment(const MigrationConfig& migration) {
  return {migration.phase, migration.keep_old_in_sync, migration.tables, migration.tenants};
}

MigrationConfig with_assignment(MigrationConfig migration, const PhaseAssignment& assignment) {
  migration.phase = assignment.phase;
  migration.keep_old_in_sync = assignment.keep_old_in_sync;
  migration.tables = assignment.tables;
  migration.tenants = assignment.tenants;
  return migration;
}

std::string to_yaml(const PhaseAssignment& assignment) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "phase" << YAML::Value << std::string(to_string(assignment.phase));
  out << YAML::Key << "keep_old_in_sync" << YAML::Value << assignment.keep_old_in_sync;
  out << YAML::Key << "tables" << YAML::Value << YAML::BeginMap;
  for (const auto& [table, phase] : assignment.tables) {
    out << YAML::Key << table << YAML::Value << std::string(to_string(phase));
  }
  out << YAML::EndMap;
  out << YAML::Key << "tenants" << YAML::Value << YAML::BeginSeq;
  for (const auto& rule : assignment.tenants) {
    out << YAML::BeginMap;
    emit_optional(out, "database", rule.match.database);
    emit_optional(out, "user", rule.match.user);
    emit_optional(out, "application_name", rule.match.application_name);
    out << YAML::Key << "phase" << YAML::Value << std::string(to_string(rule.phase));
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return out.c_str();
}

std::optional<PhaseAssignment> parse_phase_assignment(std::string_view yaml, std::string& error) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap() || !root["phase"] || !root["keep_old_in_sync"] || !root["tables"] ||
        !root["tenants"]) {
      error = "not a phase assignment (phase, keep_old_in_sync, tables and tenants expected)";
      return std::nullopt;
    }
    PhaseAssignment assignment;
    assignment.phase = phase_of(root["phase"], "phase");
    assignment.keep_old_in_sync = root["keep_old_in_sync"].as<bool>();
    for (const auto& entry : root["tables"]) {
      const auto table = entry.first.as<std::string>();
      assignment.tables[table] = phase_of(entry.second, "tables." + table);
    }
    for (const auto& rule : root["tenants"]) {
      TenantRule tenant;
      tenant.match.database = optional_of(rule, "database");
      tenant.match.user = optional_of(rule, "user");
      tenant.match.application_name = optional_of(rule, "application_name");
      tenant.phase = phase_of(rule["phase"], "tenants");
      assignment.tenants.push_back(std::move(tenant));
    }
    return assignment;
  } catch (const std::exception& e) {
    error = std::string("unreadable phase assignment: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace pgdual::config
