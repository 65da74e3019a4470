// `pgdual sequences sync --config FILE [--database DB] [--headroom N] [--dry-run]`: runs
// cutover/sequence_sync and prints one line per sequence, then a count.

#include <cstdint>
#include <cstdio>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "cutover/sequence_sync.hpp"

namespace pgdual::cmd {
namespace {

// A headroom as --headroom takes it; -1 when it is not a number >= 0.
std::int64_t parse_headroom(const std::string& text) {
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

void print_report(const cutover::SequenceSyncReport& report, bool dry_run) {
  for (const auto& line : report.lines) {
    std::printf("%s\told=%s\tnew=%s%s%s\n", line.sequence.c_str(),
                line.old_value.empty() ? "(unused)" : line.old_value.c_str(),
                line.new_value.c_str(), line.error.empty() ? "" : "\tFAILED: ", line.error.c_str());
  }
  std::printf("%zu sequences %s\n", report.lines.size(),
              dry_run ? "would be set (dry run)" : "processed");
}

}  // namespace

Exit sequences_sync_command(Args words) {
  std::string path;
  std::string headroom;
  cutover::SequenceSyncOptions options;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--database", options.database)) continue;
    if (args.flag("--dry-run")) {
      options.dry_run = true;
    } else if (args.value("--headroom", headroom)) {
      options.headroom = parse_headroom(headroom);
      if (options.headroom < 0) {
        std::fprintf(stderr, "--headroom: expected a number >= 0\n");
        return 2;
      }
    } else {
      return unknown_argument(args.word());
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "sequences sync needs --config FILE\n");
    return 2;
  }
  auto result = config::load_config_file(path);
  if (!result.ok()) return print_config_errors(result.errors, path);
  const auto report = cutover::sync_sequences(*result.config, options);
  if (!report.error.empty()) {
    std::fprintf(stderr, "pgdual sequences sync: %s\n", report.error.c_str());
    return 1;
  }
  print_report(report, options.dry_run);
  return report.ok() ? 0 : 1;
}

}  // namespace pgdual::cmd
