// pgdual: a PostgreSQL wire-protocol proxy for zero-downtime migrations with the dual-write
// pattern. This file is the table of subcommands: main picks the row the command line names and
// hands it the remaining words. Each subcommand lives in a file of its own in cmd/commands/.

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/commands/commands.hpp"
#include "cmd/subcommand.hpp"

namespace {

using namespace pgdual::cmd;

// Rows are tried in order; the first whose name the command line starts with runs.
constexpr Subcommand kSubcommands[] = {
    {"run", "[--config FILE]", "run the proxy (without --config: the embedded demo config)",
     run_command},
    {"check-config", "[--database DB] FILE",
     "validate a config file and exit (0 valid, 1 invalid); with --database, also check "
     "migration.mapping against both stores (as mapping check)",
     check_config_command},
    {"sequences sync", "--config FILE [--database DB] [--headroom N] [--dry-run]",
     "set every sequence of the new store to the old store's value + N (default 1000); run it "
     "before cutover",
     sequences_sync_command},
    {"mapping check", "--config FILE [--database DB]",
     "migration.mapping: resolve every mapped table against both stores' catalogs and check "
     "every expression there, changing nothing (docs/schema-mapping.md)",
     mapping_check_command},
    {"mapping install", "--config FILE [--database DB]",
     "migration.mapping: check, then create the new store's views and triggers in one "
     "transaction (idempotent; run it before pgdual run and after each mapping change)",
     mapping_install_command},
    {"backfill",
     "--config FILE [--database DB] [--tables a,b] [--workers N] [--resume | --restart] "
     "[--dry-run] [--max-rows-per-second R] [--lock-keyless] [--chunk-ms MS] [--no-sequences]",
     "copy the old store's rows to the new one while dual writes run (docs/backfill.md)",
     backfill_command},
    {"reconcile",
     "--config FILE [--database DB] [--tables a,b] [--repair dry-run|execute] "
     "[--max-differences N] [--max-seconds T] [--resume] [--format table|json] [--proof] "
     "[--proof-dir DIR] [--sql-file FILE] [--workers N] [--chunk-ms MS] [--continuous "
     "[--interval-seconds S]]",
     "find every difference between the stores, prove equality, repair drift "
     "(docs/reconcile.md)",
     reconcile_command},
    {"cutover check", "--config FILE [--database DB[,DB...]] [--format table|json]",
     "the cutover gate: every criterion with its measured value, threshold and source, across "
     "every live pgdual instance; exit 1 when one fails (docs/cutover.md)",
     cutover_check_command},
    {"cdc preflight", "--config FILE [--database DB] [--format table|json]",
     "strategy cdc: check both stores before replication is set up (wal_level, slots, "
     "privileges, replica identities, tables and columns) (docs/cdc.md)",
     cdc_preflight_command},
    {"cdc setup", "--config FILE [--database DB] [--format table|json]",
     "strategy cdc: create or update the publication, the subscription and its slot "
     "(idempotent; preflight first)",
     cdc_setup_command},
    {"cdc status", "--config FILE [--database DB] [--format table|json]",
     "strategy cdc: replication lag, the slot's retained WAL, the subscription's state and "
     "errors (exit 1 when not ready)",
     cdc_status_command},
    {"cdc teardown", "--config FILE [--database DB] [--format table|json] --yes",
     "strategy cdc: drop pgdual's subscriptions, publications and slots (forward and reverse)",
     cdc_teardown_command},
    {"cdc cutover", "--config FILE [--database DB] [--format table|json] --yes",
     "strategy cdc, writes paused: stop old -> new replication at lag 0, start new -> old "
     "(no copy), sync the new store's sequences; then set phase cutover (docs/cdc.md)",
     cdc_cutover_command},
    {"cdc rollback", "--config FILE [--database DB] [--format table|json] --yes",
     "strategy cdc, writes paused: the reverse of cdc cutover (new -> old stops at lag 0, old -> "
     "new restarts without a copy, the old store's sequences synced); then leave cutover",
     cdc_rollback_command},
    {"status", "[--config FILE | --admin HOST:PORT] [--json] [--watch [--interval S] [--count N]]",
     "a running instance's status from its admin endpoint: phases, backfill, shadow match "
     "rate, journal, lag, reconciliation, the cutover checklist, the fleet (docs/operations.md)",
     status_command},
    {"journal status", "--config FILE [--database DB]",
     "print the journal's pending entries and dead-letter rows", journal_status_command},
    {"journal purge", "--config FILE [--database DB] [--dead-letter]",
     "delete the journal's pending entries (after a rollback)", journal_purge_command},
    {"--version", "", "print the version", version_command},
    {"version", "", "", version_command, false},
    {"--config", "FILE", "", run_legacy_config, false},  // the spelling from before `run`
};

constexpr std::string_view kUsageFooter = R"(
Signals: SIGHUP reloads the config file (it is also watched for changes);
SIGTERM/SIGINT stop accepting, let transactions finish, then exit.
)";

void print_usage(std::FILE* to) { std::fputs(usage(kSubcommands, kUsageFooter).c_str(), to); }

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  for (const auto& command : kSubcommands) {
    const std::size_t name_words = words_naming(command, words);
    if (name_words == 0) continue;
    const Exit exit = command.handler(std::span(words).subspan(name_words));
    if (exit.print_usage) print_usage(stderr);
    return exit.code;
  }
  // `pgdual --help` asked for the usage; anything else is a usage error.
  const bool help = !words.empty() && words[0] == "--help";
  print_usage(help ? stdout : stderr);
  return help ? 0 : 2;
}
