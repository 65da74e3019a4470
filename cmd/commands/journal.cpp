// `pgdual journal status|purge --config FILE [--database DB]` (purge also [--dead-letter]): runs
// jobs/journal/journal_admin and prints its lines.

#include <cstdio>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "jobs/journal/journal_admin.hpp"

namespace pgdual::cmd {
namespace {

using JournalJob = jobs::JournalAdminReport (*)(const config::Config&,
                                                const jobs::JournalAdminOptions&);

// `verb` is "status" or "purge"; only purge takes --dead-letter.
Exit run_journal_job(const char* verb, JournalJob job, Args words) {
  const bool is_purge = std::string(verb) == "purge";
  std::string path;
  jobs::JournalAdminOptions options;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--database", options.database)) continue;
    if (is_purge && args.flag("--dead-letter")) {
      options.dead_letter = true;
    } else {
      return unknown_argument(args.word());
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "journal %s needs --config FILE\n", verb);
    return 2;
  }
  auto result = config::load_config_file(path);
  if (!result.ok()) return print_config_errors(result.errors, path);
  const auto report = job(*result.config, options);
  for (const auto& line : report.lines) std::printf("%s\n", line.c_str());
  if (!report.error.empty()) {
    std::fprintf(stderr, "pgdual journal %s: %s\n", verb, report.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

Exit journal_status_command(Args args) {
  return run_journal_job("status", jobs::journal_status, args);
}

Exit journal_purge_command(Args args) {
  return run_journal_job("purge", jobs::journal_purge, args);
}

}  // namespace pgdual::cmd
