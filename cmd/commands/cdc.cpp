// `pgdual cdc preflight|setup|status|teardown|cutover|rollback --config FILE [--database D]
// [--format table|json]` (teardown, cutover and rollback also need --yes): strategy cdc's
// replication objects by hand (cdc/preflight, cdc/setup, cdc/health; docs/cdc.md). Exit: 0 ok, 1 a
// check failed or replication is not ready, 2 an error or a malformed command line.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cdc/health.hpp"
#include "cdc/names.hpp"
#include "cdc/preflight.hpp"
#include "cdc/setup.hpp"
#include "cdc/switch.hpp"
#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "cutover/sequence_sync.hpp"
#include "libpq/connection.hpp"
#include "text/json.hpp"

namespace pgdual::cmd {
namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_cdc_stop(int signal) {
  stop_requested.store(true);
  std::signal(signal, SIG_DFL);  // a second signal ends the process at once
}

struct Cli {
  std::string path, database, format = "table";
  bool yes = false;
  config::Config config;
};

// Reads the options and the config; an exit code when the command cannot go on.
std::optional<Exit> parse(Args words, const char* command, bool takes_yes, Cli& cli) {
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", cli.path) || args.value("--database", cli.database) ||
        args.value("--format", cli.format)) {
      continue;
    }
    if (takes_yes && args.flag("--yes")) {
      cli.yes = true;
    } else {
      return unknown_argument(args.word());
    }
  }
  if (cli.path.empty()) {
    std::fprintf(stderr, "cdc %s needs --config FILE\n", command);
    return Exit(2);
  }
  if (cli.format != "table" && cli.format != "json") {
    std::fprintf(stderr, "--format: expected table or json\n");
    return Exit(2);
  }
  auto loaded = config::load_config_file(cli.path);
  if (!loaded.ok()) {
    print_config_errors(loaded.errors, cli.path);
    return Exit(2);
  }
  cli.config = std::move(*loaded.config);
  if (cli.database.empty()) {
    if (!cli.config.old_backend.dbname) {
      std::fprintf(stderr,
                   "cdc %s: which database? pass --database D (backends.old sets no dbname)\n",
                   command);
      return Exit(2);
    }
    cli.database = *cli.config.old_backend.dbname;
  }
  std::signal(SIGINT, request_cdc_stop);
  std::signal(SIGTERM, request_cdc_stop);
  return std::nullopt;
}

pg::Cancelled cancelled() {
  return [] { return stop_requested.load(); };
}

// ---- JSON ----

using text::json_string;
std::string json_strings(const std::vector<std::string>& values) {
  return text::json_string_array(values);
}

std::string json_checks(const cdc::PreflightReport& report) {
  std::string out = "[";
  for (std::size_t i = 0; i < report.checks.size(); ++i) {
    const auto& check = report.checks[i];
    out += std::string(i > 0 ? "," : "") + "{\"name\":" + json_string(check.name) +
           ",\"status\":" + json_string(cdc::to_string(check.status)) +
           ",\"message\":" + json_string(check.message) + "}";
  }
  return out + "]";
}

std::string json_tables(const std::vector<cdc::TableName>& tables) {
  std::vector<std::string> names;
  for (const auto& table : tables) names.push_back(table.display());
  return json_strings(names);
}

template <typename T>
std::string json_optional(const std::optional<T>& value) {
  return value ? std::to_string(*value) : "null";
}

template <typename T>
std::string text_optional(const std::optional<T>& value) {
  return value ? std::to_string(*value) : "-";
}

// ---- table ----

void print_checks(const cdc::PreflightReport& report) {
  for (const auto& check : report.checks) {
    std::printf("  %-5s %-30s %s\n", std::string(cdc::to_string(check.status)).c_str(),
                check.name.c_str(), check.message.c_str());
  }
}

std::size_t warnings(const cdc::PreflightReport& report) {
  std::size_t count = 0;
  for (const auto& check : report.checks) count += check.status == cdc::CheckStatus::warn;
  return count;
}

std::size_t failures(const cdc::PreflightReport& report) {
  std::size_t count = 0;
  for (const auto& check : report.checks) count += check.status == cdc::CheckStatus::fail;
  return count;
}

}  // namespace

Exit cdc_preflight_command(Args words) {
  Cli cli;
  if (auto exit = parse(words, "preflight", false, cli)) return *exit;
  const auto report = cdc::preflight(cli.config, cli.database, cancelled());
  if (cli.format == "json") {
    std::printf(
        "{\"database\":%s,\"ok\":%s,\"error\":%s,\"checks\":%s,\"published_tables\":%s,"
        "\"replica_identity_full\":%s}\n",
        json_string(cli.database).c_str(), report.ok() ? "true" : "false",
        json_string(report.error).c_str(), json_checks(report).c_str(),
        json_tables(report.scope.published).c_str(), json_tables(report.identity_full).c_str());
  } else {
    std::printf("cdc preflight of database %s\n", cli.database.c_str());
    print_checks(report);
    if (!report.error.empty()) {
      std::printf("preflight could not finish: %s\n", report.error.c_str());
    } else if (report.ok()) {
      std::printf("preflight passed (%zu warnings)\n", warnings(report));
    } else {
      std::printf("preflight failed: %zu checks failed, nothing was created\n", failures(report));
    }
  }
  if (!report.error.empty()) return 2;
  return report.ok() ? 0 : 1;
}

Exit cdc_setup_command(Args words) {
  Cli cli;
  if (auto exit = parse(words, "setup", false, cli)) return *exit;
  const auto result = cdc::ensure_replication(cli.config, cli.database, cancelled());
  if (cli.format == "json") {
    std::printf(
        "{\"database\":%s,\"ok\":%s,\"error\":%s,\"initial_copy_pending\":%s,\"actions\":%s,"
        "\"published_tables\":%s,\"checks\":%s}\n",
        json_string(cli.database).c_str(), result.ok ? "true" : "false",
        json_string(result.error).c_str(), result.initial_copy_pending ? "true" : "false",
        json_strings(result.actions).c_str(), json_strings(result.published_tables).c_str(),
        json_checks(result.preflight).c_str());
  } else {
    std::printf("cdc setup of database %s\n", cli.database.c_str());
    print_checks(result.preflight);
    for (const auto& action : result.actions) std::printf("%s\n", action.c_str());
    if (!result.ok) {
      std::printf("setup failed: %s\n", result.error.c_str());
    } else {
      if (result.initial_copy_pending) {
        std::printf(
            "the subscription waits for the initial copy (copy_data: pgdual): run pgdual "
            "backfill --config FILE --database %s\n",
            cli.database.c_str());
      } else if (result.actions.empty()) {
        std::printf(
            "nothing to change: the publication, the subscription and its slot are in "
            "place\n");
      }
      std::printf("tables published: %zu%s%s\n", result.published_tables.size(),
                  result.published_tables.empty() ? "" : ", ",
                  [&] {
                    std::string names;
                    for (const auto& name : result.published_tables) {
                      names += (names.empty() ? "" : ", ") + name;
                    }
                    return names;
                  }()
                      .c_str());
    }
  }
  if (result.ok) return 0;
  return result.refused ? 1 : 2;
}

Exit cdc_status_command(Args words) {
  Cli cli;
  if (auto exit = parse(words, "status", false, cli)) return *exit;
  const std::string name = cdc::names_for(cli.database).forward;
  std::string error;
  const pg::Conn old_conn = pg::connect(cdc::old_store_conninfo(cli.config, cli.database),
                                        cli.config.old_backend.connect_timeout, cancelled(), error);
  cdc::PublisherHealth publisher;
  cdc::SubscriberHealth subscriber;
  if (!old_conn) {
    error = "old store: " + error;
  } else if (!cdc::read_publisher_health(old_conn.get(), name, publisher, error)) {
    error = "old store: " + error;
  }
  if (error.empty()) {
    const pg::Conn new_conn =
        pg::connect(cdc::new_store_conninfo(cli.config, cli.database),
                    cli.config.new_backend.connect_timeout, cancelled(), error);
    if (!new_conn) {
      error = "new store: " + error;
    } else if (!cdc::read_subscriber_health(new_conn.get(), name, subscriber, error)) {
      error = "new store: " + error;
    }
  }
  if (!error.empty()) {
    std::fprintf(stderr, "pgdual cdc status: %s\n", error.c_str());
    return 2;
  }
  const bool ready = publisher.publication_exists && publisher.slot_exists &&
                     subscriber.subscription_exists && subscriber.enabled &&
                     subscriber.worker_running && subscriber.tables_not_ready() == 0;
  if (cli.format == "json") {
    std::string states = "{";
    for (const auto& [state, count] : subscriber.tables_by_state) {
      states += std::string(states.size() > 1 ? "," : "") + json_string(std::string(1, state)) +
                ":" + std::to_string(count);
    }
    states += "}";
    std::printf(
        "{\"database\":%s,\"name\":%s,\"ready\":%s,\"publisher\":{\"publication_exists\":%s,"
        "\"slot_exists\":%s,\"slot_active\":%s,\"walsender_connected\":%s,\"lag_bytes\":%s,"
        "\"lag_seconds\":%s,\"retained_bytes\":%s,\"safe_wal_bytes\":%s,\"wal_status\":%s},"
        "\"subscriber\":{\"subscription_exists\":%s,\"enabled\":%s,\"worker_running\":%s,"
        "\"apply_errors\":%lld,\"sync_errors\":%lld,\"tables_by_state\":%s,"
        "\"tables_not_ready\":%lld,\"seconds_since_message\":%s}}\n",
        json_string(cli.database).c_str(), json_string(name).c_str(), ready ? "true" : "false",
        publisher.publication_exists ? "true" : "false", publisher.slot_exists ? "true" : "false",
        publisher.slot_active ? "true" : "false", publisher.walsender_connected ? "true" : "false",
        json_optional(publisher.lag_bytes).c_str(), json_optional(publisher.lag_seconds).c_str(),
        json_optional(publisher.retained_bytes).c_str(),
        json_optional(publisher.safe_wal_bytes).c_str(), json_string(publisher.wal_status).c_str(),
        subscriber.subscription_exists ? "true" : "false", subscriber.enabled ? "true" : "false",
        subscriber.worker_running ? "true" : "false",
        static_cast<long long>(subscriber.apply_errors),
        static_cast<long long>(subscriber.sync_errors), states.c_str(),
        static_cast<long long>(subscriber.tables_not_ready()),
        json_optional(subscriber.seconds_since_message).c_str());
  } else {
    const auto yes_no = [](bool value) { return value ? "yes" : "no"; };
    std::printf("cdc status of database %s (%s)\n", cli.database.c_str(), name.c_str());
    std::printf("old store: publication %s, slot %s (active %s), walsender connected %s\n",
                yes_no(publisher.publication_exists), yes_no(publisher.slot_exists),
                yes_no(publisher.slot_active), yes_no(publisher.walsender_connected));
    std::printf(
        "  lag: %s bytes, %s s; WAL retained by the slot: %s bytes (safe: %s, %s)\n",
        json_optional(publisher.lag_bytes).c_str(), json_optional(publisher.lag_seconds).c_str(),
        json_optional(publisher.retained_bytes).c_str(),
        publisher.safe_wal_bytes ? std::to_string(*publisher.safe_wal_bytes).c_str() : "unlimited",
        publisher.wal_status.empty() ? "-" : publisher.wal_status.c_str());
    std::printf("new store: subscription %s, enabled %s, worker running %s\n",
                yes_no(subscriber.subscription_exists), yes_no(subscriber.enabled),
                yes_no(subscriber.worker_running));
    std::printf("  apply errors %lld, sync errors %lld, tables not ready %lld",
                static_cast<long long>(subscriber.apply_errors),
                static_cast<long long>(subscriber.sync_errors),
                static_cast<long long>(subscriber.tables_not_ready()));
    for (const auto& [state, count] : subscriber.tables_by_state) {
      std::printf(" %c=%lld", state, static_cast<long long>(count));
    }
    std::printf("\n%s\n", ready ? "ready" : "not ready");
  }
  return ready ? 0 : 1;
}

Exit cdc_teardown_command(Args words) {
  Cli cli;
  if (auto exit = parse(words, "teardown", true, cli)) return *exit;
  if (!cli.yes) {
    std::fprintf(stderr,
                 "cdc teardown drops the publication, the subscription and its slot of database "
                 "%s: confirm with --yes\n",
                 cli.database.c_str());
    return 2;
  }
  const auto result = cdc::drop_replication(cli.config, cli.database, cancelled());
  if (cli.format == "json") {
    std::printf("{\"database\":%s,\"ok\":%s,\"error\":%s,\"actions\":%s,\"remaining\":%s}\n",
                json_string(cli.database).c_str(), result.ok ? "true" : "false",
                json_string(result.error).c_str(), json_strings(result.actions).c_str(),
                json_strings(result.remaining).c_str());
  } else {
    std::printf("cdc teardown of database %s\n", cli.database.c_str());
    for (const auto& action : result.actions) std::printf("%s\n", action.c_str());
    for (const auto& left : result.remaining) std::printf("still present: %s\n", left.c_str());
    if (!result.error.empty()) std::printf("teardown failed: %s\n", result.error.c_str());
    if (result.ok) {
      std::printf("%s: no pgdual publication, subscription or slot of database %s remains\n",
                  result.actions.empty() ? "nothing to drop" : "teardown complete",
                  cli.database.c_str());
    }
  }
  if (result.ok) return 0;
  return result.error.empty() ? 1 : 2;
}

namespace {

// Cutover and its rollback: the replication turned around (cdc/switch.hpp), then the sequences
// of the store that takes the writes moved past the other's (`pgdual sequences sync`, with the
// backends swapped for the rollback).
Exit switch_command(Args words, const char* command, cdc::Direction to) {
  Cli cli;
  if (auto exit = parse(words, command, true, cli)) return *exit;
  if (!cli.yes) {
    std::fprintf(stderr,
                 "cdc %s turns the replication of database %s around: pause the application's "
                 "writes first (docs/cdc.md, \"Cutover and rollback\"), then confirm with --yes\n",
                 command, cli.database.c_str());
    return 2;
  }
  auto result = cdc::switch_direction(cli.config, cli.database, to, cli.config.limits.drain_timeout,
                                      cancelled());
  cutover::SequenceSyncReport sequences;
  if (result.ok) {
    config::Config sequence_config = cli.config;
    if (to == cdc::Direction::forward) {
      std::swap(sequence_config.old_backend, sequence_config.new_backend);
    }
    sequences = cutover::sync_sequences(sequence_config, {.database = cli.database});
    if (!sequences.ok()) {
      result.ok = false;
      result.error =
          "replication switched, but the sequences could not all be synced: " +
          (sequences.error.empty() ? std::string("see the lines above") : sequences.error) +
          " (run pgdual sequences sync again)";
    } else {
      result.actions.push_back("synced " + std::to_string(sequences.lines.size()) +
                               " sequences of the store that now takes the writes");
    }
  }
  if (cli.format == "json") {
    std::printf("{\"database\":%s,\"ok\":%s,\"error\":%s,\"actions\":%s}\n",
                json_string(cli.database).c_str(), result.ok ? "true" : "false",
                json_string(result.error).c_str(), json_strings(result.actions).c_str());
  } else {
    std::printf("cdc %s of database %s\n", command, cli.database.c_str());
    for (const auto& action : result.actions) std::printf("%s\n", action.c_str());
    for (const auto& line : sequences.lines) {
      if (!line.error.empty())
        std::printf("sequence %s: FAILED: %s\n", line.sequence.c_str(), line.error.c_str());
    }
    if (!result.error.empty()) std::printf("%s failed: %s\n", command, result.error.c_str());
  }
  return result.ok ? 0 : 2;
}

}  // namespace

Exit cdc_cutover_command(Args words) {
  return switch_command(words, "cutover", cdc::Direction::reverse);
}

Exit cdc_rollback_command(Args words) {
  return switch_command(words, "rollback", cdc::Direction::forward);
}

}  // namespace pgdual::cmd
