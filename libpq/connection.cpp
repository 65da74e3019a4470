// Interruptible libpq connect and queries (see journal_pg.hpp).

#include "libpq/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace pgdual::pg {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPollSliceMs = 100;  // how often a wait looks at `cancelled`

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool is_error(ExecStatusType status) {
  return status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE;
}

bool is_cancelled(const Cancelled& cancelled) { return cancelled && cancelled(); }

// Waits until the socket is readable (or writable), a slice at a time.
// false when cancelled or past the deadline.
bool wait_socket(PGconn* conn, bool for_write, Clock::time_point deadline,
                 const Cancelled& cancelled) {
  for (;;) {
    if (is_cancelled(cancelled)) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{PQsocket(conn), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    if (fd.fd < 0) return false;
    const int slice = static_cast<int>(std::min<long long>(left.count(), kPollSliceMs));
    const int ready = ::poll(&fd, 1, slice);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

// libpq prints NOTICE and WARNING messages on stderr by default. The replay
// draws expected ones (the client's BEGIN inside ours), and a notice may
// quote row values, so they are dropped.
void ignore_notice(void*, const char*) {}

Reply broken_reply(PGconn* conn, std::string why) {
  Reply reply;
  reply.broken = true;
  reply.error = why.empty() ? connection_error(conn) : std::move(why);
  if (reply.error.empty()) reply.error = "connection to the server was lost";
  return reply;
}

void describe(Reply& reply, PGconn* conn) {
  const PGresult* result = reply.result.get();
  const ExecStatusType status = reply.status();
  reply.ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
             status == PGRES_EMPTY_QUERY || status == PGRES_COPY_IN || status == PGRES_COPY_OUT;
  if (reply.ok) return;
  if (result) {
    if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE)) reply.sqlstate = state;
    if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) {
      reply.error = primary;
    } else {
      reply.error = trimmed(PQresultErrorMessage(result));
    }
  }
  if (reply.error.empty()) reply.error = connection_error(conn);
  if (PQstatus(conn) != CONNECTION_OK) reply.broken = true;
}

// Collects the results of what was sent, PQexec-style: stops at a COPY
// state (the caller continues it), keeps the first error, else the last.
Reply collect(PGconn* conn, const Cancelled& cancelled) {
  Reply reply;
  for (;;) {
    while (PQisBusy(conn)) {
      if (!wait_socket(conn, false, Clock::now() + std::chrono::hours(24 * 365), cancelled)) {
        return broken_reply(conn, is_cancelled(cancelled) ? "cancelled: pgdual is stopping" : "");
      }
      if (!PQconsumeInput(conn)) return broken_reply(conn, "");
    }
    Result next(PQgetResult(conn));
    if (!next) break;
    const ExecStatusType status = PQresultStatus(next.get());
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      reply.result = std::move(next);
      break;
    }
    // First error wins; without one, the last result does (PQexec's rule).
    const bool have_error = reply.result && is_error(PQresultStatus(reply.result.get()));
    if (!have_error) reply.result = std::move(next);
    if (PQstatus(conn) != CONNECTION_OK) break;
  }
  if (!reply.result && PQstatus(conn) != CONNECTION_OK) return broken_reply(conn, "");
  describe(reply, conn);
  return reply;
}

}  // namespace

std::string Reply::value(int row, int column) const {
  if (!result || row >= PQntuples(result.get()) || column >= PQnfields(result.get())) return {};
  if (PQgetisnull(result.get(), row, column)) return {};
  return std::string(PQgetvalue(result.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result.get(), row, column)));
}

std::string connection_error(const PGconn* conn) {
  return conn ? trimmed(PQerrorMessage(conn)) : std::string("out of memory");
}

bool names_missing_database(std::string_view error, std::string_view dbname) {
  // The server's words (lc_messages in English); a database named in the text of
  // another error (a role named like it) does not match the whole phrase.
  const std::string phrase = "database \"" + std::string(dbname) + "\" does not exist";
  return error.find(phrase) != std::string_view::npos;
}

Conn connect(const std::string& conninfo, std::chrono::milliseconds timeout,
             const Cancelled& cancelled, std::string& error) {
  Conn conn(PQconnectStart(conninfo.c_str()));
  if (!conn || PQstatus(conn.get()) == CONNECTION_BAD) {
    error = connection_error(conn.get());
    return {};
  }
  // PQconnectStart does not apply connect_timeout itself: the deadline is ours.
  const auto deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(500));
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  for (;;) {
    if (state == PGRES_POLLING_OK) {
      PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
      return conn;
    }
    if (state == PGRES_POLLING_FAILED) {
      error = connection_error(conn.get());
      return {};
    }
    if (!wait_socket(conn.get(), state == PGRES_POLLING_WRITING, deadline, cancelled)) {
      error = is_cancelled(cancelled) ? "cancelled: pgdual is stopping" : "connection timed out";
      return {};
    }
    state = PQconnectPoll(conn.get());
  }
}

Reply exec(PGconn* conn, const std::string& sql, const Cancelled& cancelled) {
  if (!PQsendQuery(conn, sql.c_str())) return broken_reply(conn, "");
  return collect(conn, cancelled);
}

Reply exec_params(PGconn* conn, const std::string& sql, const Params& params, int result_format,
                  const Cancelled& cancelled) {
  const int count = static_cast<int>(params.values.size());
  if (!PQsendQueryParams(conn, sql.c_str(), count,
                         params.types.empty() ? nullptr : params.types.data(), params.values.data(),
                         params.lengths.data(), params.formats.data(), result_format)) {
    return broken_reply(conn, "");
  }
  return collect(conn, cancelled);
}

Reply copy_in(PGconn* conn, std::string_view data, const Cancelled& cancelled) {
  constexpr std::size_t kChunk = 1 << 20;
  for (std::size_t at = 0; at < data.size(); at += kChunk) {
    const std::string_view chunk = data.substr(at, kChunk);
    if (PQputCopyData(conn, chunk.data(), static_cast<int>(chunk.size())) != 1) {
      return broken_reply(conn, "");
    }
    if (is_cancelled(cancelled)) return broken_reply(conn, "cancelled: pgdual is stopping");
  }
  if (PQputCopyEnd(conn, nullptr) != 1) return broken_reply(conn, "");
  return collect(conn, cancelled);
}

Reply copy_fail(PGconn* conn, const std::string& why, const Cancelled& cancelled) {
  if (PQputCopyEnd(conn, why.c_str()) != 1) return broken_reply(conn, "");
  return collect(conn, cancelled);
}

Reply copy_out_drain(PGconn* conn, const Cancelled& cancelled) {
  for (;;) {
    char* buffer = nullptr;
    const int got = PQgetCopyData(conn, &buffer, 1);  // async: 0 = nothing yet
    if (buffer) PQfreemem(buffer);
    if (got > 0) continue;
    if (got == -1) break;  // done
    if (got == -2) return broken_reply(conn, "");
    if (!wait_socket(conn, false, Clock::now() + std::chrono::hours(1), cancelled) ||
        !PQconsumeInput(conn)) {
      return broken_reply(conn, is_cancelled(cancelled) ? "cancelled: pgdual is stopping" : "");
    }
  }
  return collect(conn, cancelled);
}

Reply run_locked_ddl(PGconn* conn, const std::string& lock_sql,
                     const std::vector<std::string>& statements, const Cancelled& cancelled) {
  Reply reply = exec(conn, "BEGIN", cancelled);
  if (reply.ok) reply = exec(conn, lock_sql, cancelled);
  for (const auto& statement : statements) {
    if (!reply.ok) break;
    reply = exec(conn, statement, cancelled);
  }
  if (reply.ok) return exec(conn, "COMMIT", cancelled);
  if (!reply.broken) exec(conn, "ROLLBACK", cancelled);
  return reply;
}

bool Link::ensure(const std::string& conninfo, std::chrono::milliseconds timeout,
                  const Cancelled& cancelled, std::string& error, bool* fresh) {
  if (fresh) *fresh = false;
  if (conn_ && (conninfo_ != conninfo || PQstatus(conn_.get()) != CONNECTION_OK)) reset();
  if (conn_) return true;
  conn_ = connect(conninfo, timeout, cancelled, error);
  if (!conn_) return false;
  conninfo_ = conninfo;
  if (fresh) *fresh = true;
  return true;
}

}  // namespace pgdual::pg
