#pragma once

// Finding what makes a write give different results on two servers, so that both can be sent
// the same literal values instead (routing/rewrite/pipeline.hpp puts them in). Pure: the
// caller fetches the values (sequence values from the primary, one timestamp per transaction,
// random numbers, uuids) and the catalog facts (which columns have a volatile default).
//
// A *site* is one place that needs a value: a call of now(), CURRENT_DATE, random(),
// gen_random_uuid(), nextval('seq'), ..., or a volatile column default that a row of an
// INSERT ... VALUES would use. Some constructs cannot become literals: a per-call function
// evaluated once per row of a scan (UPDATE t SET x = random()), an INSERT ... SELECT into a
// table with a serial column, a function the caller knows to be volatile. The analysis names
// them; such a text must not be sent to both servers as it is.
//
// Only statements that run now are looked into: DML, SELECT, CREATE TABLE AS, CALL, EXECUTE,
// and the query of EXPLAIN, COPY and DECLARE CURSOR. A default in CREATE TABLE or a view body
// is stored, not evaluated, and stays as it is. PREPARE's body runs at every EXECUTE, so a
// site in it is unrewritable. What each store evaluates for itself beyond sites (DO, ALTER
// TABLE ... ADD COLUMN with a volatile default, COPY FROM a host file, reads of the host's
// files, large-object OIDs, extension and unknown functions, 'now' literals) is named in
// per_store.hpp.
//
// sites.cpp walks one statement for its sites; analysis.cpp analyses a whole text and numbers
// the values its sites need.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/rewrite/function_catalog.hpp"

struct PgQuery__Node;
struct PgQuery__InsertStmt;

namespace pgdual::routing {

// A volatile column default, as the caller classified it from the catalog.
//  - sequence: nextval('seq') (serial, bigserial, identity columns);
//  - time: the transaction timestamp in the column's type (now(), CURRENT_TIMESTAMP,
//    CURRENT_DATE, LOCALTIMESTAMP, ...). The value is written as a timestamptz and
//    PostgreSQL's assignment cast converts it in the session's TimeZone, as the default would;
//  - uuid: gen_random_uuid(), uuid_generate_v4();
//  - opaque: any other default that calls something not immutable (clock_timestamp(),
//    random(), timezone('utc', now()), a user's VOLATILE function): pgdual cannot make it
//    literal, so an INSERT that leaves the column to it follows migration.nondeterministic.
enum class DefaultKind { sequence, time, uuid, opaque };
enum class Identity { none, by_default, always };  // GENERATED ... AS IDENTITY

struct ColumnDefault {
  std::string column;
  DefaultKind kind = DefaultKind::sequence;
  std::string sequence;  // kind == sequence: the sequence it draws from
  Identity identity = Identity::none;
  // 1-based place among the table's live (not dropped) columns, needed for an INSERT without a
  // column list; 0 when unknown (such an INSERT is then unrewritable).
  int position = 0;
  std::string expression;  // kind == opaque: the default as pg_get_expr prints it
};

// Table -> its volatile-default columns. Keyed "schema.table" or "table": an INSERT into
// s.t looks up "s.t", then "t"; an unqualified one looks up "t" only (the caller knows the
// search_path, this code does not). Names as in the catalog (case-sensitive).
using ColumnDefaults = std::unordered_map<std::string, std::vector<ColumnDefault>>;

enum class SiteKind { time, random, uuid, sequence };
// Which timestamp a time site needs: the transaction's (now(), CURRENT_*, LOCAL*,
// transaction_timestamp(), time defaults) or the statement's (statement_timestamp(), and
// clock_timestamp(), which is given one value per statement).
enum class TimeScope { transaction, statement };
// The type a time site evaluates to.
enum class TimeType { timestamptz, timestamp, date, timetz, time };

struct RewriteSite {
  SiteKind kind = SiteKind::time;
  // A call: the function as the parser folded it, without pg_catalog ("now",
  // "current_timestamp", "clock_timestamp", "random", "gen_random_uuid", "nextval", ...).
  // Empty for a column default.
  std::string function;
  TimeScope time_scope = TimeScope::transaction;  // time sites
  TimeType time_type = TimeType::timestamptz;     // time sites
  int precision = -1;                             // CURRENT_TIMESTAMP(3) and the like
  std::string sequence;  // sequence sites: as written in nextval('...') or in ColumnDefault
  // Column-default sites: the INSERT target as written, the column, and where the value goes.
  std::string table;
  std::string column;
  std::size_t insert = 0;        // which INSERT of the statement, in walk order
  std::size_t row = 0;           // which VALUES row
  int row_position = -1;         // >= 0: that item of the row is an explicit DEFAULT; -1: appended
  bool identity_always = false;  // making the value explicit needs OVERRIDING SYSTEM VALUE
  // Where the value is: RewriteValues::timestamps[value_index] (a time slot) for time sites,
  // else the vector of the site's kind (randoms, uuids, sequence_values).
  std::size_t value_index = 0;

  bool is_column_default() const { return !column.empty(); }
};

struct TimeSlot {
  TimeScope scope = TimeScope::transaction;
  std::size_t statement = 0;  // the first statement that needs it
  // Transaction scope: an earlier statement of the text ended a transaction (COMMIT,
  // ROLLBACK, ...), so the slot belongs to a transaction that the text itself starts. If
  // false, it is the transaction the text runs in, which may have begun before it.
  bool new_transaction = false;
};

struct StatementSites {
  std::vector<RewriteSite> sites;         // in walk order
  std::vector<std::string> unrewritable;  // short names: "random() evaluated per row", ...
  bool ends_transaction = false;          // COMMIT, ROLLBACK, PREPARE TRANSACTION, ...
  std::size_t location = 0;               // where the statement lies in the text (bytes)
  std::size_t length = 0;
};

struct RewriteAnalysis {
  bool parsed = false;  // false: `error` says why (syntax, NUL byte, nesting too deep)
  std::string error;
  std::vector<StatementSites> statements;  // one per statement of a multi-statement text
  std::vector<TimeSlot> time_slots;        // one timestamp each
  std::size_t random_count = 0;
  std::size_t uuid_count = 0;
  std::vector<std::string> sequences;  // the sequence of each sequence value, in order
  int max_parameter = 0;               // the highest $n the text uses (0: none)
  std::size_t text_size = 0;           // the analysed text's length (statement offsets are in it)
  // The text cannot go to both servers as it is: it has a site or an unrewritable construct.
  bool needs_rewrite = false;
  // It calls a function the catalog does not know (created since the catalog was read): the
  // caller should read the catalog again.
  bool calls_unknown_function = false;
  // Whether it is unrewritable depends on a literal's value (lo_create(0) but not lo_create(42)):
  // a text of the same shape with other values needs an analysis of its own.
  bool depends_on_literal_values = false;

  bool rewritable() const;                        // parsed, and nothing unrewritable
  std::vector<std::string> unrewritable() const;  // every statement's, in order
};

// Pure and thread-safe. `volatile_functions`: user functions the caller knows to be volatile
// ("f" matches f in any schema; "s.f" matches s.f and an unqualified f). `functions`: the
// catalog's other facts about functions; without it no call is an extension's or unknown.
RewriteAnalysis analyze_for_rewrite(std::string_view sql, const ColumnDefaults& defaults,
                                    const std::vector<std::string>& volatile_functions = {},
                                    const FunctionCatalog* functions = nullptr);

namespace detail {

// One walk over a statement, shared by the analysis and the rewrite steps so that both meet
// the sites in the same order.
struct StatementWalk {
  std::vector<RewriteSite> sites;             // value_index not assigned yet
  std::vector<PgQuery__Node*> call_nodes;     // parallel to sites: the call, null for a default
  std::vector<PgQuery__InsertStmt*> inserts;  // every INSERT, in walk order
  std::vector<std::string> unrewritable;
  bool calls_unknown_function = false;  // see RewriteAnalysis
  bool depends_on_literal_values = false;
};

// Without `defaults`, no column-default site is looked for.
StatementWalk walk_statement(PgQuery__Node& statement, const ColumnDefaults* defaults,
                             const std::vector<std::string>* volatile_functions,
                             const FunctionCatalog* functions = nullptr);

}  // namespace detail
}  // namespace pgdual::routing
