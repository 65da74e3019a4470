#pragma once
// libpq plumbing of the journal's threads: owning handles, a connect and a
// query that give up when asked to (so JournalService::stop() returns within
// a couple of seconds even when a server does not answer), and error texts.
//
// Queries go through the asynchronous API (PQsendQuery + poll) instead of
// PQexec only for that reason; the semantics are PQexec's: several results
// from one simple Query string collapse into the last, an error wins.

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::pg {

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

// True when the caller must give up at once (shutdown).
using Cancelled = std::function<bool()>;

struct Reply {
  Result result;         // the last result, or the error; null when none came
  bool ok = false;       // COMMAND_OK, TUPLES_OK, EMPTY_QUERY, COPY_IN or COPY_OUT
  bool broken = false;   // the connection is unusable: drop it
  std::string sqlstate;  // the server's, "" when it did not answer
  std::string error;     // primary message only (DETAIL may hold row values)

  ExecStatusType status() const {
    return result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  }
  int rows() const { return result ? PQntuples(result.get()) : 0; }
  std::string value(int row, int column) const;  // "" for NULL
};

// Connects within `timeout`; null with `error` set on failure or when
// cancelled. Never logs the conninfo (it holds the password).
Conn connect(const std::string& conninfo, std::chrono::milliseconds timeout,
             const Cancelled& cancelled, std::string& error);

Reply exec(PGconn* conn, const std::string& sql, const Cancelled& cancelled);
// PQexecParams' arguments; values may hold NUL bytes (lengths are given).
struct Params {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};
Reply exec_params(PGconn* conn, const std::string& sql, const Params& params, int result_format,
                  const Cancelled& cancelled);
// After a PGRES_COPY_IN reply: sends `data` and the end of the COPY, returns
// the COPY's outcome.
Reply copy_in(PGconn* conn, std::string_view data, const Cancelled& cancelled);
// After PGRES_COPY_IN when there is nothing to send: aborts the COPY.
Reply copy_fail(PGconn* conn, const std::string& why, const Cancelled& cancelled);
// After PGRES_COPY_OUT: reads and drops the rows, returns the outcome.
Reply copy_out_drain(PGconn* conn, const Cancelled& cancelled);

// Runs `statements` in one transaction after `lock_sql` (an advisory xact
// lock), for DDL that several instances may run at once.
Reply run_locked_ddl(PGconn* conn, const std::string& lock_sql,
                     const std::vector<std::string>& statements, const Cancelled& cancelled);

// PQerrorMessage without the trailing newline.
std::string connection_error(const PGconn* conn);
// Whether a connection error is the server's "database \"<dbname>\" does not
// exist" (libpq gives no SQLSTATE for a failed connection, only its text).
bool names_missing_database(std::string_view error, std::string_view dbname);

// A connection that follows its conninfo: reconnects when it changed (a
// reload, a phase that moved the primary) or when the connection broke.
class Link {
 public:
  // True when connected to `conninfo` (connecting if needed). `fresh` tells
  // whether this call opened a new connection (session state is then new).
  bool ensure(const std::string& conninfo, std::chrono::milliseconds timeout,
              const Cancelled& cancelled, std::string& error, bool* fresh = nullptr);
  PGconn* get() const { return conn_.get(); }
  bool connected() const { return conn_ != nullptr; }
  void reset() {
    conn_.reset();
    conninfo_.clear();
  }

 private:
  Conn conn_;
  std::string conninfo_;
};

}  // namespace pgdual::pg
