#include <pg_query/pg_query.pb-c.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "routing/rewrite/pipeline.hpp"
#include "routing/rewrite/tree.hpp"

namespace {

using namespace pgdual::routing;

ColumnDefaults table_defaults() {
  return {{"t",
           {{"id", DefaultKind::sequence, "t_id_seq", Identity::none, 1, ""},
            {"created", DefaultKind::time, "", Identity::none, 3, ""}}},
          {"s.ti", {{"id", DefaultKind::sequence, "s.ti_id_seq", Identity::always, 1, ""}}},
          {"tu", {{"u", DefaultKind::uuid, "", Identity::none, 0, ""}}},
          {"te", {{"at", DefaultKind::opaque, "", Identity::none, 2, "clock_timestamp()"}}}};
}

// Recognisable values: timestamp k is "...12:00:0k+00", random k is 0.1 + k, uuid k ends in k,
// sequence value k is 100 + k.
RewriteValues values_for(const RewriteAnalysis& analysis) {
  RewriteValues values;
  for (std::size_t k = 0; k < analysis.time_slots.size(); ++k) {
    values.timestamps.push_back("2024-05-01 12:00:0" + std::to_string(k) + "+00");
  }
  for (std::size_t k = 0; k < analysis.random_count; ++k) values.randoms.push_back(0.1 + k);
  for (std::size_t k = 0; k < analysis.uuid_count; ++k) {
    values.uuids.push_back("00000000-0000-4000-8000-00000000000" + std::to_string(k));
  }
  for (std::size_t k = 0; k < analysis.sequences.size(); ++k) {
    values.sequence_values.push_back(100 + static_cast<std::int64_t>(k));
  }
  return values;
}

const std::string T0 = "'2024-05-01 12:00:00+00'::timestamp with time zone";

// The rewritten text, checked to parse again with nothing left to rewrite.
std::string rewritten(const std::string& sql, const ColumnDefaults& defaults = {},
                      const RewritePipeline& pipeline = RewritePipeline::for_store()) {
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
  INFO(sql << "\n" << analysis.error);
  REQUIRE(analysis.rewritable());
  const RewriteResult result =
      rewrite_statement_text(sql, analysis, values_for(analysis), pipeline);
  INFO(result.error);
  REQUIRE(result.ok);
  const RewriteAnalysis again = analyze_for_rewrite(result.sql, defaults);
  INFO(result.sql);
  REQUIRE(again.parsed);
  CHECK_FALSE(again.needs_rewrite);
  return result.sql;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A stand-in for a schema-mapping step: renames a table wherever a RangeVar names it.
class RenameTable final : public RewriteStep {
 public:
  RenameTable(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::string_view name() const override { return "rename table"; }
  bool applies_to(const StatementSites&) const override { return true; }
  bool apply(PgQuery__Node& statement, RewriteContext& context) const override {
    std::vector<ProtobufCMessage*> pending{&statement.base};
    while (!pending.empty()) {
      ProtobufCMessage* message = pending.back();
      pending.pop_back();
      if (message->descriptor == &pg_query__range_var__descriptor) {
        auto* range_var = reinterpret_cast<PgQuery__RangeVar*>(message);
        if (from_ == range_var->relname) {
          std::free(range_var->relname);  // protobuf-c's default allocator is malloc
          range_var->relname = strdup(to_.c_str());
          context.changed = true;
        }
      }
      pgdual::routing::detail::for_each_child(
          message, [&](const ProtobufCFieldDescriptor&, ProtobufCMessage* child) {
            pending.push_back(child);
          });
    }
    return true;
  }

 private:
  std::string from_;
  std::string to_;
};

class Refuse final : public RewriteStep {
 public:
  std::string_view name() const override { return "refuse"; }
  bool applies_to(const StatementSites&) const override { return true; }
  bool apply(PgQuery__Node&, RewriteContext& context) const override {
    context.error = "no mapping";
    return false;
  }
};

}  // namespace

TEST_CASE("every time function form becomes a cast of one timestamptz literal") {
  struct Form {
    const char* sql;
    std::string expected;
    TimeType type;
    TimeScope scope;
    int precision;
  };
  const auto tx = TimeScope::transaction;
  const std::vector<Form> forms = {
      {"now()", T0, TimeType::timestamptz, tx, -1},
      {"pg_catalog.now()", T0, TimeType::timestamptz, tx, -1},
      {"transaction_timestamp()", T0, TimeType::timestamptz, tx, -1},
      {"CURRENT_TIMESTAMP", T0, TimeType::timestamptz, tx, -1},
      {"CURRENT_TIMESTAMP(3)", "'2024-05-01 12:00:00+00'::timestamp (3) with time zone",
       TimeType::timestamptz, tx, 3},
      {"CURRENT_TIME", T0 + "::time with time zone", TimeType::timetz, tx, -1},
      {"CURRENT_TIME(2)", T0 + "::time (2) with time zone", TimeType::timetz, tx, 2},
      {"CURRENT_DATE", T0 + "::pg_catalog.date", TimeType::date, tx, -1},
      {"LOCALTIMESTAMP", T0 + "::timestamp", TimeType::timestamp, tx, -1},
      {"LOCALTIMESTAMP(0)", T0 + "::timestamp(0)", TimeType::timestamp, tx, 0},
      {"LOCALTIME", T0 + "::time", TimeType::time, tx, -1},
      {"LOCALTIME(6)", T0 + "::time(6)", TimeType::time, tx, 6},
      {"statement_timestamp()", T0, TimeType::timestamptz, TimeScope::statement, -1},
      {"pg_catalog.clock_timestamp()", T0, TimeType::timestamptz, TimeScope::statement, -1},
  };
  for (const Form& form : forms) {
    const std::string sql = std::string("INSERT INTO x VALUES (") + form.sql + ")";
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
    REQUIRE(analysis.statements.size() == 1);
    REQUIRE(analysis.statements[0].sites.size() == 1);
    const RewriteSite& site = analysis.statements[0].sites[0];
    CHECK(site.kind == SiteKind::time);
    CHECK(site.time_type == form.type);
    CHECK(site.time_scope == form.scope);
    CHECK(site.precision == form.precision);
    REQUIRE(analysis.time_slots.size() == 1);
    CHECK(analysis.time_slots[0].scope == form.scope);
    CHECK(rewritten(sql) == "INSERT INTO x VALUES (" + form.expected + ")");
  }
}

TEST_CASE("time sites share one value per transaction, and one per statement") {
  const std::string sql =
      "INSERT INTO a VALUES (now(), statement_timestamp(), CURRENT_DATE);"
      "INSERT INTO b VALUES (LOCALTIME, clock_timestamp());"
      "COMMIT;"
      "INSERT INTO c VALUES (now())";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  REQUIRE(analysis.statements.size() == 4);
  REQUIRE(analysis.time_slots.size() == 4);
  CHECK(analysis.time_slots[0].scope == TimeScope::transaction);
  CHECK_FALSE(analysis.time_slots[0].new_transaction);
  CHECK(analysis.time_slots[1].scope == TimeScope::statement);
  CHECK(analysis.time_slots[2].statement == 1);
  CHECK(analysis.time_slots[3].scope == TimeScope::transaction);
  CHECK(analysis.time_slots[3].new_transaction);  // after the COMMIT
  const auto index = [&](std::size_t s, std::size_t i) {
    return analysis.statements[s].sites[i].value_index;
  };
  CHECK(index(0, 0) == 0);
  CHECK(index(0, 1) == 1);
  CHECK(index(0, 2) == 0);
  CHECK(index(1, 0) == 0);
  CHECK(index(1, 1) == 2);
  CHECK(index(3, 0) == 3);
  CHECK(analysis.statements[2].ends_transaction);
  const std::string out = rewritten(sql);
  CHECK(out.find("INSERT INTO c VALUES ('2024-05-01 12:00:03+00'::timestamp with time zone)") !=
        std::string::npos);
}

TEST_CASE("random() and the uuid functions get one value per call") {
  const std::string sql =
      "INSERT INTO x VALUES (random(), pg_catalog.random(), gen_random_uuid(), "
      "pg_catalog.gen_random_uuid(), ext.uuid_generate_v4())";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  CHECK(analysis.random_count == 2);
  CHECK(analysis.uuid_count == 3);
  CHECK(rewritten(sql) ==
        "INSERT INTO x VALUES ((0.10000000000000001)::double precision, "
        "(1.1000000000000001)::double precision, "
        "'00000000-0000-4000-8000-000000000000'::pg_catalog.uuid, "
        "'00000000-0000-4000-8000-000000000001'::pg_catalog.uuid, "
        "'00000000-0000-4000-8000-000000000002'::pg_catalog.uuid)");

  // 17 significant digits read back as the very same double.
  RewriteValues values = values_for(analysis);
  values.randoms = {0.84018771715470952, 1.0 / 3.0};
  const RewriteResult result =
      rewrite_statement_text(sql, analysis, values, RewritePipeline::for_store());
  REQUIRE(result.ok);
  const auto at = result.sql.find("((") + 2;
  CHECK(std::strtod(result.sql.c_str() + at, nullptr) == 0.84018771715470952);
  CHECK(result.sql.find("(0.33333333333333331)::double precision") != std::string::npos);
}

TEST_CASE("nextval with a literal sequence name becomes a bigint literal") {
  const std::string sql =
      "SELECT nextval('s'), nextval('public.s'::regclass), "
      "pg_catalog.nextval('\"Odd\".s'::pg_catalog.regclass), nextval('s')";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  CHECK(analysis.sequences == std::vector<std::string>{"s", "public.s", "\"Odd\".s", "s"});
  RewriteValues values = values_for(analysis);
  values.sequence_values = {42, 5000000000, -7, std::numeric_limits<std::int64_t>::min()};
  const RewriteResult result =
      rewrite_statement_text(sql, analysis, values, RewritePipeline::for_store());
  REQUIRE(result.ok);
  CHECK(result.sql ==
        "SELECT 42::bigint, (5000000000)::bigint, (-7)::bigint, "
        "'-9223372036854775808'::bigint");
}

TEST_CASE("omitted volatile defaults of INSERT ... VALUES become explicit") {
  const ColumnDefaults defaults = table_defaults();
  const std::string sql = "INSERT INTO t (name) VALUES ('a'), ($1) RETURNING id, $2::int";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
  REQUIRE(analysis.statements[0].sites.size() == 4);  // row by row: id, created
  const RewriteSite& second_id = analysis.statements[0].sites[2];
  CHECK(second_id.column == "id");
  CHECK(second_id.table == "t");
  CHECK(second_id.row == 1);
  CHECK(second_id.row_position == -1);
  CHECK(analysis.sequences == std::vector<std::string>{"t_id_seq", "t_id_seq"});
  CHECK(rewritten(sql, defaults) == "INSERT INTO t (name, id, created) VALUES ('a', 100::bigint, " +
                                        T0 + "), ($1, " + "101::bigint, " + T0 +
                                        ") RETURNING id, $2::int");

  SECTION("an explicit DEFAULT is replaced in place, row by row") {
    CHECK(rewritten("INSERT INTO t (id, name, created) VALUES (DEFAULT, 'a', DEFAULT), "
                    "(7, 'b', now())",
                    defaults) == "INSERT INTO t (id, name, created) VALUES (100::bigint, 'a', " +
                                     T0 + "), (7, 'b', " + T0 + ")");
  }
  SECTION("DEFAULT VALUES gets a column list and a row") {
    CHECK(rewritten("INSERT INTO t DEFAULT VALUES RETURNING *", defaults) ==
          "INSERT INTO t (id, created) VALUES (100::bigint, " + T0 + ") RETURNING *");
  }
  SECTION("an opaque default left to the server is unrewritable; given explicitly it is not") {
    CHECK(analyze_for_rewrite("INSERT INTO te (id) VALUES (1)", defaults).unrewritable() ==
          std::vector<std::string>{"the default of te.at (clock_timestamp())"});
    CHECK(analyze_for_rewrite("INSERT INTO te (id, at) VALUES (1, '2026-01-01')", defaults)
              .unrewritable()
              .empty());
  }
  SECTION("without a column list, the columns' positions place the values") {
    CHECK(rewritten("INSERT INTO t VALUES (DEFAULT, 'a')", defaults) ==
          "INSERT INTO t VALUES (100::bigint, 'a', " + T0 + ")");
    CHECK(rewritten("INSERT INTO t VALUES (1, 'a', now(), 'x')", defaults) ==
          "INSERT INTO t VALUES (1, 'a', " + T0 + ", 'x')");
    // created (column 3) would follow an unknown column 2; tu's position is unknown.
    CHECK(analyze_for_rewrite("INSERT INTO t VALUES (1)", defaults).unrewritable() ==
          std::vector<std::string>{"INSERT without a column list into t"});
    CHECK(analyze_for_rewrite("INSERT INTO tu VALUES (1)", defaults).unrewritable() ==
          std::vector<std::string>{"INSERT without a column list into tu"});
  }
  SECTION("an identity ALWAYS column made explicit gets OVERRIDING SYSTEM VALUE") {
    CHECK(rewritten("INSERT INTO s.ti (name) VALUES ('x')", defaults) ==
          "INSERT INTO s.ti (name, id) OVERRIDING SYSTEM VALUE VALUES ('x', 100::bigint)");
    CHECK(rewritten("INSERT INTO s.ti (id, name) VALUES (DEFAULT, 'y')", defaults) ==
          "INSERT INTO s.ti (id, name) OVERRIDING SYSTEM VALUE VALUES (100::bigint, 'y')");
    // Without a DEFAULT to make explicit, PostgreSQL refuses the value on both servers alike.
    CHECK_FALSE(analyze_for_rewrite("INSERT INTO s.ti (id) VALUES (5)", defaults).needs_rewrite);
  }
  SECTION("tables are looked up qualified, then bare") {
    CHECK(rewritten("INSERT INTO public.tu (v) VALUES (1)", defaults) ==
          "INSERT INTO public.tu (v, u) VALUES (1, "
          "'00000000-0000-4000-8000-000000000000'::pg_catalog.uuid)");
    CHECK_FALSE(analyze_for_rewrite("INSERT INTO ti (name) VALUES ('x')", defaults).needs_rewrite);
    // Every volatile column given: only the call is a site.
    const RewriteAnalysis given =
        analyze_for_rewrite("INSERT INTO t (id, name, created) VALUES (1, 'a', now())", defaults);
    REQUIRE(given.statements[0].sites.size() == 1);
    CHECK(given.statements[0].sites[0].function == "now");
  }
}

TEST_CASE("parameters, RETURNING and untouched statements survive") {
  CHECK(rewritten("UPDATE t SET touched = now() WHERE id = $1 AND v = $2::text RETURNING *") ==
        "UPDATE t SET touched = " + T0 + " WHERE id = $1 AND v = $2::text RETURNING *");
  // Statements that no step changes keep their text, comments and spacing included.
  const std::string sql =
      "INSERT INTO a VALUES (now());\n/* untouched */ SELECT  1 ;\nINSERT INTO b SELECT random()";
  CHECK(rewritten(sql) == "INSERT INTO a VALUES (" + T0 +
                              ");\n/* untouched */ SELECT  1 ;INSERT INTO b SELECT "
                              "(0.10000000000000001)::double precision");
}

TEST_CASE("a statement with nothing to rewrite is left alone") {
  const ColumnDefaults defaults = table_defaults();
  for (const char* sql : {
           "INSERT INTO other (a) VALUES (1)",
           "UPDATE t SET name = 'x' WHERE id = 3",
           "INSERT INTO t (id, name, created) VALUES (1, 'a', '2020-01-01')",
           "SELECT current_user, setval('s', 5)",
           "CREATE TABLE x (id serial, at timestamptz DEFAULT now(), u uuid DEFAULT "
           "gen_random_uuid())",
           "CREATE VIEW v AS SELECT now(), random()",
           "ALTER TABLE x ALTER COLUMN at SET DEFAULT clock_timestamp()",
           "CREATE MATERIALIZED VIEW m AS SELECT now()",
           "BEGIN; COMMIT",
           "",
       }) {
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
    REQUIRE(analysis.parsed);
    CHECK_FALSE(analysis.needs_rewrite);
    CHECK(analysis.rewritable());
    const RewriteResult result =
        rewrite_statement_text(sql, analysis, {}, RewritePipeline::for_store());
    CHECK(result.ok);
    CHECK_FALSE(result.changed);
    CHECK(result.sql == sql);
  }
}

TEST_CASE("calls evaluated once per statement are rewritable wherever they are") {
  for (const char* sql : {
           "INSERT INTO x SELECT random(), now()",
           "INSERT INTO x VALUES (random()), (random() * 2)",
           "WITH r AS (SELECT random() AS v) UPDATE x SET v = r.v FROM r",
           "UPDATE x SET at = now(), st = statement_timestamp(), d = CURRENT_DATE",
           "DELETE FROM x WHERE at < now() - interval '1 day'",
           "SELECT random() UNION ALL SELECT gen_random_uuid()::text",
           "EXPLAIN ANALYZE INSERT INTO x VALUES (nextval('s'))",
           "CREATE TABLE y AS SELECT now() AS at",
           "CALL p(now(), random())",
           "EXECUTE q(clock_timestamp())",
           "INSERT INTO x VALUES (coalesce($1, now())) RETURNING now()",
       }) {
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
    CHECK(analysis.needs_rewrite);
    CHECK(analysis.rewritable());
    rewritten(sql);  // checks that the result parses and has nothing left
  }
}

TEST_CASE("constructs that cannot become literals are named") {
  struct Case {
    const char* sql;
    const char* name;
  };
  const ColumnDefaults defaults = table_defaults();
  const std::vector<std::string> user_volatile = {"my_func", "app.audit_id"};
  for (const Case& c : std::vector<Case>{
           {"INSERT INTO x SELECT random() FROM y", "random() evaluated per row"},
           {"UPDATE x SET r = random()", "random() evaluated per row"},
           {"DELETE FROM x WHERE r < random()", "random() evaluated per row"},
           {"INSERT INTO x VALUES (1) RETURNING random()", "random() evaluated per row"},
           {"UPDATE x SET id = nextval('s')", "nextval() evaluated per row"},
           {"UPDATE x SET u = gen_random_uuid() WHERE true", "gen_random_uuid() evaluated per row"},
           {"UPDATE x SET at = clock_timestamp()", "clock_timestamp() evaluated per row"},
           {"INSERT INTO x VALUES (1) ON CONFLICT (id) DO UPDATE SET r = random()",
            "random() evaluated per row"},
           {"INSERT INTO t (name) SELECT name FROM y",
            "INSERT ... SELECT into t (volatile "
            "default of id)"},
           {"INSERT INTO t SELECT * FROM y", "INSERT ... SELECT without a column list into t"},
           {"INSERT INTO x VALUES (my_func())", "volatile function my_func()"},
           {"INSERT INTO x VALUES (audit_id(1))", "volatile function audit_id()"},
           {"PREPARE p AS INSERT INTO x VALUES (now())", "now() in PREPARE"},
           {"PREPARE p AS INSERT INTO t (name) VALUES ($1)",
            "INSERT into t with volatile defaults in PREPARE"},
           {"SELECT nextval(pg_get_serial_sequence('t', 'id'))",
            "nextval() with a computed sequence name"},
           {"INSERT INTO x VALUES (txid_current())", "txid_current()"},
           {"INSERT INTO x VALUES (currval('s'))", "currval()"},
           {"UPDATE t SET id = DEFAULT", "UPDATE t SET id = DEFAULT"},
           {"INSERT INTO s.ti (id, name) VALUES (5, 'y'), (DEFAULT, 'z')",
            "value for GENERATED ALWAYS column s.ti.id"},
           {"INSERT INTO s.ti (id) OVERRIDING USER VALUE VALUES (5)",
            "OVERRIDING USER VALUE into s.ti"},
           {"MERGE INTO t USING y ON t.id = y.id WHEN NOT MATCHED THEN INSERT (name) VALUES "
            "(y.name)",
            "MERGE INSERT into t (volatile default of id)"},
           {"SELECT 1; INSERT INTO x SELECT random() FROM y", "random() evaluated per row"},
       }) {
    INFO(c.sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(c.sql, defaults, user_volatile);
    REQUIRE(analysis.parsed);
    CHECK(analysis.needs_rewrite);
    CHECK_FALSE(analysis.rewritable());
    CHECK(contains(analysis.unrewritable(), c.name));
    const RewriteResult result =
        rewrite_statement_text(c.sql, analysis, values_for(analysis), RewritePipeline::for_store());
    CHECK_FALSE(result.ok);
    CHECK(result.sql.empty());
    CHECK(result.error.find(c.name) != std::string::npos);
  }
}

TEST_CASE("writes whose rows are chosen per store are named, reads are not") {
  const ColumnDefaults defaults = table_defaults();
  for (const auto& [sql, name] : std::vector<std::pair<const char*, const char*>>{
           {"UPDATE jobs SET s = 1 WHERE id IN (SELECT id FROM jobs FOR UPDATE SKIP LOCKED)",
            "SKIP LOCKED in a write"},
           {"DELETE FROM q WHERE id = (SELECT id FROM q LIMIT 1)", "LIMIT without ORDER BY"},
           {"INSERT INTO x SELECT * FROM y LIMIT 5", "LIMIT without ORDER BY"},
           {"DELETE FROM q WHERE ctid = '(0,1)'", "ctid in a write"},
           {"UPDATE q SET s = 2 WHERE q.ctid = ANY (SELECT ctid FROM q)", "ctid in a write"},
           {"UPDATE q SET s = 2 WHERE CURRENT OF c", "WHERE CURRENT OF in a write"},
           {"CREATE TABLE c AS SELECT * FROM q LIMIT 3", "LIMIT without ORDER BY"},
       }) {
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
    REQUIRE(analysis.parsed);
    CHECK_FALSE(analysis.rewritable());
    const std::vector<std::string> reasons = analysis.unrewritable();
    CHECK(std::any_of(reasons.begin(), reasons.end(), [&](const std::string& reason) {
      return reason.find(name) != std::string::npos;
    }));
  }
  for (const char* sql :
       {"SELECT id FROM jobs FOR UPDATE SKIP LOCKED LIMIT 1", "SELECT ctid, * FROM q LIMIT 3",
        "DELETE FROM q WHERE id = (SELECT id FROM q ORDER BY id LIMIT 1)"}) {
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
    REQUIRE(analysis.parsed);
    CHECK(analysis.rewritable());
  }
}

TEST_CASE("a store's own step composes with the standard steps") {
  const ColumnDefaults defaults = table_defaults();
  const RewritePipeline old_store = RewritePipeline::for_store();
  const RewritePipeline new_store =
      RewritePipeline::for_store({std::make_shared<RenameTable>("t", "t_v2")});
  REQUIRE(new_store.steps().size() == 3);
  CHECK(new_store.steps()[0]->name() == "value substitution");
  CHECK(new_store.steps()[1]->name() == "column defaults");
  CHECK(new_store.steps()[2]->name() == "rename table");

  const std::string sql = "INSERT INTO t (name) VALUES ('a') RETURNING id; SELECT * FROM u";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, defaults);
  const RewriteValues values = values_for(analysis);  // the same values for both stores
  const RewriteResult old_text = rewrite_statement_text(sql, analysis, values, old_store);
  const RewriteResult new_text = rewrite_statement_text(sql, analysis, values, new_store);
  REQUIRE(old_text.ok);
  REQUIRE(new_text.ok);
  const std::string row = " (name, id, created) VALUES ('a', 100::bigint, " + T0 + ") RETURNING id";
  CHECK(old_text.sql == "INSERT INTO t" + row + "; SELECT * FROM u");
  CHECK(new_text.sql == "INSERT INTO t_v2" + row + "; SELECT * FROM u");
  // A store step applies to statements without sites too.
  CHECK(rewritten("SELECT * FROM t WHERE id = 1; SELECT 2", {}, new_store) ==
        "SELECT * FROM t_v2 WHERE id = 1; SELECT 2");

  const RewritePipeline refusing = RewritePipeline::for_store({std::make_shared<Refuse>()});
  const RewriteResult refused = rewrite_statement_text(sql, analysis, values, refusing);
  CHECK_FALSE(refused.ok);
  CHECK(refused.error == "refuse: no mapping");
}

TEST_CASE("the rewrite refuses values and texts that do not fit the analysis") {
  const std::string sql = "INSERT INTO x VALUES (random(), gen_random_uuid())";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  const RewritePipeline pipeline = RewritePipeline::for_store();
  const auto error = [&](std::string_view text, const RewriteAnalysis& a, const RewriteValues& v) {
    const RewriteResult result = rewrite_statement_text(text, a, v, pipeline);
    CHECK_FALSE(result.ok);
    CHECK(result.sql.empty());
    return result.error;
  };
  RewriteValues values = values_for(analysis);
  values.randoms.clear();
  CHECK(error(sql, analysis, values) == "the values do not match the analysis");
  values = values_for(analysis);
  values.uuids[0] = "not-a-uuid'; DROP TABLE x; --";
  CHECK(error(sql, analysis, values).find("uuid") != std::string::npos);
  values = values_for(analysis);
  values.randoms[0] = std::numeric_limits<double>::quiet_NaN();
  CHECK(error(sql, analysis, values).find("random") != std::string::npos);
  // An analysis of another text.
  CHECK(error("INSERT INTO x VALUES (now(), gen_random_uuid())", analysis, values_for(analysis))
            .find("does not match") != std::string::npos);
  CHECK(error(sql + "; SELECT 1", analysis, values_for(analysis)).find("does not match") !=
        std::string::npos);

  const RewriteAnalysis broken = analyze_for_rewrite("INSERT INTO x VALUES (now(", {});
  CHECK_FALSE(broken.parsed);
  CHECK_FALSE(broken.error.empty());
  CHECK(error("INSERT INTO x VALUES (now(", broken, {}).find("did not parse") != std::string::npos);
  CHECK_FALSE(analyze_for_rewrite(std::string_view("SELECT now()\0x", 14), {}).parsed);
}

TEST_CASE("a timestamp value is quoted by the deparser, not spliced") {
  const std::string sql = "INSERT INTO x VALUES (now())";
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  RewriteValues values = values_for(analysis);
  values.timestamps[0] = "2024-01-01'); DROP TABLE x; --";
  const RewriteResult result =
      rewrite_statement_text(sql, analysis, values, RewritePipeline::for_store());
  REQUIRE(result.ok);
  CHECK(result.sql ==
        "INSERT INTO x VALUES ('2024-01-01''); DROP TABLE x; --'::timestamp with time zone)");
  CHECK(analyze_for_rewrite(result.sql, {}).statements.size() == 1);
}

TEST_CASE("deeply nested statements are handled on a larger stack") {
  std::string sql = "INSERT INTO x VALUES (";
  for (int i = 0; i < 2000; ++i) sql += "1 + (";
  sql += "random()";
  sql += std::string(2000, ')') + ")";
  const std::string out = rewritten(sql);
  CHECK(out.find("(0.10000000000000001)::double precision") != std::string::npos);
}

TEST_CASE("the cache keeps analyses by text, least recently used out first") {
  RewriteCache cache(2, 64);
  const ColumnDefaults defaults = table_defaults();
  const auto first = cache.get("SELECT now()", defaults);
  CHECK(cache.get("SELECT now()", defaults) == first);
  CHECK(cache.hits() == 1);
  CHECK(cache.misses() == 1);
  REQUIRE(first->time_slots.size() == 1);

  cache.get("SELECT random()", defaults);
  cache.get("SELECT now()", defaults);  // now the most recently used
  cache.get("SELECT 1", defaults);      // evicts SELECT random()
  CHECK(cache.size() == 2);
  CHECK(cache.get("SELECT now()", defaults) == first);
  const auto misses = cache.misses();
  cache.get("SELECT random()", defaults);
  CHECK(cache.misses() == misses + 1);

  const std::string long_text = "SELECT now() /*" + std::string(100, 'x') + "*/";
  const auto uncached = cache.get(long_text, defaults);
  CHECK(uncached->needs_rewrite);
  CHECK(cache.get(long_text, defaults) != uncached);  // analysed again, not kept

  cache.clear();
  CHECK(cache.size() == 0);
  CHECK(first->time_slots.size() == 1);  // still valid: shared with the caller
}

TEST_CASE("parameter mode turns each value into a typed parameter after the client's") {
  const std::string sql = "INSERT INTO t (a, b) VALUES ($1, $2) RETURNING id, created";
  const auto analysis = analyze_for_rewrite(sql, table_defaults());
  REQUIRE(analysis.rewritable());
  CHECK(analysis.max_parameter == 2);
  RewriteValues shape;
  shape.parameter_base = 3;
  shape.timestamps.resize(analysis.time_slots.size());
  shape.randoms.resize(analysis.random_count);
  shape.uuids.resize(analysis.uuid_count);
  shape.sequence_values.resize(analysis.sequences.size());
  const auto result = rewrite_statement_text(sql, analysis, shape, RewritePipeline::for_store());
  REQUIRE(result.ok);
  INFO(result.sql);
  CHECK(result.sql.find("$1") != std::string::npos);
  CHECK(result.sql.find("$3") != std::string::npos);
  // A sequence parameter falls back to the store's own sequence when it is NULL.
  CHECK(result.sql.find("COALESCE(") != std::string::npos);
  CHECK(result.sql.find("nextval(") != std::string::npos);
  CHECK(result.sql.find("RETURNING") != std::string::npos);
  const auto types = parameter_types(analysis);
  CHECK(types.size() == analysis.time_slots.size() + analysis.random_count + analysis.uuid_count +
                            analysis.sequences.size());
  // The rewritten text has no site left and parses.
  const auto again = analyze_for_rewrite(result.sql, {});
  CHECK(again.parsed);
  CHECK(again.max_parameter == 2 + static_cast<int>(types.size()));

  // Under migration.mapping the stores name the sequence differently: no fallback to it.
  shape.own_sequence_fallback = false;
  const auto mapped = rewrite_statement_text(sql, analysis, shape, RewritePipeline::for_store());
  REQUIRE(mapped.ok);
  INFO(mapped.sql);
  CHECK(mapped.sql.find("nextval(") == std::string::npos);
  CHECK(mapped.sql.find("COALESCE(") == std::string::npos);
  CHECK(analyze_for_rewrite(mapped.sql, {}).parsed);
}

TEST_CASE("parameter values are written in parameter_types order as text") {
  const auto analysis = analyze_for_rewrite(
      "SELECT now(), random(), gen_random_uuid(), nextval('s'), nextval('t')", {});
  REQUIRE(analysis.rewritable());
  RewriteValues values;
  values.timestamps = {"2026-01-02 03:04:05.000006+00"};
  values.randoms = {0.25};
  values.uuids = {"123e4567-e89b-42d3-a456-426614174000"};
  values.sequence_values = {7, -9};
  CHECK(parameter_types(analysis) == std::vector<std::int32_t>{1184, 701, 2950, 20, 20});
  CHECK(parameter_values(values) ==
        std::vector<std::string>{"2026-01-02 03:04:05.000006+00", "0.25",
                                 "123e4567-e89b-42d3-a456-426614174000", "7", "-9"});
}

TEST_CASE("statements that differ only in values share one analysis, moved to each text") {
  RewriteCache cache;
  const std::string first = "INSERT INTO h (a, at) VALUES (1, CURRENT_TIMESTAMP);  ";
  const std::string second = "INSERT INTO h (a, at) VALUES (123456, CURRENT_TIMESTAMP);  ";
  const auto a = cache.get("shape", first, {}, {});
  const auto b = cache.get("shape", second, {}, {});
  CHECK(cache.misses() == 1);
  REQUIRE(b->statements.size() == 1);
  CHECK(b->statements[0].length == a->statements[0].length + 5);
  RewriteValues values;
  values.timestamps = {"2026-01-01 00:00:00+00"};
  const auto result = rewrite_statement_text(second, *b, values, RewritePipeline::for_store());
  REQUIRE(result.ok);
  CHECK(result.sql.find("123456") != std::string::npos);
  CHECK(result.sql.find("2026-01-01") != std::string::npos);
  CHECK(analyze_for_rewrite(result.sql, {}).parsed);
  // nextval('...') names its sequence with a literal: never shared by shape.
  cache.get("shape2", "SELECT nextval('s')", {}, {});
  const auto t = cache.get("shape2", "SELECT nextval('t')", {}, {});
  CHECK(t->sequences == std::vector<std::string>{"t"});
}
