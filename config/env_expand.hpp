#pragma once

// ${VAR} substitution in configuration values. Pure: the environment is passed in as a lookup so
// that tests need not touch the process environment.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pgdual::config {

// Returns the variable's value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Looks names up with ::getenv.
EnvLookup process_environment();

struct ExpandResult {
  std::string value;            // the expanded text (valid only when error is empty)
  std::string error;            // why expansion failed; never contains a variable's value
  bool used_reference = false;  // at least one ${VAR} was substituted
};

// Replaces every ${NAME} (NAME: a letter or '_', then letters, digits or '_') with the variable's
// value; "$${" stands for a literal "${". Any other '$' is kept as it is. A reference to an unset
// variable, an unterminated "${" or an invalid name is an error. Substituted text is not expanded
// again.
ExpandResult expand_env(std::string_view text, const EnvLookup& lookup);

}  // namespace pgdual::config
