#include "cmd/commands/config_report.hpp"

#include <cstdio>

namespace pgdual::cmd {

int print_config_errors(const std::vector<std::string>& errors, const std::string& source) {
  for (const auto& error : errors) {
    // Some errors name the file already ("cannot read FILE: ...").
    if (error.find(source) == std::string::npos) std::fprintf(stderr, "%s: ", source.c_str());
    std::fprintf(stderr, "%s\n", error.c_str());
  }
  return 1;
}

void print_config_warnings(const std::vector<std::string>& warnings, const std::string& source) {
  for (const auto& warning : warnings)
    std::fprintf(stderr, "%s: warning: %s\n", source.c_str(), warning.c_str());
}

}  // namespace pgdual::cmd
