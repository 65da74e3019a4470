// `pgdual check-config FILE`: validates a config file and exits (0 valid, 1 invalid), printing
// the warnings a start would log.

#include <cstdio>
#include <string>

#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"

namespace pgdual::cmd {

Exit check_config_command(Args args) {
  if (args.size() != 1) return Exit::usage_error();
  const std::string& path = args[0];
  auto result = config::load_config_file(path);
  if (!result.ok()) return print_config_errors(result.errors, path);
  print_config_warnings(result.warnings, path);
  std::printf("%s: configuration is valid (phase %s)\n", path.c_str(),
              std::string(config::to_string(result.config->migration.phase)).c_str());
  return 0;
}

}  // namespace pgdual::cmd
