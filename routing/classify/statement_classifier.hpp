#pragma once

// Statement classification: what a SQL text does, as far as routing cares.
//
// The text is parsed with libpg_query (the PostgreSQL 15 grammar), never executed, and the
// parse tree is reduced to a few facts: the kind of each statement (read, write, DDL,
// transaction control, session state, other utility), the tables it touches and writes, the
// functions it calls and the clauses that turn a SELECT into a write. No I/O, no logging, no
// catalog access: resolving unqualified names through search_path and looking up the volatility
// of user functions are the caller's job.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::routing {

enum class StatementKind { read, write, ddl, transaction, session, other };

enum class TransactionAction {
  none,
  begin,
  commit,
  rollback,
  savepoint,
  release,
  rollback_to,
  prepare_transaction,
  commit_prepared,
  rollback_prepared,
};

struct StatementInfo {
  StatementKind kind = StatementKind::other;
  TransactionAction transaction = TransactionAction::none;  // for kind == transaction

  // Every relation the statement touches: "schema.table" when qualified in the text, else the
  // bare "table" (the caller resolves search_path). CTE names are not tables. Deduplicated, in
  // the order the walk meets them. For DDL this includes the objects created/altered/dropped.
  std::vector<std::string> tables;
  // The subset it writes: INSERT/UPDATE/DELETE/MERGE targets (also inside CTEs), COPY FROM,
  // SELECT INTO / CREATE TABLE AS targets, TRUNCATE lists, and the relations DDL changes.
  std::vector<std::string> write_tables;
  // Every function called, as the parser resolved the name: unquoted identifiers are folded to
  // lower case, schema-qualified when written so ("pg_catalog.now"). SQL value functions such
  // as CURRENT_TIMESTAMP appear as "current_timestamp". Deduplicated, first-seen order.
  std::vector<std::string> functions;

  bool has_locking_clause = false;         // FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE
  bool has_modifying_cte = false;          // WITH x AS (INSERT/UPDATE/DELETE ...)
  bool is_select_into = false;             // SELECT ... INTO new_table
  bool may_choose_rows_per_store = false;  // see detail::TreeFacts
  bool may_evaluate_per_store = false;     // detail::TreeFacts, host files, large-object OIDs
  bool calls_nondeterministic = false;     // now(), CURRENT_TIMESTAMP, random(), nextval(), ...
  bool calls_write_function = false;       // a built-in or configured write function (see below)
  bool is_listen = false;                  // LISTEN/UNLISTEN/NOTIFY: stays on the primary
  bool has_order_by = false;               // a SELECT whose outermost query has ORDER BY

  // Close to PostgreSQL's command tag: "SELECT", "INSERT", "CREATE TABLE", "SET", "COPY",
  // "SELECT FOR UPDATE", "START TRANSACTION", "DISCARD ALL", "EXPLAIN", ...
  std::string command;

  // The object a session/transaction/cursor statement names: the prepared statement of
  // PREPARE/EXECUTE/DEALLOCATE (empty for DEALLOCATE ALL), the cursor of DECLARE/FETCH/MOVE/
  // CLOSE, the savepoint of SAVEPOINT/RELEASE/ROLLBACK TO, the gid of two-phase commands, the
  // channel of LISTEN/UNLISTEN/NOTIFY, the parameter of SET/RESET ("search_path").
  std::string name;
  bool is_local = false;  // SET LOCAL

  // PREPARE name AS <stmt> and DECLARE cursor CURSOR FOR <query>: the kind of the wrapped
  // statement. The statement itself is `session`; tables, write_tables, functions and the flags
  // above then describe the wrapped statement, so the caller can remember what EXECUTE will do.
  std::optional<StatementKind> prepared_inner_kind;

  // Where the statement lies in the classified text (bytes), for splitting a multi-statement
  // string. Includes leading whitespace/comments the parser attributes to it.
  std::size_t location = 0;
  std::size_t length = 0;
};

struct Classification {
  bool parsed = false;  // false: the parser rejected the text (error has its message)
  // With parsed == false: the text was not handed to the parser at all because it is nested too
  // deeply to parse safely (see routing/classify/parse_guard.hpp). PostgreSQL most likely rejects
  // it too
  // ("stack depth limit exceeded"), but unlike a syntax error that is not certain.
  bool unsupported = false;
  std::string error;
  std::vector<StatementInfo> statements;  // one per statement of a multi-statement string

  // The most write-like kind: ddl > write > transaction > session > other > read.
  // A parse failure is `write` (conservative: the primary gets it and produces the error);
  // an empty text (no statement) is `other`.
  StatementKind overall() const;
  bool has_transaction_control() const;
};

struct ClassifierOptions {
  // config migration.write_functions: calling one makes a read a write.
  std::vector<std::string> write_functions;
  // config migration.read_only_functions: never makes a read a write (wins over the above and
  // over the built-in list).
  std::vector<std::string> read_only_functions;
};

// Pure and thread-safe (libpg_query keeps its parser state per thread).
Classification classify(std::string_view sql, const ClassifierOptions& options = {});

// Built-in functions that write or take locks even when called from a SELECT: nextval, setval,
// the advisory lock family, large-object functions, set_config, pg_notify, replication-slot and
// WAL-control functions. Accepts a bare or "pg_catalog."-qualified name, case-insensitively; a
// name qualified with another schema is a user function (unknown here: false).
bool is_builtin_write_function(std::string_view name);

// Functions (and SQL value functions) whose result differs between two servers or two runs:
// now(), CURRENT_TIMESTAMP, clock_timestamp(), random(), gen_random_uuid(), nextval(), ...
bool is_nondeterministic_function(std::string_view name);

// Built-ins that read the server host's own files: pg_read_file, pg_read_binary_file,
// pg_stat_file, pg_ls_dir (and pg_ls_waldir, pg_ls_logdir, ...), lo_import(path). Bare or
// "pg_catalog."-qualified, case-insensitively.
bool reads_host_files(std::string_view name);

// Large-object built-ins that can let the server pick the new object's OID: lo_create, lo_creat,
// lo_import, lo_from_bytea (whether they do depends on their arguments).
bool may_pick_large_object_oid(std::string_view name);

// Whether calling `name` turns a read into a write under `options`: read_only_functions win,
// then write_functions, then the built-in list. A configured entry without a schema matches the
// function in any schema; a qualified entry also matches an unqualified call of the same name
// (the search_path is unknown here).
bool function_makes_write(std::string_view name, const ClassifierOptions& options);

// Whether a configured function list names the function `call`, with the matching rules above.
bool function_list_contains(const std::vector<std::string>& entries, std::string_view call);

std::string_view to_string(StatementKind kind);
std::string_view to_string(TransactionAction action);

}  // namespace pgdual::routing
