#pragma once
// The config in force as key/value rows, for the admin console's SHOW CONFIG
// (docs/operations.md): every key by its documented path, with whether a change needs a restart.
// Secrets never appear: a password is shown as "(set)" or "(none)".

#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgdual::config {

struct ConfigRow {
  std::string key;
  std::string value;
  bool restart = false;  // the key is restart-only (config/restart_keys.cpp)
};

std::vector<ConfigRow> describe(const Config& config);

// A tenant rule's match as "database=a,user=b,application_name=c" (the parts it has).
std::string describe_match(const TenantMatch& match);

// The documented paths of the restart-only keys.
std::vector<std::string> restart_only_key_paths();

}  // namespace pgdual::config
