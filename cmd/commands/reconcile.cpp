// `pgdual reconcile --config FILE [--database D] [--tables a,b] [--repair dry-run|execute]
// [--max-differences N] [--max-seconds T] [--resume] [--format table|json] [--proof]
// [--proof-dir DIR] [--sql-file FILE] [--workers N] [--chunk-ms MS] [--continuous
// [--interval-seconds S]]`: runs jobs/reconcile. The report goes to stdout, progress to stderr.
// Exit: 0 equal, 1 differences remain (or the run stopped early), 2 an error or a malformed
// command line.

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "jobs/reconcile/reconcile_job.hpp"
#include "jobs/reconcile/report_format.hpp"

namespace pgdual::cmd {
namespace {

namespace reconcile = jobs::reconcile;
using Clock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};

extern "C" void request_reconcile_stop(int signal) {
  stop_requested.store(true);
  std::signal(signal, SIG_DFL);  // a second signal ends the process at once
}

struct Cli {
  std::string path, tables, repair = "dry-run", max_differences, max_seconds, format = "table";
  std::string proof_dir = ".", sql_file, workers, chunk_ms, interval = "30";
  bool continuous = false;
  reconcile::ReconcileOptions options;
};

// A progress line per table being compared, every few seconds (stderr).
class Progress {
 public:
  void draw(const std::vector<reconcile::TableReport>& tables) {
    if (Clock::now() - last_ < std::chrono::seconds(2)) return;
    last_ = Clock::now();
    for (const auto& table : tables) {
      if (table.state != "comparing") continue;
      std::string percent = "?";
      if (table.estimated_rows && *table.estimated_rows > 0) {
        percent = std::to_string(std::min<std::int64_t>(
                      100, table.rows_compared * 100 / *table.estimated_rows)) +
                  "%";
      }
      std::fprintf(stderr, "reconcile %s: %s, %lld rows compared, %lld differences\n",
                   table.table.c_str(), percent.c_str(),
                   static_cast<long long>(table.rows_compared),
                   static_cast<long long>(table.differences_found()));
    }
  }

 private:
  Clock::time_point last_{};
};

// Written only by the user (the statements hold row values).
bool write_private(const std::string& path, const std::string& content) {
  const mode_t previous = ::umask(077);
  std::ofstream out(path, std::ios::trunc);
  ::umask(previous);
  out << content;
  return static_cast<bool>(out);
}

void print_report(const Cli& cli, const reconcile::ReconcileReport& report) {
  const std::string text =
      cli.format == "json" ? reconcile::report_json(report) : reconcile::report_table(report);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  const std::string script = reconcile::repair_script(report);
  if (!script.empty() && !report.execute) {
    if (!cli.sql_file.empty()) {
      if (!write_private(cli.sql_file, script)) {
        std::fprintf(stderr, "pgdual reconcile: cannot write %s\n", cli.sql_file.c_str());
      } else {
        std::fprintf(stderr, "repair statements (dry run, not executed) written to %s\n",
                     cli.sql_file.c_str());
      }
    } else if (report.full_values && cli.format == "table") {
      std::fputs("-- repair statements (dry run: not executed)\n", stdout);
      std::fputs(script.c_str(), stdout);
    } else if (!report.full_values) {
      std::fprintf(stderr,
                   "the repair statements hold row values, which are redacted "
                   "(shadow_read.log_values): write them with --sql-file FILE\n");
    }
  }
  std::fputs(reconcile::repair_log(report).c_str(), stderr);
  for (const auto& table : report.tables) {
    if (table.repaired > 0 || table.repair_failed > 0) {
      std::fprintf(stderr, "reconcile %s: %lld rows repaired, %lld repairs failed\n",
                   table.table.c_str(), static_cast<long long>(table.repaired),
                   static_cast<long long>(table.repair_failed));
    }
  }
}

bool write_proof(const Cli& cli, const reconcile::ReconcileReport& report) {
  const std::string base = cli.proof_dir + "/reconcile-proof-" + report.database;
  std::ofstream markdown(base + ".md", std::ios::trunc);
  markdown << reconcile::proof_markdown(report);
  std::ofstream json(base + ".json", std::ios::trunc);
  json << reconcile::proof_json(report);
  if (!markdown || !json) {
    std::fprintf(stderr, "pgdual reconcile: cannot write the proof to %s.{md,json}\n",
                 base.c_str());
    return false;
  }
  std::fprintf(stderr, "proof written to %s.md and %s.json\n", base.c_str(), base.c_str());
  return true;
}

// "" or what is wrong with the command line.
std::string check(Cli& cli) {
  if (cli.path.empty()) return "reconcile needs --config FILE";
  if (cli.repair != "dry-run" && cli.repair != "execute") {
    return "--repair: expected dry-run or execute";
  }
  cli.options.execute = cli.repair == "execute";
  if (cli.format != "table" && cli.format != "json") return "--format: expected table or json";
  if (!cli.tables.empty()) cli.options.tables = split_tables(cli.tables);
  if (!cli.max_differences.empty()) {
    const double value = positive_number(cli.max_differences);
    if (value < 1 || value != static_cast<std::int64_t>(value)) {
      return "--max-differences: expected a whole number > 0";
    }
    cli.options.max_differences = static_cast<std::int64_t>(value);
  }
  if (!cli.max_seconds.empty() &&
      (cli.options.max_seconds = positive_number(cli.max_seconds)) < 0) {
    return "--max-seconds: expected a number > 0";
  }
  if (!cli.workers.empty()) {
    const double value = positive_number(cli.workers);
    if (value < 1 || value > 64 || value != static_cast<unsigned>(value)) {
      return "--workers: expected a whole number from 1 to 64";
    }
    cli.options.workers = static_cast<unsigned>(value);
  }
  if (!cli.chunk_ms.empty()) {
    const double value = positive_number(cli.chunk_ms);
    if (value < 10 || value > 60000) return "--chunk-ms: expected milliseconds from 10 to 60000";
    cli.options.chunk_target = std::chrono::milliseconds(static_cast<long>(value));
  }
  if (positive_number(cli.interval) < 1) return "--interval-seconds: expected a number >= 1";
  if (cli.continuous && (cli.options.proof || cli.options.resume)) {
    return "--continuous excludes --proof and --resume";
  }
  return "";
}

}  // namespace

Exit reconcile_command(Args words) {
  Cli cli;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", cli.path) || args.value("--database", cli.options.database) ||
        args.value("--tables", cli.tables) || args.value("--repair", cli.repair) ||
        args.value("--max-differences", cli.max_differences) ||
        args.value("--max-seconds", cli.max_seconds) || args.value("--format", cli.format) ||
        args.value("--proof-dir", cli.proof_dir) || args.value("--sql-file", cli.sql_file) ||
        args.value("--workers", cli.workers) || args.value("--chunk-ms", cli.chunk_ms) ||
        args.value("--interval-seconds", cli.interval)) {
      continue;
    }
    if (args.flag("--resume")) {
      cli.options.resume = true;
    } else if (args.flag("--proof")) {
      cli.options.proof = true;
    } else if (args.flag("--continuous")) {
      cli.continuous = true;
    } else {
      return unknown_argument(args.word());
    }
  }
  if (const auto problem = check(cli); !problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    return 2;
  }
  auto loaded = config::load_config_file(cli.path);
  if (!loaded.ok()) {
    print_config_errors(loaded.errors, cli.path);
    return 2;
  }
  std::signal(SIGINT, request_reconcile_stop);
  std::signal(SIGTERM, request_reconcile_stop);
  if (cli.continuous) {
    const auto interval =
        std::chrono::milliseconds(static_cast<long>(positive_number(cli.interval) * 1000));
    return reconcile::run_continuous(*loaded.config, cli.options, interval, stop_requested,
                                     [&cli](const reconcile::ReconcileReport& report) {
                                       if (report.tables.empty() && report.error.empty()) return;
                                       print_report(cli, report);
                                     });
  }
  Progress progress;
  const auto report = reconcile::run_reconcile(
      *loaded.config, cli.options, stop_requested,
      [&progress](const std::vector<reconcile::TableReport>& tables) { progress.draw(tables); });
  print_report(cli, report);
  if (cli.options.proof && !write_proof(cli, report)) return 2;
  if (stop_requested.load()) {
    std::fprintf(stderr, "pgdual reconcile: stopped; run it again with --resume to continue\n");
  }
  return report.exit_code();
}

}  // namespace pgdual::cmd
