// `pgdual run [--config FILE]`: loads the config (the embedded demo config without --config) and
// runs the proxy until SIGTERM/SIGINT.

#include <string>
#include <utility>

#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/default_config.hpp"
#include "config/loader.hpp"
#include "proxy/server/server.hpp"

namespace pgdual::cmd {
namespace {

int run_proxy(const std::string& path) {
  auto result = path.empty() ? config::load_config_string(config::embedded_demo_config(), ".")
                             : config::load_config_file(path);
  const std::string source = path.empty() ? "embedded config" : path;
  if (!result.ok()) return print_config_errors(result.errors, source);
  print_config_warnings(result.warnings, source);
  std::optional<std::vector<std::string>> lossy;
  if (!result.config->migration.mapping.empty()) {
    const auto verified = verify_mapping(*result.config);
    if (verified.exit_code != 0) return verified.exit_code;
    lossy = verified.lossy;
  }
  proxy::Server server(std::move(*result.config), path);
  server.set_mapping_lossy_columns(std::move(lossy));
  return server.run();
}

}  // namespace

Exit run_command(Args args) {
  if (args.empty()) return run_proxy("");
  if (args.size() == 2 && args[0] == "--config") return run_proxy(args[1]);
  return Exit::usage_error();
}

Exit run_legacy_config(Args args) {
  if (args.size() != 1) return Exit::usage_error();
  return run_proxy(args[0]);
}

}  // namespace pgdual::cmd
