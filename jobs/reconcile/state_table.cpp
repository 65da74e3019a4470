#include "jobs/reconcile/state_table.hpp"

#include "jobs/backfill/blocking_query.hpp"
#include "jobs/backfill/progress_table.hpp"
#include "journal/reconcile_queue.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::jobs::reconcile {

namespace {

using backfill::run_query;
using backfill::single_value;

std::string statement(PGconn* conn, const std::string& sql,
                      const std::vector<std::string>& params) {
  std::string error;
  run_query(conn, sql, params, error);
  return error;
}

}  // namespace

StateTable::StateTable(std::string schema)
    : schema_(std::move(schema)),
      progress_(text::quote_identifier(schema_) + ".reconcile_progress") {}

std::string StateTable::ensure(PGconn* conn) const {
  // Several statements in one simple Query (PQexec): the extended protocol takes only one.
  const std::string sql =
      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgdual reconcile schema')); " +
      journal::reconcile_queue_ddl(schema_) + "; CREATE TABLE IF NOT EXISTS " + progress_ +
      " (table_name text PRIMARY KEY, job text, state text NOT NULL, key_columns text[] NOT "
      "NULL, last_key text[], rows_compared bigint NOT NULL DEFAULT 0, differences bigint NOT "
      "NULL DEFAULT 0, repaired bigint NOT NULL DEFAULT 0, started_at timestamptz, "
      "updated_at timestamptz, note text, proof_verdict text, proof_old_rows bigint, "
      "proof_new_rows bigint, proof_old_checksum text, proof_new_checksum text, "
      "proof_settings text, proved_at timestamptz); COMMIT";
  pg::Result result(PQexec(conn, sql.c_str()));
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) return "";
  std::string error = pg::connection_error(conn);
  pg::Result ignored(PQexec(conn, "ROLLBACK"));
  return error;
}

std::optional<SavedProgress> StateTable::begin(PGconn* conn, const TablePlan& plan,
                                               const std::string& job, bool resume,
                                               std::string& error) const {
  std::optional<SavedProgress> saved;
  if (resume) {
    const pg::Result row =
        run_query(conn,
                  "SELECT state, rows_compared, differences, repaired FROM " + progress_ +
                      " WHERE table_name = $1 AND key_columns = $2::text[] AND state <> 'done'",
                  {plan.target, backfill::key_array(plan)}, error);
    if (!row) return std::nullopt;
    if (PQntuples(row.get()) == 1) {
      SavedProgress progress;
      progress.state = PQgetvalue(row.get(), 0, 0);
      progress.rows_compared = std::stoll(PQgetvalue(row.get(), 0, 1));
      progress.differences = std::stoll(PQgetvalue(row.get(), 0, 2));
      progress.repaired = std::stoll(PQgetvalue(row.get(), 0, 3));
      // The key back from its values: one query, no array parsing of our own.
      const pg::Result key = run_query(
          conn,
          "SELECT k FROM " + progress_ +
              ", unnest(last_key) WITH ORDINALITY AS u(k, i) WHERE table_name = $1 ORDER BY i",
          {plan.target}, error);
      if (!key) return std::nullopt;
      for (int i = 0; i < PQntuples(key.get()); ++i)
        progress.last_key.emplace_back(PQgetvalue(key.get(), i, 0));
      saved = progress;
    }
  }
  const std::string sql =
      "INSERT INTO " + progress_ +
      " AS p (table_name, job, state, key_columns, started_at, updated_at) VALUES ($1, $2, "
      "'comparing', $3::text[], now(), now()) ON CONFLICT (table_name) DO UPDATE SET job = $2, "
      "state = 'comparing', key_columns = $3::text[], updated_at = now(), note = NULL" +
      (saved ? std::string("")
             : std::string(", last_key = NULL, rows_compared = 0, differences = 0, repaired = 0, "
                           "started_at = now()"));
  error = statement(conn, sql, {plan.target, job, backfill::key_array(plan)});
  return saved;
}

std::string StateTable::record(PGconn* conn, const std::string& table, const Key& last_key,
                               const SavedProgress& totals) const {
  return statement(conn,
                   "UPDATE " + progress_ +
                       " SET last_key = $2::text[], rows_compared = $3, differences = $4, "
                       "repaired = $5, updated_at = now() WHERE table_name = $1",
                   {table, backfill::text_array(last_key), std::to_string(totals.rows_compared),
                    std::to_string(totals.differences), std::to_string(totals.repaired)});
}

std::string StateTable::finish(PGconn* conn, const std::string& table, const std::string& state,
                               const std::string& note) const {
  return statement(conn,
                   "UPDATE " + progress_ +
                       " SET state = $2, note = nullif($3, ''), updated_at = now() "
                       "WHERE table_name = $1",
                   {table, state, note});
}

std::string StateTable::save_proof(PGconn* conn, const std::string& table,
                                   const ProofRecord& proof) const {
  return statement(conn,
                   "UPDATE " + progress_ +
                       " SET proof_verdict = $2, proof_old_rows = $3, proof_new_rows = $4, "
                       "proof_old_checksum = $5, proof_new_checksum = $6, proof_settings = $7, "
                       "proved_at = now() WHERE table_name = $1",
                   {table, proof.verdict, std::to_string(proof.old_rows),
                    std::to_string(proof.new_rows), proof.old_sum, proof.new_sum, proof.settings});
}

std::int64_t StateTable::marked(PGconn* conn, const std::string& table, std::string& error) const {
  const pg::Result row =
      run_query(conn,
                "SELECT marked FROM " + text::quote_identifier(schema_) + "." +
                    std::string(journal::kReconcileQueueTable) + " WHERE table_name = $1",
                {table}, error);
  if (!row) return -1;
  return PQntuples(row.get()) == 1 ? std::stoll(PQgetvalue(row.get(), 0, 0)) : 0;
}

std::string StateTable::resolve(PGconn* conn, const std::string& table, std::int64_t marked,
                                std::int64_t differences, const std::string& note) const {
  return statement(conn, journal::reconcile_queue_resolve_sql(schema_),
                   {table, std::to_string(marked), std::to_string(differences), note});
}

std::vector<std::pair<std::string, std::int64_t>> StateTable::unresolved(PGconn* conn,
                                                                         std::string& error) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  const pg::Result rows =
      run_query(conn,
                "SELECT table_name, marked FROM " + text::quote_identifier(schema_) + "." +
                    std::string(journal::kReconcileQueueTable) +
                    " WHERE marked > resolved ORDER BY table_name",
                {}, error);
  if (!rows) return out;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    out.emplace_back(PQgetvalue(rows.get(), i, 0), std::stoll(PQgetvalue(rows.get(), i, 1)));
  }
  return out;
}

}  // namespace pgdual::jobs::reconcile
