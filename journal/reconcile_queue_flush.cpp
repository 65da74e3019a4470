// The reconciliation queue's part of the backfill watch (see reconcile_queue_flush.hpp).

#include "journal/reconcile_queue_flush.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "journal/parsed_rows.hpp"
#include "journal/reconcile_queue.hpp"
#include "journal/store/table_journal.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::journal {

// metrics/ may not include journal/: it spells the same name itself.
static_assert(metrics::JournalMetrics::kUnknownTableMark == kUnknownTable);

namespace {

constexpr std::string_view kUndefinedTable = "42P01";

bool parse_count(const std::string& text, std::int64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

PendingMarks::PendingMarks(metrics::JournalMetrics& journal,
                           const std::optional<std::string>& backend_dbname)
    : journal_(journal) {
  for (auto& [key, count] : journal_.take_reconciliation_marks()) {
    by_dbname_[backend_dbname.value_or(key.first)].emplace(key, count);
  }
}

PendingMarks::~PendingMarks() {
  for (const auto& [dbname, marks] : by_dbname_) journal_.return_reconciliation_marks(marks);
}

const ReconciliationMarks& PendingMarks::of(const std::string& dbname) const {
  static const ReconciliationMarks kNone;
  const auto it = by_dbname_.find(dbname);
  return it == by_dbname_.end() ? kNone : it->second;
}

std::string ReconcileQueueSync::exists_sql(const std::string& schema) {
  return "SELECT to_regclass(" +
         text::quote_literal(text::quote_identifier(schema) + "." +
                             std::string(kReconcileQueueTable)) +
         ") IS NOT NULL";
}

std::optional<metrics::ReconcileQueueRow> ReconcileQueueSync::parse_row(const std::string& database,
                                                                        const Fields& fields) {
  std::int64_t marked = 0, resolved = 0, differences = 0;
  if (!parse_count(fields[1], marked) || !parse_count(fields[2], resolved) ||
      !parse_count(fields[3], differences)) {
    return std::nullopt;
  }
  return metrics::ReconcileQueueRow{database, fields[0],
                                    reconcile_unresolved(marked, resolved, differences)};
}

bool ReconcileQueueSync::run(PGconn* conn, const std::string& dbname, ReconcileQueueState& state,
                             PendingMarks& pending, const pg::Cancelled& cancelled) const {
  const auto& marks = pending.of(dbname);
  if (!marks.empty()) {
    auto flushed = flush(conn, marks, state, cancelled);
    if (!flushed.ok) {
      if (!state.flush_logged && !stopping_()) {
        spdlog::warn(
            "reconciliation queue: cannot add {} mark(s) to {}.{} in database \"{}\" of the new "
            "store (kept, tried again in a few seconds): {} {}",
            marks.size(), schema_, kReconcileQueueTable, dbname, flushed.sqlstate, flushed.error);
      }
      state.flush_logged = true;
      if (flushed.broken) return false;
    } else {
      pending.erase(dbname);
      state.flush_logged = false;
    }
  }
  auto reply = read(conn, dbname, state, cancelled);
  if (!reply.ok) {
    if (!state.read_logged && !stopping_()) {
      spdlog::warn(
          "reconciliation queue: reading {}.{} in database \"{}\" of the new store failed (its "
          "metrics keep their last values): {} {}",
          schema_, kReconcileQueueTable, dbname, reply.sqlstate, reply.error);
    }
    state.read_logged = true;
    return !reply.broken;
  }
  state.read_logged = false;
  return true;
}

pg::Reply ReconcileQueueSync::flush(PGconn* conn, const ReconciliationMarks& marks,
                                    ReconcileQueueState& state,
                                    const pg::Cancelled& cancelled) const {
  pg::Reply reply = pg::exec(conn, "BEGIN", cancelled);
  if (reply.ok && !state.table_ready) {
    // Instances (and pgdual reconcile) may create it at once: the journal's DDL lock orders them.
    reply = pg::exec(conn, table::ddl_lock_sql(schema_), cancelled);
    if (reply.ok) reply = pg::exec(conn, reconcile_queue_ddl(schema_), cancelled);
  }
  // One upsert per table, in table order: client databases that share one dbname of the new
  // store would otherwise lock the same rows in another order than a concurrent instance.
  std::map<std::string, std::int64_t> by_table;
  for (const auto& [key, count] : marks) by_table[key.second] += count;
  const auto sql = reconcile_queue_mark_sql(schema_);
  for (const auto& [table, count] : by_table) {
    if (!reply.ok) break;
    const std::string added = std::to_string(count);
    pg::Params params;
    params.types = {0, 0};
    params.values = {table.c_str(), added.c_str()};
    params.lengths = {static_cast<int>(table.size()), static_cast<int>(added.size())};
    params.formats = {0, 0};
    reply = pg::exec_params(conn, sql, params, 0, cancelled);
  }
  if (reply.ok) reply = pg::exec(conn, "COMMIT", cancelled);
  if (reply.ok) {
    state.table_ready = true;
    return reply;
  }
  if (reply.sqlstate == kUndefinedTable) state.table_ready = false;  // dropped meanwhile
  if (!reply.broken) pg::exec(conn, "ROLLBACK", cancelled);
  return reply;
}

pg::Reply ReconcileQueueSync::read(PGconn* conn, const std::string& dbname,
                                   ReconcileQueueState& state,
                                   const pg::Cancelled& cancelled) const {
  if (!state.table_ready) {
    auto exists = pg::exec(conn, exists_sql(schema_), cancelled);
    if (!exists.ok || exists.rows() != 1) {
      if (exists.ok) exists.ok = false;  // an answer of another shape: not expected
      return exists;
    }
    if (exists.value(0, 0) != "t") {
      state.rows.clear();  // no queue here (yet): nothing to reconcile
      return exists;
    }
    state.table_ready = true;  // it exists: no need to create it nor look again
  }
  auto reply = pg::exec(conn, reconcile_queue_read_sql(schema_), cancelled);
  if (!reply.ok) {
    if (reply.sqlstate == kUndefinedTable) state.table_ready = false;  // looked for next pass
    return reply;
  }
  state.rows =
      parsed_rows<metrics::ReconcileQueueRow, std::tuple_size_v<Fields>>(reply, dbname, &parse_row);
  return reply;
}

}  // namespace pgdual::journal
