#include "jobs/backfill/store_pair.hpp"

#include "libpq/conninfo.hpp"

namespace pgdual::jobs::backfill {

namespace {

// Text forms that round-trip exactly and read the same on both stores, and a row lock held by
// the application waited for only briefly (the chunk is retried smaller), so the job never sits
// in a deadlock with it. No statement may be cut short by the role's defaults...
constexpr const char* kSessionSettings =
    "SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET timezone = 'UTC'; "
    "SET extra_float_digits = 3; SET standard_conforming_strings = on; "
    "SET client_encoding = 'UTF8'; SET lock_timeout = '1s'";
// ...but a job that hangs must not hold row locks on the old store for ever: the server ends a
// transaction idle that long (the chunk then fails its liveness check and is retried), and a
// statement on the new store that long is cancelled.
constexpr const char* kOldStoreSettings =
    "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = '10min'";
constexpr const char* kNewStoreSettings =
    "SET statement_timeout = '5min'; SET idle_in_transaction_session_timeout = 0";

std::string open(const config::BackendConfig& backend, const std::string& database,
                 const std::string& application_name, const char* name, const char* settings,
                 const std::string& extra_settings, pg::Conn& conn) {
  std::string conninfo = pg::libpq_conninfo(backend, database, application_name);
  // A peer that vanished (a network partition) is noticed within about a minute.
  pg::append_conninfo_keyword(conninfo, "keepalives_idle", "15");
  pg::append_conninfo_keyword(conninfo, "keepalives_interval", "5");
  pg::append_conninfo_keyword(conninfo, "keepalives_count", "4");
  pg::append_conninfo_keyword(conninfo, "tcp_user_timeout", "60000");
  conn.reset(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return std::string(name) + " store: " + pg::connection_error(conn.get());
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  for (const char* sql : {kSessionSettings, settings, extra_settings.c_str()}) {
    if (*sql == '\0') continue;
    pg::Result result(PQexec(conn.get(), sql));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return std::string(name) + " store: " + pg::connection_error(conn.get());
    }
  }
  return "";
}

}  // namespace

std::string StorePair::connect(const config::Config& config, const std::string& database) {
  old_store.reset();
  new_store.reset();
  return reconnect_broken(config, database);
}

std::string StorePair::reconnect_broken(const config::Config& config, const std::string& database) {
  const auto broken = [](const pg::Conn& conn) {
    return !conn || PQstatus(conn.get()) != CONNECTION_OK;
  };
  if (broken(old_store)) {
    if (auto error = open(config.old_backend, database, application_name, "old", kOldStoreSettings,
                          extra_settings, old_store);
        !error.empty()) {
      return error;
    }
  }
  if (broken(new_store)) {
    new_store.reset();  // let go of the dead session first (its locks)
    if (auto error = open(config.new_backend, database, application_name, "new", kNewStoreSettings,
                          extra_settings, new_store);
        !error.empty()) {
      return error;
    }
    // Copied rows must not fire the new store's triggers (an audit row, an updated_at set to
    // now) or its foreign-key checks (a self-reference to a row of a later chunk), as logical
    // replication's apply does not. Only a superuser, or a role granted SET on this parameter,
    // may; without it, tables with triggers are refused (catalog_reader).
    pg::Result replica(PQexec(new_store.get(), "SET session_replication_role = replica"));
    replica_role = PQresultStatus(replica.get()) == PGRES_COMMAND_OK;
  }
  return "";
}

bool StorePair::healthy() const {
  return old_store && new_store && PQstatus(old_store.get()) == CONNECTION_OK &&
         PQstatus(new_store.get()) == CONNECTION_OK;
}

std::string job_database(const config::Config& config, const std::string& requested) {
  return requested.empty() ? config.old_backend.dbname.value_or("") : requested;
}

}  // namespace pgdual::jobs::backfill
