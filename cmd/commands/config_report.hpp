#pragma once
// How subcommands report the result of loading a config file: every error on stderr, prefixed
// with where the config came from, and the warnings likewise.

#include <string>
#include <vector>

namespace pgdual::cmd {

// Prints each error as "SOURCE: error" (unless the error names SOURCE already); returns 1.
int print_config_errors(const std::vector<std::string>& errors, const std::string& source);
// Prints each warning as "SOURCE: warning: ...".
void print_config_warnings(const std::vector<std::string>& warnings, const std::string& source);

}  // namespace pgdual::cmd
