// pgdual: a PostgreSQL wire-protocol proxy for zero-downtime migrations with
// the dual-write pattern. This file only parses the command line.

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "config/default_config.hpp"
#include "config/loader.hpp"
#include "jobs/journal/journal_admin.hpp"
#include "jobs/sequences/sequence_sync.hpp"
#include "proxy/server/server.hpp"

namespace {

constexpr const char* kUsage = R"(usage:
  pgdual run [--config FILE]     run the proxy (without --config: the embedded demo config)
  pgdual check-config FILE       validate a config file and exit (0 valid, 1 invalid)
  pgdual sequences sync --config FILE [--database DB] [--headroom N] [--dry-run]
  pgdual journal status --config FILE [--database DB]
  pgdual journal purge --config FILE [--database DB] [--dead-letter]
                                 set every sequence of the new store to the old store's
                                 value + N (default 1000); run it before cutover
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
  for (const auto& warning : warnings)
    std::fprintf(stderr, "%s: warning: %s\n", source.c_str(), warning.c_str());
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
  auto result =
      path.empty() ? pgdual::config::load_config_string(pgdual::config::embedded_demo_config(), ".")
                   : pgdual::config::load_config_file(path);
  const std::string source = path.empty() ? "embedded config" : path;
  if (!result.ok()) return print_errors(result.errors, source);
  print_warnings(result.warnings, source);
  pgdual::proxy::Server server(std::move(*result.config), path);
  return server.run();
}

int sequences_sync(int argc, char** argv) {
  std::string path;
  pgdual::proxy::SequenceSyncOptions options;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dry-run") {
      options.dry_run = true;
    } else if (i + 1 < argc && arg == "--config") {
      path = argv[++i];
    } else if (i + 1 < argc && arg == "--database") {
      options.database = argv[++i];
    } else if (i + 1 < argc && arg == "--headroom") {
      try {
        options.headroom = std::stoll(argv[++i]);
      } catch (...) {
        options.headroom = -1;
      }
      if (options.headroom < 0) {
        std::fprintf(stderr, "--headroom: expected a number >= 0\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "sequences sync needs --config FILE\n");
    return 2;
  }
  auto result = pgdual::config::load_config_file(path);
  if (!result.ok()) return print_errors(result.errors, path);
  const auto report = pgdual::proxy::sync_sequences(*result.config, options);
  if (!report.error.empty()) {
    std::fprintf(stderr, "pgdual sequences sync: %s\n", report.error.c_str());
    return 1;
  }
  for (const auto& line : report.lines) {
    std::printf("%s\told=%s\tnew=%s%s%s\n", line.sequence.c_str(),
                line.old_value.empty() ? "(unused)" : line.old_value.c_str(),
                line.new_value.c_str(), line.error.empty() ? "" : "\tFAILED: ", line.error.c_str());
  }
  std::printf("%zu sequences %s\n", report.lines.size(),
              options.dry_run ? "would be set (dry run)" : "processed");
  return report.ok() ? 0 : 1;
}

int journal_command(int argc, char** argv) {
  const std::string command = argv[2];
  std::string path;
  pgdual::proxy::JournalAdminOptions options;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dead-letter" && command == "purge") {
      options.dead_letter = true;
    } else if (i + 1 < argc && arg == "--config") {
      path = argv[++i];
    } else if (i + 1 < argc && arg == "--database") {
      options.database = argv[++i];
    } else {
      std::fprintf(stderr, "unknown argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "journal %s needs --config FILE\n", command.c_str());
    return 2;
  }
  auto result = pgdual::config::load_config_file(path);
  if (!result.ok()) return print_errors(result.errors, path);
  const auto report = command == "purge" ? pgdual::proxy::journal_purge(*result.config, options)
                                         : pgdual::proxy::journal_status(*result.config, options);
  for (const auto& line : report.lines) std::printf("%s\n", line.c_str());
  if (!report.error.empty()) {
    std::fprintf(stderr, "pgdual journal %s: %s\n", command.c_str(), report.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "journal") == 0 &&
      (std::strcmp(argv[2], "status") == 0 || std::strcmp(argv[2], "purge") == 0)) {
    return journal_command(argc, argv);
  }
  if (argc >= 3 && std::strcmp(argv[1], "sequences") == 0 && std::strcmp(argv[2], "sync") == 0) {
    return sequences_sync(argc, argv);
  }
  if (argc >= 2 &&
      (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
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
