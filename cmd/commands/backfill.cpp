// `pgdual backfill --config FILE [--database D] [--tables a,b] [--workers N] [--resume |
// --restart] [--dry-run] [--max-rows-per-second R] [--lock-keyless] [--chunk-ms MS]
// [--no-sequences]`: runs jobs/backfill. Progress bars go to stderr (redrawn on a terminal, a
// line now and then in a log), the JSON summary to stdout. SIGINT/SIGTERM finish the chunk in
// flight and pause; --resume continues. Exit: 0 every table done, 1 anything refused, failed or
// paused, 2 a malformed command line.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "jobs/backfill/backfill_job.hpp"
#include "jobs/backfill/progress_view.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::cmd {
namespace {

namespace backfill = jobs::backfill;

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int signal) {
  stop_requested.store(true);
  std::signal(signal, SIG_DFL);  // a second signal ends the process at once
}

void print_plan(const backfill::BackfillReport& report) {
  for (const auto& refusal : report.refusals) {
    std::fprintf(stderr, "refused: %s: %s\n", refusal.table.c_str(), refusal.reason.c_str());
  }
  if (!report.refusals.empty()) {
    std::fprintf(stderr, "%zu tables refused: nothing was copied\n", report.refusals.size());
  }
  for (const auto& table : report.not_mirrored) {
    std::fprintf(stderr, "left out: %s (its phase mirrors no writes to the new store)\n",
                 table.c_str());
  }
  for (const auto& edge : report.unordered_edges) {
    std::fprintf(stderr, "foreign key not ordered: %s\n", edge.c_str());
  }
}

void print_dry_run(const backfill::BackfillReport& report) {
  for (const auto& plan : report.plans) {
    std::string key;
    for (const auto& column : plan.key) key += (key.empty() ? "" : ", ") + column.quoted;
    std::fprintf(
        stderr, "would copy %s -> %s: %s, %s COPY, %s rows\n", plan.source.c_str(),
        plan.target.c_str(),
        plan.locked_copy ? "whole, under a SHARE lock" : ("by key (" + key + ")").c_str(),
        plan.binary ? "binary" : "text",
        plan.estimated_rows ? ("~" + std::to_string(*plan.estimated_rows)).c_str() : "unknown");
  }
}

}  // namespace

Exit backfill_command(Args words) {
  std::string path, tables, workers, rate, chunk_ms;
  backfill::BackfillOptions options;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--database", options.database) ||
        args.value("--tables", tables) || args.value("--workers", workers) ||
        args.value("--max-rows-per-second", rate) || args.value("--chunk-ms", chunk_ms)) {
      continue;
    }
    if (args.flag("--resume")) {
      options.resume = true;
    } else if (args.flag("--restart")) {
      options.restart = true;
    } else if (args.flag("--dry-run")) {
      options.dry_run = true;
    } else if (args.flag("--lock-keyless")) {
      options.lock_keyless = true;
    } else if (args.flag("--no-sequences")) {
      options.sync_sequences = false;
    } else {
      return unknown_argument(args.word());
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "backfill needs --config FILE\n");
    return 2;
  }
  if (options.resume && options.restart) {
    std::fprintf(stderr, "--resume and --restart exclude each other\n");
    return 2;
  }
  if (!tables.empty()) options.tables = split_tables(tables);
  if (!workers.empty()) {
    const double value = positive_number(workers);
    if (value < 1 || value > 64 || value != static_cast<unsigned>(value)) {
      std::fprintf(stderr, "--workers: expected a whole number from 1 to 64\n");
      return 2;
    }
    options.workers = static_cast<unsigned>(value);
  }
  if (!rate.empty() && (options.max_rows_per_second = positive_number(rate)) < 0) {
    std::fprintf(stderr, "--max-rows-per-second: expected a number > 0\n");
    return 2;
  }
  if (!chunk_ms.empty()) {
    const double value = positive_number(chunk_ms);
    if (value < 10 || value > 60000) {
      std::fprintf(stderr, "--chunk-ms: expected milliseconds from 10 to 60000\n");
      return 2;
    }
    options.chunk_target = std::chrono::milliseconds(static_cast<long>(value));
  }
  auto loaded = config::load_config_file(path);
  if (!loaded.ok()) return print_config_errors(loaded.errors, path);

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  backfill::ProgressView view(stderr, ::isatty(STDERR_FILENO) != 0);
  const auto report = backfill::run_backfill(
      *loaded.config, options, stop_requested,
      [&view](const std::vector<backfill::TableStatus>& tables) { view.draw(tables); });
  print_plan(report);
  if (options.dry_run) print_dry_run(report);
  for (const auto& note : report.notes) std::fprintf(stderr, "pgdual backfill: %s\n", note.c_str());
  if (!report.error.empty()) std::fprintf(stderr, "pgdual backfill: %s\n", report.error.c_str());
  for (const auto& line : report.sequences.lines) {
    if (!line.error.empty()) {
      std::fprintf(stderr, "sequence %s not moved: %s\n", line.sequence.c_str(),
                   line.error.c_str());
    }
  }
  if (!report.sequences.error.empty()) {
    std::fprintf(stderr, "sequences not moved: %s\n", report.sequences.error.c_str());
  }
  for (const auto& table : report.tables) {
    if (!table.note.empty()) {
      std::fprintf(stderr, "%s needs a reconciliation: %s\n", table.table.c_str(),
                   table.note.c_str());
    }
  }
  if (report.stopped) {
    std::fprintf(stderr, "pgdual backfill: stopped; run it again with --resume to continue\n");
  }
  std::fputs(backfill::report_json(report).c_str(), stdout);
  return report.ok() ? 0 : 1;
}

}  // namespace pgdual::cmd
