#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "routing/classify/statement_classifier.hpp"

using pgdual::routing::Classification;
using pgdual::routing::ClassifierOptions;
using pgdual::routing::classify;
using pgdual::routing::StatementInfo;
using pgdual::routing::StatementKind;
using pgdual::routing::TransactionAction;
using Names = std::vector<std::string>;

namespace {

constexpr auto kRead = StatementKind::read;
constexpr auto kWrite = StatementKind::write;
constexpr auto kDdl = StatementKind::ddl;
constexpr auto kTransaction = StatementKind::transaction;
constexpr auto kSession = StatementKind::session;
constexpr auto kOther = StatementKind::other;

struct Case {
  const char* sql;
  StatementKind kind;
  const char* command;
  Names tables;
  Names write_tables;
};

// One statement per text: kind, command, tables (in walk order) and written tables.
const std::vector<Case> kCases = {
    // Reads.
    {"SELECT 1", kRead, "SELECT", {}, {}},
    {"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
     kRead,
     "SELECT",
     {"pgbench_accounts"},
     {}},
    {"SELECT * FROM a JOIN s.b ON a.id = b.id LEFT JOIN c USING (id)",
     kRead,
     "SELECT",
     {"a", "s.b", "c"},
     {}},
    {"SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE EXISTS (SELECT 1 FROM v))",
     kRead,
     "SELECT",
     {"t", "u", "v"},
     {}},
    {"SELECT (SELECT max(x) FROM u) FROM t", kRead, "SELECT", {"u", "t"}, {}},
    {"SELECT * FROM t UNION ALL SELECT * FROM public.u", kRead, "SELECT", {"t", "public.u"}, {}},
    {"SELECT * FROM db1.sch.t", kRead, "SELECT", {"db1.sch.t"}, {}},
    {"SELECT * FROM \"MixedCase\"", kRead, "SELECT", {"MixedCase"}, {}},
    {"VALUES (1, 'a'), (2, 'b')", kRead, "SELECT", {}, {}},
    {"TABLE accounts", kRead, "SELECT", {"accounts"}, {}},
    {"SHOW search_path", kRead, "SHOW", {}, {}},
    {"EXPLAIN SELECT * FROM t", kRead, "EXPLAIN", {"t"}, {}},
    {"EXPLAIN DELETE FROM t", kRead, "EXPLAIN", {"t"}, {}},
    {"EXPLAIN (ANALYZE false) DELETE FROM t", kRead, "EXPLAIN", {"t"}, {}},
    {"EXPLAIN ANALYZE SELECT * FROM t", kRead, "EXPLAIN", {"t"}, {}},
    {"COPY t TO STDOUT", kRead, "COPY", {"t"}, {}},
    {"COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)", kRead, "COPY", {"t"}, {}},
    {"SELECT txid_current()", kRead, "SELECT", {}, {}},
    {"SELECT now(), random()", kRead, "SELECT", {}, {}},
    // CTE names are not tables, at their own scope and below.
    {"WITH x AS (SELECT * FROM a) SELECT * FROM x JOIN b ON true", kRead, "SELECT", {"a", "b"}, {}},
    {"WITH a AS (SELECT 1) SELECT * FROM (WITH b AS (SELECT * FROM a) SELECT * FROM b, c) s, a",
     kRead,
     "SELECT",
     {"c"},
     {}},
    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
     "SELECT * FROM r",
     kRead,
     "SELECT",
     {},
     {}},
    // A CTE name is visible only after its definition (non-recursive WITH), and never hides a
    // schema-qualified table.
    {"WITH x AS (SELECT * FROM y), y AS (SELECT 1) SELECT * FROM x, public.x",
     kRead,
     "SELECT",
     {"y", "public.x"},
     {}},
    // Reads that kWrite.
    {"SELECT * FROM t WHERE id = 1 FOR UPDATE", kWrite, "SELECT FOR UPDATE", {"t"}, {}},
    {"SELECT * FROM t FOR SHARE SKIP LOCKED", kWrite, "SELECT FOR SHARE", {"t"}, {}},
    {"SELECT * FROM (SELECT * FROM t FOR NO KEY UPDATE) s",
     kWrite,
     "SELECT FOR NO KEY UPDATE",
     {"t"},
     {}},
    {"SELECT * INTO archive FROM orders",
     kWrite,
     "SELECT INTO",
     {"archive", "orders"},
     {"archive"}},
    {"WITH x AS (DELETE FROM t WHERE old RETURNING *) SELECT * FROM x",
     kWrite,
     "SELECT",
     {"t"},
     {"t"}},
    {"WITH moved AS (DELETE FROM q RETURNING *) INSERT INTO done SELECT * FROM moved",
     kWrite,
     "INSERT",
     {"done", "q"},
     {"done", "q"}},
    {"SELECT nextval('s')", kWrite, "SELECT", {}, {}},
    {"SELECT pg_catalog.setval('s', 10)", kWrite, "SELECT", {}, {}},
    {"SELECT pg_advisory_lock(1)", kWrite, "SELECT", {}, {}},
    {"SELECT pg_try_advisory_xact_lock(1, 2)", kWrite, "SELECT", {}, {}},
    {"SELECT lo_create(0)", kWrite, "SELECT", {}, {}},
    {"SELECT lowrite(0, 'x')", kWrite, "SELECT", {}, {}},
    {"SELECT set_config('app.user', 'x', false)", kWrite, "SELECT", {}, {}},
    {"SELECT pg_notify('ch', 'hi')", kWrite, "SELECT", {}, {}},
    {"SELECT id FROM t WHERE id = nextval('s')", kWrite, "SELECT", {"t"}, {}},
    {"EXPLAIN ANALYZE DELETE FROM t", kWrite, "EXPLAIN", {"t"}, {"t"}},
    {"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t FOR UPDATE", kWrite, "EXPLAIN", {"t"}, {}},
    {"COPY (DELETE FROM t RETURNING *) TO STDOUT", kWrite, "COPY", {"t"}, {"t"}},
    // Writes.
    {"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
     kWrite,
     "UPDATE",
     {"pgbench_accounts"},
     {"pgbench_accounts"}},
    {"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
     "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
     kWrite,
     "INSERT",
     {"pgbench_history"},
     {"pgbench_history"}},
    {"INSERT INTO s.t (a) SELECT a FROM u JOIN v ON u.id = v.id",
     kWrite,
     "INSERT",
     {"s.t", "u", "v"},
     {"s.t"}},
    {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = (SELECT n FROM c)",
     kWrite,
     "INSERT",
     {"t", "c"},
     {"t"}},
    {"UPDATE t SET x = u.x FROM u WHERE t.id = u.id", kWrite, "UPDATE", {"t", "u"}, {"t"}},
    {"DELETE FROM t USING u WHERE t.id = u.id RETURNING t.*", kWrite, "DELETE", {"t", "u"}, {"t"}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a "
     "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)",
     kWrite,
     "MERGE",
     {"t", "s"},
     {"t"}},
    {"COPY public.t (a, b) FROM STDIN WITH (FORMAT binary)",
     kWrite,
     "COPY",
     {"public.t"},
     {"public.t"}},
    {"TRUNCATE a, b.c RESTART IDENTITY", kWrite, "TRUNCATE TABLE", {"a", "b.c"}, {"a", "b.c"}},
    {"CALL process_orders(1)", kWrite, "CALL", {}, {}},
    {"DO $$ BEGIN PERFORM 1; END $$", kWrite, "DO", {}, {}},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", kWrite, "LOCK TABLE", {"t"}, {}},
    {"REFRESH MATERIALIZED VIEW mv", kWrite, "REFRESH MATERIALIZED VIEW", {"mv"}, {"mv"}},
    // DDL.
    {"CREATE TABLE t (id serial PRIMARY KEY, parent int REFERENCES p (id))",
     kDdl,
     "CREATE TABLE",
     {"t", "p"},
     {"t"}},
    {"CREATE TABLE x AS SELECT * FROM t", kDdl, "CREATE TABLE AS", {"t", "x"}, {"x"}},
    {"CREATE MATERIALIZED VIEW mv AS SELECT * FROM t",
     kDdl,
     "CREATE MATERIALIZED VIEW",
     {"t", "mv"},
     {"mv"}},
    {"CREATE VIEW v AS SELECT * FROM t", kDdl, "CREATE VIEW", {"v", "t"}, {"v"}},
    {"ALTER TABLE public.t ADD COLUMN c int", kDdl, "ALTER TABLE", {"public.t"}, {"public.t"}},
    {"ALTER TABLE t RENAME COLUMN a TO b", kDdl, "ALTER TABLE", {"t"}, {"t"}},
    {"DROP TABLE IF EXISTS a, s.b CASCADE", kDdl, "DROP TABLE", {"a", "s.b"}, {"a", "s.b"}},
    {"DROP INDEX i", kDdl, "DROP INDEX", {}, {}},
    {"CREATE INDEX CONCURRENTLY i ON t (a)", kDdl, "CREATE INDEX", {"t"}, {"t"}},
    {"REINDEX TABLE t", kDdl, "REINDEX", {"t"}, {"t"}},
    {"CLUSTER t USING i", kDdl, "CLUSTER", {"t"}, {"t"}},
    {"COMMENT ON TABLE t IS 'orders'", kDdl, "COMMENT", {"t"}, {"t"}},
    {"GRANT SELECT ON t, u TO bob", kDdl, "GRANT", {"t", "u"}, {"t", "u"}},
    {"REVOKE ALL ON t FROM bob", kDdl, "REVOKE", {"t"}, {"t"}},
    {"CREATE SEQUENCE s", kDdl, "CREATE SEQUENCE", {"s"}, {"s"}},
    {"CREATE EXTENSION IF NOT EXISTS pgcrypto", kDdl, "CREATE EXTENSION", {}, {}},
    {"CREATE TYPE pair AS (a int, b int)", kDdl, "CREATE TYPE", {}, {}},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC INSERT INTO z VALUES (1); "
     "SELECT 1; END",
     kDdl,
     "CREATE FUNCTION",
     {},
     {}},
    {"CREATE SCHEMA app", kDdl, "CREATE SCHEMA", {}, {}},
    // Transaction control.
    {"BEGIN", kTransaction, "BEGIN", {}, {}},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", kTransaction, "START TRANSACTION", {}, {}},
    {"COMMIT", kTransaction, "COMMIT", {}, {}},
    {"END", kTransaction, "COMMIT", {}, {}},
    {"ROLLBACK", kTransaction, "ROLLBACK", {}, {}},
    {"SAVEPOINT s1", kTransaction, "SAVEPOINT", {}, {}},
    {"RELEASE SAVEPOINT s1", kTransaction, "RELEASE", {}, {}},
    {"ROLLBACK TO SAVEPOINT s1", kTransaction, "ROLLBACK", {}, {}},
    {"PREPARE TRANSACTION 'g1'", kTransaction, "PREPARE TRANSACTION", {}, {}},
    {"COMMIT PREPARED 'g1'", kTransaction, "COMMIT PREPARED", {}, {}},
    {"ROLLBACK PREPARED 'g1'", kTransaction, "ROLLBACK PREPARED", {}, {}},
    // Session state.
    {"SET search_path = app, public", kSession, "SET", {}, {}},
    {"SET LOCAL statement_timeout = 0", kSession, "SET", {}, {}},
    {"RESET ALL", kSession, "RESET", {}, {}},
    {"DISCARD ALL", kSession, "DISCARD ALL", {}, {}},
    {"PREPARE p (int) AS UPDATE t SET a = $1", kSession, "PREPARE", {"t"}, {"t"}},
    {"DEALLOCATE p", kSession, "DEALLOCATE", {}, {}},
    {"DEALLOCATE ALL", kSession, "DEALLOCATE ALL", {}, {}},
    {"DECLARE c CURSOR FOR SELECT * FROM t", kSession, "DECLARE CURSOR", {"t"}, {}},
    {"LISTEN jobs", kSession, "LISTEN", {}, {}},
    {"UNLISTEN *", kSession, "UNLISTEN", {}, {}},
    {"NOTIFY jobs, 'x'", kSession, "NOTIFY", {}, {}},
    // Other utility.
    {"EXECUTE p(1)", kOther, "EXECUTE", {}, {}},
    {"FETCH 10 FROM c", kOther, "FETCH", {}, {}},
    {"MOVE NEXT IN c", kOther, "MOVE", {}, {}},
    {"CLOSE c", kOther, "CLOSE CURSOR", {}, {}},
    {"VACUUM ANALYZE t", kOther, "VACUUM", {"t"}, {}},
    {"ANALYZE t", kOther, "ANALYZE", {"t"}, {}},
    {"CHECKPOINT", kOther, "CHECKPOINT", {}, {}},
};

const StatementInfo& only_statement(const Classification& c) {
  REQUIRE(c.parsed);
  REQUIRE(c.statements.size() == 1);
  return c.statements.front();
}

}  // namespace

TEST_CASE("every statement gets its kind, command and tables", "[classifier]") {
  REQUIRE(kCases.size() >= 60);
  for (const Case& expected : kCases) {
    INFO(expected.sql);
    const Classification c = classify(expected.sql);
    INFO(c.error);
    const StatementInfo& info = only_statement(c);
    CHECK(info.kind == expected.kind);
    CHECK(info.command == expected.command);
    CHECK(info.tables == expected.tables);
    CHECK(info.write_tables == expected.write_tables);
    CHECK(c.overall() == expected.kind);
  }
}

TEST_CASE("transaction statements carry their action and name", "[classifier]") {
  const std::vector<std::pair<const char*, TransactionAction>> cases = {
      {"BEGIN", TransactionAction::begin},
      {"START TRANSACTION", TransactionAction::begin},
      {"COMMIT AND CHAIN", TransactionAction::commit},
      {"END", TransactionAction::commit},
      {"ABORT", TransactionAction::rollback},
      {"ROLLBACK", TransactionAction::rollback},
      {"SAVEPOINT sp", TransactionAction::savepoint},
      {"RELEASE sp", TransactionAction::release},
      {"ROLLBACK TO sp", TransactionAction::rollback_to},
      {"PREPARE TRANSACTION 'gid'", TransactionAction::prepare_transaction},
      {"COMMIT PREPARED 'gid'", TransactionAction::commit_prepared},
      {"ROLLBACK PREPARED 'gid'", TransactionAction::rollback_prepared},
  };
  for (const auto& [sql, action] : cases) {
    INFO(sql);
    const Classification c = classify(sql);
    const StatementInfo& info = only_statement(c);
    CHECK(info.kind == StatementKind::transaction);
    CHECK(info.transaction == action);
    CHECK(c.has_transaction_control());
  }
  CHECK(only_statement(classify("ROLLBACK TO SAVEPOINT sp")).name == "sp");
  CHECK(only_statement(classify("COMMIT PREPARED 'gid'")).name == "gid");
  CHECK(only_statement(classify("SELECT 1")).transaction == TransactionAction::none);
  CHECK_FALSE(classify("SELECT 1").has_transaction_control());
}

TEST_CASE("flags describe the clauses that make a read a write", "[classifier]") {
  CHECK(only_statement(classify("SELECT * FROM t FOR UPDATE")).has_locking_clause);
  CHECK_FALSE(only_statement(classify("SELECT * FROM t")).has_locking_clause);
  CHECK(only_statement(classify("WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d"))
            .has_modifying_cte);
  CHECK_FALSE(only_statement(classify("WITH d AS (SELECT 1) SELECT * FROM d")).has_modifying_cte);
  CHECK(only_statement(classify("SELECT 1 AS x INTO TEMP t")).is_select_into);
  CHECK(only_statement(classify("SELECT nextval('s')")).calls_write_function);
  CHECK_FALSE(only_statement(classify("SELECT lower('A')")).calls_write_function);
}

TEST_CASE("what each store may evaluate for itself is hinted for the rewrite", "[classifier]") {
  for (const char* sql : {
           "DO $$BEGIN PERFORM 1; END$$",
           "ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now()",
           "ALTER TABLE t ADD COLUMN c int DEFAULT 0",  // the analysis tells a constant apart
           "ALTER TABLE t ADD COLUMN n serial",
           "ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY",
           "ALTER TABLE t ALTER COLUMN c TYPE bigint USING c * 2",
           "COPY t FROM '/tmp/t.csv'",
           "COPY t FROM PROGRAM 'cat /tmp/t.csv'",
           "INSERT INTO t SELECT pg_read_file('x')",
           "SELECT lo_create(0)",
           "SELECT pg_catalog.lo_import('/tmp/x')",
       }) {
    INFO(sql);
    CHECK(only_statement(classify(sql)).may_evaluate_per_store);
  }
  for (const char* sql : {
           "ALTER TABLE t ADD COLUMN c int",
           "ALTER TABLE t ALTER COLUMN c SET DEFAULT now()",
           "CREATE TABLE n (id serial)",
           "COPY t FROM STDIN",
           "COPY t TO '/tmp/t.csv'",
           "INSERT INTO t VALUES ('now')",  // a value: the classification is shared by shape
           "SELECT lo_unlink(42)",
       }) {
    INFO(sql);
    CHECK_FALSE(only_statement(classify(sql)).may_evaluate_per_store);
  }
}

TEST_CASE("the outermost ORDER BY is recorded for result comparison", "[classifier]") {
  CHECK(only_statement(classify("SELECT * FROM t ORDER BY id")).has_order_by);
  CHECK(only_statement(classify("SELECT a FROM t UNION SELECT a FROM u ORDER BY 1")).has_order_by);
  CHECK_FALSE(
      only_statement(classify("SELECT * FROM (SELECT * FROM t ORDER BY id) s")).has_order_by);
  CHECK_FALSE(only_statement(classify("SELECT * FROM t")).has_order_by);
}

TEST_CASE("functions are recorded as written, SQL value functions by name", "[classifier]") {
  const StatementInfo info = only_statement(
      classify("SELECT pg_catalog.now(), lower(name), CURRENT_DATE, app.audit(1), lower(x) "
               "FROM t WHERE ts < LOCALTIMESTAMP"));
  CHECK(info.functions ==
        Names{"pg_catalog.now", "lower", "current_date", "app.audit", "localtimestamp"});
  CHECK(info.calls_nondeterministic);
  CHECK_FALSE(info.calls_write_function);

  const StatementInfo pgbench =
      only_statement(classify("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                              "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);"));
  CHECK(pgbench.functions == Names{"current_timestamp"});
  CHECK(pgbench.calls_nondeterministic);

  CHECK_FALSE(only_statement(classify("SELECT current_user, lower('x')")).calls_nondeterministic);
  CHECK(only_statement(classify("SELECT gen_random_uuid()")).calls_nondeterministic);
  CHECK(only_statement(classify("SELECT clock_timestamp()")).calls_nondeterministic);
  // Functions inside DML, subqueries and DDL defaults are found too.
  CHECK(only_statement(classify("UPDATE t SET a = (SELECT f(b) FROM u)")).functions == Names{"f"});
  CHECK(only_statement(classify("ALTER TABLE t ALTER COLUMN c SET DEFAULT now()")).functions ==
        Names{"now"});
}

TEST_CASE("configured function lists override the built-in one", "[classifier]") {
  ClassifierOptions options;
  options.write_functions = {"app.bump_counter", "Touch"};
  options.read_only_functions = {"nextval"};

  CHECK(only_statement(classify("SELECT app.bump_counter(1)", options)).kind == kWrite);
  CHECK(only_statement(classify("SELECT bump_counter(1)", options)).kind == kWrite);
  CHECK(only_statement(classify("SELECT other.bump_counter(1)")).kind == kRead);
  CHECK(only_statement(classify("SELECT other.touch(1)", options)).kind == kWrite);
  CHECK(only_statement(classify("SELECT nextval('s')", options)).kind == kRead);
  CHECK(only_statement(classify("SELECT nextval('s')")).kind == kWrite);
}

TEST_CASE("built-in write functions", "[classifier]") {
  using pgdual::routing::is_builtin_write_function;
  for (const char* name :
       {"nextval", "setval", "pg_catalog.nextval", "PG_ADVISORY_LOCK", "pg_advisory_xact_lock",
        "pg_advisory_unlock_all", "pg_try_advisory_lock_shared", "lo_import", "lo_unlink", "lo_put",
        "lo_from_bytea", "lowrite", "set_config", "pg_notify"}) {
    INFO(name);
    CHECK(is_builtin_write_function(name));
  }
  for (const char* name : {"txid_current", "now", "lower", "count", "app.nextval", "currval"}) {
    INFO(name);
    CHECK_FALSE(is_builtin_write_function(name));
  }
}

TEST_CASE("PREPARE and DECLARE expose the wrapped statement", "[classifier]") {
  const StatementInfo prepare = only_statement(
      classify("PREPARE upd (int, int) AS UPDATE a SET x = $1 FROM b WHERE id = $2"));
  CHECK(prepare.kind == kSession);
  CHECK(prepare.name == "upd");
  REQUIRE(prepare.prepared_inner_kind.has_value());
  CHECK(*prepare.prepared_inner_kind == kWrite);
  CHECK(prepare.tables == Names{"a", "b"});

  const StatementInfo select = only_statement(classify("PREPARE q AS SELECT nextval('s')"));
  CHECK(*select.prepared_inner_kind == kWrite);
  CHECK(select.functions == Names{"nextval"});

  const StatementInfo cursor = only_statement(classify("DECLARE c CURSOR FOR SELECT * FROM t"));
  CHECK(cursor.name == "c");
  CHECK(*cursor.prepared_inner_kind == kRead);

  CHECK_FALSE(only_statement(classify("SELECT 1")).prepared_inner_kind.has_value());
  CHECK(only_statement(classify("EXECUTE upd(1, 2)")).name == "upd");
}

TEST_CASE("session statements name what they change", "[classifier]") {
  const StatementInfo set = only_statement(classify("SET LOCAL search_path TO app"));
  CHECK(set.name == "search_path");
  CHECK(set.is_local);
  CHECK_FALSE(only_statement(classify("SET search_path TO app")).is_local);
  CHECK(only_statement(classify("LISTEN jobs")).is_listen);
  CHECK(only_statement(classify("LISTEN jobs")).name == "jobs");
  CHECK(only_statement(classify("UNLISTEN jobs")).is_listen);
  CHECK(only_statement(classify("NOTIFY jobs")).is_listen);
  CHECK_FALSE(only_statement(classify("SET a.b = 1")).is_listen);
}

TEST_CASE("multi-statement strings are split and classified in order", "[classifier]") {
  const std::string sql =
      "BEGIN; SELECT * FROM a; UPDATE b SET x = 1; CREATE INDEX ON c (x); COMMIT";
  const Classification c = classify(sql);
  REQUIRE(c.parsed);
  REQUIRE(c.statements.size() == 5);
  CHECK(c.statements[0].transaction == TransactionAction::begin);
  CHECK(c.statements[1].kind == kRead);
  CHECK(c.statements[1].tables == Names{"a"});
  CHECK(c.statements[2].kind == kWrite);
  CHECK(c.statements[2].write_tables == Names{"b"});
  CHECK(c.statements[3].kind == kDdl);
  CHECK(c.statements[4].transaction == TransactionAction::commit);
  CHECK(c.overall() == kDdl);
  CHECK(c.has_transaction_control());
  CHECK(sql.substr(c.statements[1].location, c.statements[1].length) == " SELECT * FROM a");
  CHECK(sql.substr(c.statements[4].location, c.statements[4].length) == " COMMIT");

  CHECK(classify("SELECT 1; SELECT 2").overall() == kRead);
  CHECK(classify("SELECT 1; SET x = 1").overall() == kSession);
  CHECK(classify("SHOW x; BEGIN").overall() == kTransaction);
  CHECK(classify("SELECT 1; INSERT INTO t VALUES (1); BEGIN").overall() == kWrite);
  CHECK(classify("SELECT 1; FETCH c").overall() == kOther);
}

TEST_CASE("text the parser rejects is not parsed and counts as a write", "[classifier]") {
  for (const char* garbage : {"SELEC 1", "SELECT * FROM", "hello world", "UPDATE SET x = 1",
                              "SELECT 'unterminated", "\x01\x02\xff", "SELECT 1; INSERT INTO"}) {
    INFO(garbage);
    const Classification c = classify(garbage);
    CHECK_FALSE(c.parsed);
    CHECK_FALSE(c.unsupported);
    CHECK_FALSE(c.error.empty());
    CHECK(c.statements.empty());
    CHECK(c.overall() == kWrite);
  }
  const Classification nul = classify(std::string_view("SELECT 1\0; DROP TABLE t", 23));
  CHECK_FALSE(nul.parsed);
  CHECK(nul.overall() == kWrite);

  const Classification empty = classify("  -- only a comment\n");
  CHECK(empty.parsed);
  CHECK(empty.statements.empty());
  CHECK(empty.overall() == kOther);
}

TEST_CASE("deeply nested statements neither crash nor pass as reads", "[classifier]") {
  // Deep enough to overflow a thread stack if parsed naively (see
  // routing/classify/parse_guard.hpp).
  std::string deep = "SELECT 1";
  for (int i = 0; i < 20000; ++i) deep += "+1";
  const Classification parsed = classify(deep);
  REQUIRE(parsed.parsed);
  CHECK(only_statement(parsed).kind == kRead);

  std::string deep_write = "INSERT INTO t VALUES (";
  for (int i = 0; i < 1500; ++i) deep_write += "(SELECT ";
  deep_write += "1" + std::string(1500, ')') + ")";
  const Classification write_result = classify(deep_write);
  INFO(write_result.error);
  REQUIRE(write_result.parsed);
  CHECK(only_statement(write_result).kind == kWrite);
  CHECK(only_statement(write_result).write_tables == Names{"t"});

  std::string too_deep = "SELECT 1";
  for (int i = 0; i < 200000; ++i) too_deep += "+1";
  const Classification refused = classify(too_deep);
  CHECK_FALSE(refused.parsed);
  CHECK(refused.unsupported);
  CHECK(refused.overall() == kWrite);

  // Long but flat statements are parsed normally.
  std::string wide = "DELETE FROM t WHERE id = 0";
  for (int i = 1; i < 20000; ++i) wide += " OR id = " + std::to_string(i);
  const Classification flat = classify(wide);
  REQUIRE(flat.parsed);
  CHECK(only_statement(flat).write_tables == Names{"t"});
}

TEST_CASE("classify is safe to call from several threads", "[classifier][threads]") {
  const std::vector<std::string> texts = {
      "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
      "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
      "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x JOIN u ON true",
      "BEGIN; SELECT 1; COMMIT",
      "SELEC garbage",
  };
  std::vector<Classification> expected;
  for (const auto& text : texts) expected.push_back(classify(text));

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::size_t k = static_cast<std::size_t>(i + t) % texts.size();
        const Classification c = classify(texts[k]);
        const bool same =
            c.parsed == expected[k].parsed &&
            c.statements.size() == expected[k].statements.size() &&
            c.overall() == expected[k].overall() &&
            (c.statements.empty() || c.statements[0].tables == expected[k].statements[0].tables);
        if (!same) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches.load() == 0);
}
