// pgdual: a PostgreSQL wire-protocol proxy for zero-downtime migrations with
// the dual-write pattern. This file only parses the command line.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "config/default_config.hpp"
#include "config/loader.hpp"
#include "proxy/server.hpp"

namespace {

constexpr const char* kUsage = R"(usage:
  pgdual run [--config FILE]     run the proxy (without --config: the embedded demo config)
  pgdual check-config FILE       validate a config file and exit (0 valid, 1 invalid)
  pgdual --version

Signals: SIGHUP reloads the config file (it is also watched for changes);
SIGTERM/SIGINT stop accepting, let transactions finish, then exit.
)";

int print_errors(const std::vector<std::string>& errors, const std::string& source) {
  for (const auto& error : errors) {
    // Some errors name the file already ("cannot read FILE: ...").
    if (error.find(source) == std::string::npos) std::fprintf(stderr, "%s: ", source.c_str());
    std::fprintf(stderr, "%s\n", error.c_str());
  }
  return 1;
}

void print_warnings(const std::vector<std::string>& warnings, const std::string& source) {
  for (const auto& warning : warnings) std::fprintf(stderr, "%s: warning: %s\n", source.c_str(), warning.c_str());
}

int check_config(const std::string& path) {
  auto result = pgdual::config::load_config_file(path);
  if (!result.ok()) return print_errors(result.errors, path);
  print_warnings(result.warnings, path);
  std::printf("%s: configuration is valid (phase %s)\n", path.c_str(),
              std::string(pgdual::config::to_string(result.config->migration.phase)).c_str());
  return 0;
}

int run(const std::string& path) {
  auto result = path.empty()
                    ? pgdual::config::load_config_string(pgdual::config::embedded_demo_config(), ".")
                    : pgdual::config::load_config_file(path);
  const std::string source = path.empty() ? "embedded config" : path;
  if (!result.ok()) return print_errors(result.errors, source);
  print_warnings(result.warnings, source);
  pgdual::proxy::Server server(std::move(*result.config), path);
  return server.run();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
    std::printf("pgdual %s\n", PGDUAL_VERSION);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "check-config") == 0) return check_config(argv[2]);
  if (argc >= 2 && std::strcmp(argv[1], "run") == 0) {
    if (argc == 2) return run("");
    if (argc == 4 && std::strcmp(argv[2], "--config") == 0) return run(argv[3]);
  }
  if (argc == 3 && std::strcmp(argv[1], "--config") == 0) return run(argv[2]);
  std::fputs(kUsage, argc >= 2 && std::strcmp(argv[1], "--help") == 0 ? stdout : stderr);
  return argc >= 2 && std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
