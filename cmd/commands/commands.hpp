#pragma once
// The handler of each subcommand, one file each under cmd/commands/; cmd/main.cpp lists them in
// its table with the name and summary that `pgdual --help` prints.

#include <optional>
#include <string>
#include <vector>

#include "cmd/commands/command.hpp"
#include "config/config.hpp"
#include "jobs/mapping/mapping_install.hpp"

namespace pgdual::cmd {

Exit run_command(Args args);              // run.cpp: `run [--config FILE]`
Exit run_legacy_config(Args args);        // run.cpp: `--config FILE`, the old spelling of run
Exit check_config_command(Args args);     // check_config.cpp
Exit sequences_sync_command(Args args);   // sequences_sync.cpp
Exit backfill_command(Args args);         // backfill.cpp
Exit mapping_check_command(Args args);    // mapping.cpp
Exit mapping_install_command(Args args);  // mapping.cpp
// mapping.cpp: resolves and checks (or installs) migration.mapping on both stores; 0 when valid.
int check_mapping_on_stores(const config::Config& config, const std::string& database,
                            jobs::mapping::MappingAction action);
// mapping.cpp: what `pgdual run` checks at start: the new store holds this mapping's views.
struct MappingVerification {
  int exit_code = 0;                              // 1: do not start
  std::optional<std::vector<std::string>> lossy;  // nullopt: the stores could not be read
};
MappingVerification verify_mapping(const config::Config& config);
Exit reconcile_command(Args args);       // reconcile.cpp
Exit cdc_preflight_command(Args args);   // cdc.cpp
Exit cdc_setup_command(Args args);       // cdc.cpp
Exit cdc_status_command(Args args);      // cdc.cpp
Exit cdc_teardown_command(Args args);    // cdc.cpp
Exit cdc_cutover_command(Args args);     // cdc.cpp
Exit cdc_rollback_command(Args args);    // cdc.cpp
Exit cutover_check_command(Args args);   // cutover.cpp
Exit journal_status_command(Args args);  // journal.cpp
Exit journal_purge_command(Args args);   // journal.cpp
Exit status_command(Args args);          // status.cpp
Exit version_command(Args args);         // version.cpp

}  // namespace pgdual::cmd
