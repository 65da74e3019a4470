#pragma once

// One parser per top-level section of the YAML file. Each reads its section through a Section
// (key paths, ${VAR}, types, unknown keys) and checks the rules that concern that section alone;
// rules spanning sections live in config/validate.hpp.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/yaml_section.hpp"

namespace pgdual::config {

// `listen` / `admin_listen`: "host:port". Leaves host and port untouched when absent or invalid.
void parse_listen_address(Section& top, std::string_view key, std::string& host,
                          std::uint16_t& port);
AuthConfig parse_auth(const YAML::Node& node, LoadContext& ctx);
// `auth` already parsed: every admin user must be one of its users.
AdminConfig parse_admin(const YAML::Node& node, const AuthConfig& auth, LoadContext& ctx);
// nullopt when the section is absent or empty.
std::optional<ServerTlsConfig> parse_tls(const YAML::Node& node, LoadContext& ctx);
// path is "backends.old" or "backends.new".
BackendConfig parse_backend(const YAML::Node& node, const std::string& path, LoadContext& ctx);
LimitsConfig parse_limits(const YAML::Node& node, LoadContext& ctx);
LogConfig parse_log(const YAML::Node& node, LoadContext& ctx);
MigrationConfig parse_migration(const YAML::Node& node, LoadContext& ctx);
// migration.mapping, read into m.mapping (config/mapping_parser.cpp).
void parse_mapping(Section& migration, MigrationConfig& m, LoadContext& ctx);

}  // namespace pgdual::config
