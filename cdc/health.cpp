#include "cdc/health.hpp"

#include <cstdlib>

#include "cdc/scope.hpp"

namespace pgdual::cdc {
namespace {

const pg::Cancelled kNeverCancelled = [] { return false; };

pg::Reply query(PGconn* conn, const std::string& sql, const std::string& name) {
  return run_query(conn, sql, {name}, kNeverCancelled);
}

bool is_null(const pg::Reply& reply, int row, int column) {
  return PQgetisnull(reply.result.get(), row, column) != 0;
}

std::optional<std::int64_t> optional_integer(const pg::Reply& reply, int row, int column) {
  if (is_null(reply, row, column)) return std::nullopt;
  return std::strtoll(PQgetvalue(reply.result.get(), row, column), nullptr, 10);
}

std::optional<double> optional_double(const pg::Reply& reply, int row, int column) {
  if (is_null(reply, row, column)) return std::nullopt;
  return std::strtod(PQgetvalue(reply.result.get(), row, column), nullptr);
}

bool is_true(const pg::Reply& reply, int row, int column) {
  return reply.value(row, column) == "t";
}

// One row always: the walsender's and the slot's columns are NULL when they are missing. The
// apply lag falls back to the slot's confirmed position while no walsender is connected.
constexpr const char* kPublisherSql = R"SQL(
WITH sender AS (
  SELECT replay_lsn, EXTRACT(epoch FROM replay_lag)::float8 AS lag_seconds
  FROM pg_catalog.pg_stat_replication WHERE application_name = $1
  ORDER BY replay_lsn DESC NULLS LAST LIMIT 1),
slot AS (
  SELECT active, restart_lsn, confirmed_flush_lsn, wal_status, safe_wal_size
  FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1),
       EXISTS (SELECT 1 FROM slot),
       COALESCE((SELECT active FROM slot), false),
       EXISTS (SELECT 1 FROM sender),
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
         COALESCE((SELECT replay_lsn FROM sender), (SELECT confirmed_flush_lsn FROM slot)))::int8,
       CASE WHEN EXISTS (SELECT 1 FROM sender)
            THEN COALESCE((SELECT lag_seconds FROM sender), 0) END,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
                                  (SELECT restart_lsn FROM slot))::int8,
       (SELECT safe_wal_size FROM slot),
       COALESCE((SELECT wal_status FROM slot), '')
)SQL";

constexpr const char* kSubscriberSql = R"SQL(
WITH sub AS (
  SELECT oid, subenabled FROM pg_catalog.pg_subscription
  WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_catalog.pg_database
                                    WHERE datname = pg_catalog.current_database()))
SELECT EXISTS (SELECT 1 FROM sub),
       COALESCE((SELECT subenabled FROM sub), false),
       EXISTS (SELECT 1 FROM pg_catalog.pg_stat_subscription s
               WHERE s.subid = (SELECT oid FROM sub) AND s.relid IS NULL AND s.pid IS NOT NULL),
       COALESCE((SELECT apply_error_count FROM pg_catalog.pg_stat_subscription_stats
                 WHERE subid = (SELECT oid FROM sub)), 0),
       COALESCE((SELECT sync_error_count FROM pg_catalog.pg_stat_subscription_stats
                 WHERE subid = (SELECT oid FROM sub)), 0),
       (SELECT EXTRACT(epoch FROM now() - last_msg_receipt_time)::float8
        FROM pg_catalog.pg_stat_subscription s
        WHERE s.subid = (SELECT oid FROM sub) AND s.relid IS NULL),
       COALESCE((SELECT string_agg(srsubstate || ':' || n, ',')
                 FROM (SELECT srsubstate::text, count(*) AS n FROM pg_catalog.pg_subscription_rel
                       WHERE srsubid = (SELECT oid FROM sub) GROUP BY 1) states), '')
)SQL";

}  // namespace

std::int64_t SubscriberHealth::tables_not_ready() const {
  std::int64_t count = 0;
  for (const auto& [state, n] : tables_by_state) {
    if (state != 'r') count += n;
  }
  return count;
}

bool read_publisher_health(PGconn* old_store, const std::string& name, PublisherHealth& out,
                           std::string& error) {
  const auto reply = query(old_store, kPublisherSql, name);
  if (!reply.ok || reply.rows() != 1) {
    error = reply.error.empty() ? "no row" : reply.error;
    return false;
  }
  out = PublisherHealth{};
  out.publication_exists = is_true(reply, 0, 0);
  out.slot_exists = is_true(reply, 0, 1);
  out.slot_active = is_true(reply, 0, 2);
  out.walsender_connected = is_true(reply, 0, 3);
  out.lag_bytes = optional_integer(reply, 0, 4);
  out.lag_seconds = optional_double(reply, 0, 5);
  out.retained_bytes = optional_integer(reply, 0, 6);
  out.safe_wal_bytes = optional_integer(reply, 0, 7);
  out.wal_status = reply.value(0, 8);
  return true;
}

bool read_subscriber_health(PGconn* new_store, const std::string& name, SubscriberHealth& out,
                            std::string& error) {
  const auto reply = query(new_store, kSubscriberSql, name);
  if (!reply.ok || reply.rows() != 1) {
    error = reply.error.empty() ? "no row" : reply.error;
    return false;
  }
  out = SubscriberHealth{};
  out.subscription_exists = is_true(reply, 0, 0);
  out.enabled = is_true(reply, 0, 1);
  out.worker_running = is_true(reply, 0, 2);
  out.apply_errors = optional_integer(reply, 0, 3).value_or(0);
  out.sync_errors = optional_integer(reply, 0, 4).value_or(0);
  out.seconds_since_message = optional_double(reply, 0, 5);
  // "r:3,d:1"
  const std::string states = reply.value(0, 6);
  std::size_t start = 0;
  while (start < states.size()) {
    std::size_t end = states.find(',', start);
    if (end == std::string::npos) end = states.size();
    const std::string part = states.substr(start, end - start);
    if (part.size() >= 3 && part[1] == ':') {
      out.tables_by_state[part[0]] = std::strtoll(part.c_str() + 2, nullptr, 10);
    }
    start = end + 1;
  }
  return true;
}

}  // namespace pgdual::cdc
