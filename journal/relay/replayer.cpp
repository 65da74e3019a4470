// replay_record: one journal record onto the secondary (see the header).

#include "journal/relay/replayer.hpp"

#include <algorithm>
#include <cctype>

#include "journal/relay/replay_policy.hpp"
#include "journal/store/table_journal.hpp"

namespace pgdual::journal {

namespace {

ReplayResult failed(pg::Reply reply) {
  ReplayResult out;
  out.kind = ReplayResult::Kind::failed;
  out.sqlstate = std::move(reply.sqlstate);
  out.error = std::move(reply.error);
  out.broken = reply.broken;
  return out;
}

ReplayResult failed(std::string sqlstate, std::string error) {
  ReplayResult out;
  out.sqlstate = std::move(sqlstate);
  out.error = std::move(error);
  return out;
}

// Runs one recorded statement, COPY included; the reply of its end.
pg::Reply run_statement(PGconn* conn, const JournalStatement& statement,
                        const pg::Cancelled& cancelled) {
  pg::Reply reply;
  if (statement.param_values.empty()) {
    reply = pg::exec(conn, statement.sql, cancelled);
  } else {
    pg::Params params;
    const std::size_t count = statement.param_values.size();
    for (std::size_t i = 0; i < count; ++i) {
      const auto& value = statement.param_values[i];
      params.types.push_back(i < statement.param_type_oids.size() ? statement.param_type_oids[i]
                                                                  : 0);
      params.values.push_back(value ? value->data() : nullptr);
      params.lengths.push_back(value ? static_cast<int>(value->size()) : 0);
      const bool binary =
          i < statement.param_formats.size() && statement.param_formats[i] == ParamFormat::binary;
      params.formats.push_back(binary ? 1 : 0);
    }
    reply = pg::exec_params(conn, statement.sql, params, 0, cancelled);
  }
  if (!reply.ok) return reply;
  switch (reply.status()) {
    case PGRES_COPY_IN:
      if (statement.copy_data) return pg::copy_in(conn, *statement.copy_data, cancelled);
      {
        // The record holds no data for a COPY the server expects: the record
        // is not what the primary ran. A permanent error, not a retry.
        pg::Reply aborted = pg::copy_fail(conn, "the journal holds no COPY data", cancelled);
        aborted.ok = false;
        if (!aborted.broken) aborted.sqlstate = "XX000";
        aborted.error = "the journal record holds no data for COPY FROM STDIN";
        return aborted;
      }
    case PGRES_COPY_OUT:
      return pg::copy_out_drain(conn, cancelled);
    default:
      return reply;
  }
}

std::string normalized(std::string_view sql) {
  std::string out;
  for (char c : sql) {
    if (c == ';') continue;
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

bool ends_with_rollback(const JournalRecord& record) {
  if (record.statements.empty()) return false;
  const std::string last = normalized(record.statements.back().sql);
  for (const char* plain : {"rollback", "rollback work", "rollback transaction", "abort",
                            "abort work", "abort transaction"}) {
    if (last == plain) return true;
  }
  return false;
}

pg::Reply ensure_applied_table(PGconn* secondary, std::string_view schema,
                               const pg::Cancelled& cancelled) {
  return pg::run_locked_ddl(secondary, table::ddl_lock_sql(schema),
                            replay::applied_table_ddl(schema), cancelled);
}

ReplayResult replay_record(PGconn* conn, const JournalRecord& record, std::string_view schema,
                           std::string_view key, const pg::Cancelled& cancelled) {
  if (ends_with_rollback(record)) {
    ReplayResult out;
    out.kind = ReplayResult::Kind::nothing_to_apply;
    return out;
  }
  if (record.marker == "unknown") {
    ReplayResult out =
        failed("",
               "the secondary may have committed the original write (its reply was lost): "
               "not replayed, to never apply it twice");
    out.kind = ReplayResult::Kind::give_up;
    return out;
  }
  if (record.marker.starts_with("xid:")) {
    const std::string xid = record.marker.substr(4);
    const bool digits = !xid.empty() && std::all_of(xid.begin(), xid.end(), [](unsigned char c) {
      return std::isdigit(c) != 0;
    });
    pg::Reply status =
        digits ? pg::exec(conn, "SELECT pg_catalog.pg_xact_status('" + xid + "'::xid8)", cancelled)
               : pg::Reply{};
    if (digits && !status.ok) return failed(std::move(status));
    const std::string outcome = digits && status.rows() == 1 ? status.value(0, 0) : "";
    if (outcome == "committed") {
      ReplayResult out;
      out.kind = ReplayResult::Kind::already_applied;
      return out;
    }
    if (outcome == "in progress") {
      return failed("55P03",
                    "the original write's transaction is still in progress on the secondary");
    }
    if (outcome != "aborted") {
      ReplayResult out = failed("", "the outcome of the original write's transaction " + xid +
                                        " on the secondary is no longer known: not replayed");
      out.kind = ReplayResult::Kind::give_up;
      return out;
    }
  }
  // A clean session: whatever an earlier record set (search_path, role,
  // prepared statements, temp tables) must not leak into this one.
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) pg::exec(conn, "ROLLBACK", cancelled);
  pg::Reply reply = pg::exec(conn, "DISCARD ALL", cancelled);
  if (!reply.ok) return failed(std::move(reply));
  for (const auto& statement : record.session_state) {
    reply = pg::exec(conn, statement, cancelled);
    if (!reply.ok) return failed(std::move(reply));
  }
  auto abort = [&](pg::Reply why) {
    if (!why.broken && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      pg::exec(conn, "ROLLBACK", cancelled);
    }
    return failed(std::move(why));
  };
  reply = pg::exec(conn, "BEGIN", cancelled);
  if (!reply.ok) return abort(std::move(reply));
  reply = pg::exec(conn, replay::applied_marker_sql(schema, key), cancelled);
  if (!reply.ok) return abort(std::move(reply));
  if (reply.rows() == 0) {
    pg::exec(conn, "ROLLBACK", cancelled);
    ReplayResult out;
    out.kind = ReplayResult::Kind::already_applied;
    return out;
  }
  for (const auto& statement : record.statements) {
    reply = run_statement(conn, statement, cancelled);
    if (!reply.ok) return abort(std::move(reply));
  }
  if (PQtransactionStatus(conn) == PQTRANS_INERROR) {
    pg::Reply why;
    why.sqlstate = "25P02";
    why.error = "the replayed transaction is in a failed state";
    return abort(std::move(why));
  }
  reply = pg::exec(conn, "COMMIT", cancelled);
  if (!reply.ok) return abort(std::move(reply));
  // COMMIT of a failed transaction answers "ROLLBACK" without an error.
  if (reply.result && std::string_view(PQcmdStatus(reply.result.get())) == "ROLLBACK") {
    return failed("XX000", "the secondary rolled the replayed transaction back");
  }
  ReplayResult out;
  out.kind = ReplayResult::Kind::applied;
  return out;
}

}  // namespace pgdual::journal
