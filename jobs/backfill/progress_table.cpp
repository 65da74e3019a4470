#include "jobs/backfill/progress_table.hpp"

#include "jobs/backfill/blocking_query.hpp"
#include "libpq/connection.hpp"

namespace pgdual::jobs::backfill {

namespace {

using pg::Result;

// "" or the error.
std::string run_statement(PGconn* conn, const std::string& sql,
                          const std::vector<std::string>& params) {
  std::string error;
  run_query(conn, sql, params, error);
  return error;
}

}  // namespace

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string key_array(const TablePlan& plan) {
  std::vector<std::string> keys;
  for (const auto& column : plan.key) keys.push_back(column.quoted);
  return text_array(keys);
}

ProgressTable::ProgressTable(std::string schema_quoted)
    : table_(std::move(schema_quoted) + ".backfill_progress") {}

std::string ProgressTable::ensure(PGconn* conn) const {
  const std::string schema =
      table_.substr(0, table_.size() - std::string(".backfill_progress").size());
  const std::string sql =
      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgdual backfill schema')); "
      "CREATE SCHEMA IF NOT EXISTS " +
      schema + "; CREATE TABLE IF NOT EXISTS " + table_ +
      " (source_table text PRIMARY KEY, target_table text NOT NULL, state text NOT NULL, "
      "key_columns text[] NOT NULL, last_key text[], rows_copied bigint NOT NULL DEFAULT 0, "
      "rows_skipped bigint NOT NULL DEFAULT 0, rows_overwritten bigint NOT NULL DEFAULT 0, bytes "
      "bigint NOT NULL DEFAULT 0, "
      "chunks bigint NOT NULL DEFAULT 0, estimated_rows bigint, rows_per_second double precision, "
      "last_chunk_rows integer, last_chunk_ms integer, seconds double precision NOT NULL DEFAULT "
      "0, "
      "started_at timestamptz, updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
      "finished_at timestamptz, error text, job text); "
      // Added after the first version of the table.
      "ALTER TABLE " +
      table_ + " ADD COLUMN IF NOT EXISTS rows_overwritten bigint NOT NULL DEFAULT 0, " +
      "ADD COLUMN IF NOT EXISTS journal_mark bigint; COMMIT";
  Result result(PQexec(conn, sql.c_str()));
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) return "";
  const std::string error = pg::connection_error(conn);
  Result rollback(PQexec(conn, "ROLLBACK"));
  return error;
}

std::optional<TableProgress> ProgressTable::load(PGconn* conn, const TablePlan& plan,
                                                 std::string& error) const {
  const Result result = run_query(conn,
                                  "SELECT state, last_key, rows_copied, rows_skipped, bytes, "
                                  "chunks, seconds, rows_overwritten, coalesce(error, ''), "
                                  "key_columns = $2::text[] FROM " +
                                      table_ + " WHERE source_table = $1",
                                  {plan.source, key_array(plan)}, error);
  if (!result) return std::nullopt;
  if (PQntuples(result.get()) == 0) return std::nullopt;
  TableProgress progress;
  progress.state = PQgetvalue(result.get(), 0, 0);
  progress.rows_copied = std::stoll(PQgetvalue(result.get(), 0, 2));
  progress.rows_skipped = std::stoll(PQgetvalue(result.get(), 0, 3));
  progress.bytes = std::stoll(PQgetvalue(result.get(), 0, 4));
  progress.chunks = std::stoll(PQgetvalue(result.get(), 0, 5));
  progress.seconds = std::stod(PQgetvalue(result.get(), 0, 6));
  progress.rows_overwritten = std::stoll(PQgetvalue(result.get(), 0, 7));
  progress.note = PQgetvalue(result.get(), 0, 8);
  progress.same_key = std::string(PQgetvalue(result.get(), 0, 9)) == "t";
  if (!PQgetisnull(result.get(), 0, 1)) {
    // The elements one by one, rather than parsing the array's text form.
    const Result elements = run_query(conn,
                                      "SELECT key FROM " + table_ +
                                          ", unnest(last_key) WITH ORDINALITY AS k(key, position) "
                                          "WHERE source_table = $1 ORDER BY position",
                                      {plan.source}, error);
    if (!elements) return std::nullopt;
    for (int i = 0; i < PQntuples(elements.get()); ++i) {
      progress.last_key.emplace_back(PQgetvalue(elements.get(), i, 0));
    }
  }
  return progress;
}

std::string ProgressTable::begin(PGconn* conn, const TablePlan& plan, const std::string& job,
                                 bool restart, std::int64_t& journal_mark) const {
  const std::string estimated =
      plan.estimated_rows ? std::to_string(*plan.estimated_rows) : std::string();
  std::string sql =
      "INSERT INTO " + table_ +
      " AS p (source_table, target_table, state, key_columns, estimated_rows, "
      "started_at, job, journal_mark) VALUES ($1, $2, 'copying', $3::text[], "
      "NULLIF($4, '')::bigint, clock_timestamp(), $5, $6::bigint) "
      "ON CONFLICT (source_table) DO UPDATE SET target_table = EXCLUDED.target_table, "
      "state = 'copying', key_columns = EXCLUDED.key_columns, "
      "estimated_rows = EXCLUDED.estimated_rows, job = EXCLUDED.job, "
      "finished_at = NULL, updated_at = clock_timestamp()";
  if (restart) {
    sql +=
        ", last_key = NULL, rows_copied = 0, rows_skipped = 0, rows_overwritten = 0, bytes = 0, "
        "chunks = 0, seconds = 0, error = NULL, journal_mark = EXCLUDED.journal_mark, "
        "started_at = clock_timestamp()";
  }
  // The journal's mark is the one of the run that copied the first chunk (journal_fence.hpp).
  sql += " RETURNING coalesce(journal_mark, -1)";
  std::string error;
  const std::string mark = single_value(
      conn, sql,
      {plan.source, plan.target, key_array(plan), estimated, job, std::to_string(journal_mark)},
      error);
  if (!error.empty()) return error;
  journal_mark = std::stoll(mark);
  return "";
}

std::string ProgressTable::record_chunk(PGconn* conn, const std::string& source,
                                        const ChunkProgress& chunk) const {
  const std::string sql =
      "UPDATE " + table_ +
      " SET last_key = $2::text[], rows_copied = rows_copied + $3::bigint, "
      "rows_skipped = rows_skipped + $4::bigint, bytes = bytes + $5::bigint, "
      "chunks = chunks + 1, last_chunk_rows = $6::int, last_chunk_ms = $7::int, "
      "rows_per_second = $8::float8, rows_overwritten = rows_overwritten + $9::bigint, seconds = "
      "seconds + $7::int / 1000.0, "
      "state = 'copying', updated_at = clock_timestamp() "
      "WHERE source_table = $1";
  return run_statement(
      conn, sql,
      {source, text_array(chunk.last_key), std::to_string(chunk.rows_copied),
       std::to_string(chunk.rows_skipped), std::to_string(chunk.bytes),
       std::to_string(chunk.chunk_rows), std::to_string(chunk.chunk_ms),
       std::to_string(chunk.rows_per_second), std::to_string(chunk.rows_overwritten)});
}

std::string ProgressTable::finish(PGconn* conn, const std::string& source, const std::string& state,
                                  const std::string& note) const {
  const std::string sql =
      "UPDATE " + table_ +
      " SET state = $2, error = NULLIF($3, ''), updated_at = clock_timestamp(), "
      "finished_at = CASE WHEN $2 = 'done' THEN clock_timestamp() END "
      "WHERE source_table = $1";
  return run_statement(conn, sql, {source, state, note});
}

}  // namespace pgdual::jobs::backfill
