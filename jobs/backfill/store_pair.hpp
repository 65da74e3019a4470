#pragma once
// One worker's two connections, straight to the backends of the configuration (never through
// pgdual: the copy must not be mirrored), with the session settings that make text forms of
// values identical on both sides.

#include <string>

#include "config/config.hpp"
#include "libpq/connection.hpp"

namespace pgdual::jobs::backfill {

struct StorePair {
  pg::Conn old_store;
  pg::Conn new_store;
  // The new store's session runs with session_replication_role = replica: its user triggers
  // and foreign-key checks do not fire on copied rows.
  bool replica_role = false;
  std::string application_name = "pgdual backfill";  // what pg_stat_activity shows
  std::string extra_settings;  // SET statements both sessions run after connecting

  // "" or what failed, naming the store (never the conninfo: it holds the password).
  std::string connect(const config::Config& config, const std::string& database);
  // Replaces only the connection(s) that broke: a healthy new-store session keeps its locks
  // and temporary tables.
  std::string reconnect_broken(const config::Config& config, const std::string& database);
  bool healthy() const;
};

// The database the job works on: --database, else the old backend's dbname ("" when neither).
std::string job_database(const config::Config& config, const std::string& requested);

}  // namespace pgdual::jobs::backfill
