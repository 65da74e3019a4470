// `pgdual check-config [--database DB] FILE`: validates a config file and exits (0 valid, 1
// invalid), printing the warnings a start would log. With --database, migration.mapping is
// checked against both stores too (cmd/commands/mapping.cpp).

#include <cstdio>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"

namespace pgdual::cmd {

Exit check_config_command(Args words) {
  std::string database;
  std::string path;
  bool check_stores = false;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--database", database)) {
      check_stores = true;
    } else if (path.empty() && !args.word().starts_with("--")) {
      path = args.word();  // the one positional word: the file
      args.flag(path);
    } else {
      return unknown_argument(args.word());
    }
  }
  if (path.empty()) return Exit::usage_error();
  auto result = config::load_config_file(path);
  if (!result.ok()) return print_config_errors(result.errors, path);
  print_config_warnings(result.warnings, path);
  if (check_stores && !result.config->migration.mapping.empty()) {
    if (check_mapping_on_stores(*result.config, database, jobs::mapping::MappingAction::check) !=
        0) {
      return 1;
    }
  }
  std::printf("%s: configuration is valid (phase %s)\n", path.c_str(),
              std::string(config::to_string(result.config->migration.phase)).c_str());
  return 0;
}

}  // namespace pgdual::cmd
