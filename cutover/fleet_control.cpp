#include "cutover/fleet_control.hpp"

#include "cdc/scope.hpp"
#include "libpq/connection.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::cutover {

namespace {

std::string flips(const std::string& schema) {
  return text::quote_identifier(schema) + ".fleet_flips";
}
std::string acks(const std::string& schema) {
  return text::quote_identifier(schema) + ".fleet_acks";
}
std::string members(const std::string& schema) {
  return text::quote_identifier(schema) + ".fleet_members";
}
// One key per schema, so that two migrations sharing a control database do not block each other.
std::string lock_key(const std::string& schema) { return "pgdual fleet flip " + schema; }

std::string_view stage_name(AckStage stage) {
  return stage == AckStage::paused ? "paused" : "flipped";
}

pg::Reply query(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                std::string& error) {
  pg::Reply reply = cdc::run_query(conn, sql, params, {});
  if (!reply.ok) error = reply.error;
  return reply;
}

}  // namespace

std::string_view to_string(FlipState state) {
  switch (state) {
    case FlipState::pausing:
      return "pausing";
    case FlipState::flipping:
      return "flipping";
    case FlipState::done:
      return "done";
    case FlipState::aborted:
      return "aborted";
  }
  return "aborted";
}

std::optional<FlipState> parse_flip_state(std::string_view text) {
  for (auto state :
       {FlipState::pausing, FlipState::flipping, FlipState::done, FlipState::aborted}) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

bool ensure_control_tables(PGconn* conn, const std::string& schema, std::string& error) {
  // CREATE ... IF NOT EXISTS still fails when two instances create the same table at once:
  // the transaction-scoped lock puts them one after the other.
  const std::string sql =
      "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(" +
      text::quote_literal(lock_key(schema) + " ddl") + ")); CREATE SCHEMA IF NOT EXISTS " +
      text::quote_identifier(schema) + "; CREATE TABLE IF NOT EXISTS " + flips(schema) +
      " (id bigserial PRIMARY KEY, coordinator text NOT NULL, assignment text NOT NULL, "
      "previous text NOT NULL, state text NOT NULL CHECK (state IN "
      "('pausing', 'flipping', 'done', 'aborted')), reason text NOT NULL DEFAULT '', "
      "members text[] NOT NULL DEFAULT '{}', started_at timestamptz NOT NULL DEFAULT now(), "
      "updated_at timestamptz NOT NULL DEFAULT now()); CREATE TABLE IF NOT EXISTS " +
      acks(schema) + " (flip_id bigint NOT NULL REFERENCES " + flips(schema) +
      " ON DELETE CASCADE, instance text NOT NULL, stage text NOT NULL, "
      "at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (flip_id, instance, stage)); "
      "CREATE TABLE IF NOT EXISTS " +
      members(schema) +
      " (instance text PRIMARY KEY, seen_at timestamptz NOT NULL, databases text[] NOT NULL); "
      "COMMIT";
  const pg::Reply reply = pg::exec(conn, sql, {});
  if (reply.ok) return true;
  error = reply.error;
  pg::exec(conn, "ROLLBACK", {});
  return false;
}

std::optional<FlipRecord> newest_flip(PGconn* conn, const std::string& schema, bool done_only,
                                      std::string& error) {
  const pg::Reply rows = query(conn,
                               "SELECT id, coordinator, assignment, previous, state, reason, "
                               "extract(epoch FROM clock_timestamp() - updated_at)::float8 FROM " +
                                   flips(schema) + (done_only ? " WHERE state = 'done'" : "") +
                                   " ORDER BY id DESC LIMIT 1",
                               {}, error);
  if (!rows.ok || rows.rows() == 0) return std::nullopt;
  FlipRecord record;
  record.id = std::stoll(rows.value(0, 0));
  record.coordinator = rows.value(0, 1);
  record.assignment = rows.value(0, 2);
  record.previous = rows.value(0, 3);
  record.state = parse_flip_state(rows.value(0, 4)).value_or(FlipState::aborted);
  record.reason = rows.value(0, 5);
  record.idle_seconds = std::stod(rows.value(0, 6));
  return record;
}

bool record_baseline(PGconn* conn, const std::string& schema, const std::string& instance,
                     const std::string& assignment, std::string& error) {
  // Under the DDL lock, taken before the INSERT's snapshot: two instances starting together
  // record one baseline.
  if (!query(conn, "BEGIN", {}, error).ok) return false;
  const bool locked =
      query(conn, "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))",
            {lock_key(schema) + " ddl"}, error)
          .ok;
  const pg::Reply inserted =
      locked ? query(conn,
                     "INSERT INTO " + flips(schema) +
                         " (coordinator, assignment, previous, state, reason) SELECT $1, $2, $2, "
                         "'done', 'baseline' WHERE NOT EXISTS (SELECT 1 FROM " +
                         flips(schema) + ")",
                     {instance, assignment}, error)
             : pg::Reply{};
  if (!inserted.ok || !query(conn, "COMMIT", {}, error).ok) {
    std::string ignored;
    query(conn, "ROLLBACK", {}, ignored);
    return false;
  }
  return std::string_view(PQcmdTuples(inserted.result.get())) == "1";
}

bool record_assignment(PGconn* conn, const std::string& schema, const std::string& instance,
                       const std::string& assignment, const std::string& reason,
                       std::string& error) {
  return query(conn,
               "INSERT INTO " + flips(schema) +
                   " (coordinator, assignment, previous, state, reason) "
                   "VALUES ($1, $2, $2, 'done', $3)",
               {instance, assignment, reason}, error)
      .ok;
}

bool try_lock_flips(PGconn* conn, const std::string& schema, std::string& error) {
  const pg::Reply reply =
      query(conn, "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1))",
            {lock_key(schema)}, error);
  return reply.ok && reply.value(0, 0) == "t";
}

void unlock_flips(PGconn* conn, const std::string& schema) {
  std::string ignored;
  query(conn, "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext($1))", {lock_key(schema)},
        ignored);
}

std::int64_t start_flip(PGconn* conn, const std::string& schema, const std::string& coordinator,
                        const std::string& assignment, const std::string& previous,
                        const std::vector<std::string>& members, std::string& error) {
  const pg::Reply reply =
      query(conn,
            "INSERT INTO " + flips(schema) +
                " (coordinator, assignment, previous, state, members) "
                "VALUES ($1, $2, $3, 'pausing', $4::text[]) RETURNING id",
            {coordinator, assignment, previous, cdc::text_array(members)}, error);
  if (!reply.ok || reply.rows() != 1) return 0;
  return std::stoll(reply.value(0, 0));
}

bool move_flip(PGconn* conn, const std::string& schema, std::int64_t id,
               const std::vector<FlipState>& from, FlipState to, const std::string& reason,
               std::string& error) {
  std::vector<std::string> states;
  for (auto state : from) states.emplace_back(to_string(state));
  const pg::Reply reply = query(
      conn,
      "UPDATE " + flips(schema) +
          " SET state = $2, reason = $3, updated_at = now() "
          "WHERE id = $1 AND state = ANY ($4::text[])",
      {std::to_string(id), std::string(to_string(to)), reason, cdc::text_array(states)}, error);
  return reply.ok && std::string_view(PQcmdTuples(reply.result.get())) == "1";
}

int abort_open_flips(PGconn* conn, const std::string& schema, const std::string& reason,
                     std::string& error) {
  const pg::Reply reply = query(conn,
                                "UPDATE " + flips(schema) +
                                    " SET state = 'aborted', reason = $1, updated_at = now() "
                                    "WHERE state IN ('pausing', 'flipping')",
                                {reason}, error);
  if (!reply.ok) return 0;
  return std::atoi(PQcmdTuples(reply.result.get()));
}

bool heartbeat(PGconn* conn, const std::string& schema, const std::string& instance,
               const std::vector<std::string>& databases, std::string& error) {
  return query(conn,
               "INSERT INTO " + members(schema) +
                   " (instance, seen_at, databases) VALUES ($1, now(), $2::text[]) "
                   "ON CONFLICT (instance) DO UPDATE SET seen_at = now(), "
                   "databases = EXCLUDED.databases",
               {instance, cdc::text_array(databases)}, error)
      .ok;
}

void forget_member(PGconn* conn, const std::string& schema, const std::string& instance) {
  std::string ignored;
  query(conn, "DELETE FROM " + members(schema) + " WHERE instance = $1", {instance}, ignored);
}

Members live_members(PGconn* conn, const std::string& schema, std::string& error) {
  Members live;
  const pg::Reply rows = query(conn,
                               "SELECT m.instance, d FROM " + members(schema) +
                                   " m LEFT JOIN LATERAL unnest(m.databases) d ON true "
                                   "WHERE m.seen_at > now() - make_interval(secs => $1)",
                               {std::to_string(kMemberFreshSeconds)}, error);
  for (int row = 0; row < rows.rows(); ++row) {
    live.instances.insert(rows.value(row, 0));
    if (!rows.value(row, 1).empty()) live.databases.insert(rows.value(row, 1));
  }
  return live;
}

bool touch_flip(PGconn* conn, const std::string& schema, std::int64_t id, std::string& error) {
  return query(conn,
               "UPDATE " + flips(schema) +
                   " SET updated_at = now() WHERE id = $1 AND state IN ('pausing', 'flipping')",
               {std::to_string(id)}, error)
      .ok;
}

bool acknowledge(PGconn* conn, const std::string& schema, std::int64_t id,
                 const std::string& instance, AckStage stage, std::string& error) {
  const pg::Reply reply =
      query(conn,
            "INSERT INTO " + acks(schema) +
                " (flip_id, instance, stage) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
            {std::to_string(id), instance, std::string(stage_name(stage))}, error);
  return reply.ok;
}

std::set<std::string> acknowledged(PGconn* conn, const std::string& schema, std::int64_t id,
                                   AckStage stage, std::string& error) {
  std::set<std::string> instances;
  const pg::Reply rows =
      query(conn, "SELECT instance FROM " + acks(schema) + " WHERE flip_id = $1 AND stage = $2",
            {std::to_string(id), std::string(stage_name(stage))}, error);
  for (int row = 0; row < rows.rows(); ++row) instances.insert(rows.value(row, 0));
  return instances;
}

}  // namespace pgdual::cutover
