// `pgdual mapping check|install --config FILE [--database DB]` (docs/schema-mapping.md): resolves
// migration.mapping against both stores, checks every expression there, and (install) creates the
// new store's views and triggers. Prints one line per mapped table, or every problem with its
// key path. Exit 0 when the mapping is valid (and installed), 1 when not, 2 for bad arguments.

#include <cstdio>
#include <string>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "jobs/backfill/store_pair.hpp"
#include "jobs/mapping/mapping_install.hpp"

namespace pgdual::cmd {
namespace {

void print_tables(const jobs::mapping::MappingReport& report) {
  for (const auto& table : report.tables) {
    std::size_t dropped = 0;
    for (const auto& column : table.columns) dropped += column.dropped ? 1 : 0;
    const auto lossy = table.lossy_columns();
    std::string lossy_list;
    for (const auto& name : lossy) lossy_list += (lossy_list.empty() ? "" : ", ") + name;
    std::printf("%s -> %s\tview %s.%s\tcolumns %zu, dropped %zu, new only %zu\tlossy: %s\n",
                table.old_table.c_str(), table.new_table.c_str(), table.view_schema.c_str(),
                table.view_name.c_str(), table.columns.size() - dropped, dropped,
                table.new_only.size(), lossy.empty() ? "none" : lossy_list.c_str());
  }
}

}  // namespace

int check_mapping_on_stores(const config::Config& config, const std::string& requested_database,
                            jobs::mapping::MappingAction action) {
  jobs::backfill::StorePair stores;
  stores.application_name = "pgdual mapping";
  const std::string database = jobs::backfill::job_database(config, requested_database);
  if (auto error = stores.connect(config, database); !error.empty()) {
    std::fprintf(stderr, "pgdual mapping: %s\n", error.c_str());
    return 1;
  }
  const auto report = jobs::mapping::run_mapping(stores.old_store.get(), stores.new_store.get(),
                                                 config.migration.mapping, action);
  for (const auto& error : report.errors) std::fprintf(stderr, "%s\n", error.c_str());
  if (!report.ok()) {
    std::fprintf(stderr, "migration.mapping is not valid against database %s (%zu problem%s)\n",
                 database.c_str(), report.errors.size(), report.errors.size() == 1 ? "" : "s");
    return 1;
  }
  print_tables(report);
  std::printf("%zu mapped table%s %s (fingerprint %s)\n", report.tables.size(),
              report.tables.size() == 1 ? "" : "s",
              action == jobs::mapping::MappingAction::install ? "installed on the new store"
                                                              : "valid on both stores",
              report.fingerprint.c_str());
  return 0;
}

MappingVerification verify_mapping(const config::Config& config) {
  MappingVerification out;
  jobs::backfill::StorePair stores;
  stores.application_name = "pgdual mapping";
  const std::string database = jobs::backfill::job_database(config, "");
  if (database.empty()) {
    std::fprintf(stderr,
                 "warning: migration.mapping not verified at start: the backends name no dbname "
                 "(run pgdual mapping check --database DB); rollback of cutover stays refused "
                 "unless migration.mapping.rollback is allow\n");
    return out;
  }
  if (auto error = stores.connect(config, database); !error.empty()) {
    // A store that is down must not keep the proxy from serving: the check is only skipped.
    std::fprintf(stderr,
                 "warning: migration.mapping not verified against the stores (%s); rollback of "
                 "cutover stays refused until a start that can read both catalogs\n",
                 error.c_str());
    return out;
  }
  const auto report =
      jobs::mapping::run_mapping(stores.old_store.get(), stores.new_store.get(),
                                 config.migration.mapping, jobs::mapping::MappingAction::verify);
  for (const auto& error : report.errors) std::fprintf(stderr, "%s\n", error.c_str());
  if (!report.ok()) {
    out.exit_code = 1;
    return out;
  }
  if (!report.installed) {
    const std::string found = report.installed_fingerprint.empty()
                                  ? std::string("not installed")
                                  : "another mapping's (" + report.installed_fingerprint + ")";
    std::fprintf(stderr,
                 "migration.mapping: the new store's views in schema %s are %s (fingerprint %s "
                 "expected): run pgdual mapping install --config FILE first\n",
                 config.migration.mapping.schema.c_str(), found.c_str(),
                 report.fingerprint.c_str());
    out.exit_code = 1;
    return out;
  }
  std::vector<std::string> lossy;
  for (const auto& table : report.tables) {
    for (auto& column : table.lossy_kept_columns()) lossy.push_back(std::move(column));
  }
  out.lossy = std::move(lossy);
  return out;
}

Exit mapping_command(Args words, jobs::mapping::MappingAction action) {
  std::string path, database;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--database", database)) continue;
    return unknown_argument(args.word());
  }
  if (path.empty()) {
    std::fprintf(stderr, "mapping needs --config FILE\n");
    return 2;
  }
  auto result = config::load_config_file(path);
  if (!result.ok()) return print_config_errors(result.errors, path);
  if (result.config->migration.mapping.empty()) {
    std::printf("%s: no migration.mapping: nothing to %s\n", path.c_str(),
                action == jobs::mapping::MappingAction::install ? "install" : "check");
    return 0;
  }
  return check_mapping_on_stores(*result.config, database, action);
}

Exit mapping_check_command(Args args) {
  return mapping_command(args, jobs::mapping::MappingAction::check);
}

Exit mapping_install_command(Args args) {
  return mapping_command(args, jobs::mapping::MappingAction::install);
}

}  // namespace pgdual::cmd
