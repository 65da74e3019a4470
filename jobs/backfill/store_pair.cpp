#include "jobs/backfill/store_pair.hpp"

#include "libpq/conninfo.hpp"

namespace pgdual::jobs::backfill {

namespace {

// Text forms that round-trip exactly and read the same on both stores; no timeout of the role's
// defaults may cut a chunk short, and a row lock held by the application is waited for only
// briefly (the chunk is retried smaller) so the job never sits in a deadlock with it.
constexpr const char* kSessionSettings =
    "SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET timezone = 'UTC'; "
    "SET extra_float_digits = 3; SET standard_conforming_strings = on; "
    "SET client_encoding = 'UTF8'; SET statement_timeout = 0; "
    "SET idle_in_transaction_session_timeout = 0; SET lock_timeout = '1s'";

std::string open(const config::BackendConfig& backend, const std::string& database,
                 const char* name, pg::Conn& conn) {
  conn.reset(PQconnectdb(pg::libpq_conninfo(backend, database, "pgdual backfill").c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return std::string(name) + " store: " + pg::connection_error(conn.get());
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  pg::Result result(PQexec(conn.get(), kSessionSettings));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return std::string(name) + " store: " + pg::connection_error(conn.get());
  }
  return "";
}

}  // namespace

std::string StorePair::connect(const config::Config& config, const std::string& database) {
  if (auto error = open(config.old_backend, database, "old", old_store); !error.empty()) {
    return error;
  }
  return open(config.new_backend, database, "new", new_store);
}

bool StorePair::healthy() const {
  return old_store && new_store && PQstatus(old_store.get()) == CONNECTION_OK &&
         PQstatus(new_store.get()) == CONNECTION_OK;
}

std::string job_database(const config::Config& config, const std::string& requested) {
  return requested.empty() ? config.old_backend.dbname.value_or("") : requested;
}

}  // namespace pgdual::jobs::backfill
