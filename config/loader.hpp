#pragma once

// Loading and validating the YAML configuration. No logging here: the caller decides what to do
// with the errors (refuse to start, keep the running config on reload) and the warnings.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pgdual::config {

struct LoadResult {
  std::optional<Config> config;       // set only when there were no errors
  std::vector<std::string> errors;    // every problem found, "key.path: message"; no secrets
  std::vector<std::string> warnings;  // accepted but risky (e.g. a literal secret in the file)
  bool ok() const { return config.has_value(); }
};

// Reads the file; relative *_file and certificate paths resolve against its directory.
// ${VAR} references are expanded from the process environment.
LoadResult load_config_file(const std::string& path);

// Same, from text; relative paths resolve against base_dir (the current directory when empty).
LoadResult load_config_string(std::string_view yaml, const std::string& base_dir);

// Keys whose change a live reload cannot apply (listen, admin_listen, workers, tls.*,
// auth.method, backends.* except password): the key paths that differ, in a stable order.
std::vector<std::string> keys_needing_restart(const Config& running, const Config& reloaded);

// `next` with every restart-only key set back to its running value (the same table as
// keys_needing_restart).
Config keep_restart_only_keys(const Config& running, Config next);

}  // namespace pgdual::config
