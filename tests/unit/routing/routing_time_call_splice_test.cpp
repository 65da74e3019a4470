// Tests of routing/rewrite/time_call_splice.hpp: the splice gives what the full rewrite gives
// (after the deparser's formatting), replaces only real calls (not text in strings, quoted
// names or comments), and declines every text it cannot read with certainty.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "routing/rewrite/pipeline.hpp"
#include "routing/rewrite/time_call_splice.hpp"

namespace {

using namespace pgdual::routing;

// Changes nothing but makes the pipeline parse and deparse every statement (three steps: the
// splice only serves the standard two).
class ForceDeparse final : public RewriteStep {
 public:
  std::string_view name() const override { return "force deparse"; }
  bool applies_to(const StatementSites&) const override { return true; }
  bool apply(PgQuery__Node&, RewriteContext& context) const override {
    context.changed = true;
    return true;
  }
};

RewritePipeline deparsing_pipeline() {
  return RewritePipeline::for_store({std::make_shared<ForceDeparse>()});
}

RewriteValues values_for(const RewriteAnalysis& analysis) {
  RewriteValues values;
  for (std::size_t k = 0; k < analysis.time_slots.size(); ++k) {
    values.timestamps.push_back("2026-12-07 06:0" + std::to_string(k) + ":00.123456+00");
  }
  return values;
}

// The text as the deparser writes it.
std::string deparsed(const std::string& sql) {
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  REQUIRE(analysis.parsed);
  const RewriteResult result =
      rewrite_statement_text(sql, analysis, values_for(analysis), deparsing_pipeline());
  INFO(result.error);
  REQUIRE(result.ok);
  return result.sql;
}

std::optional<std::string> spliced(const std::string& sql) {
  const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
  REQUIRE(analysis.parsed);
  return splice_time_calls(sql, analysis, values_for(analysis));
}

}  // namespace

TEST_CASE("the splice gives the full rewrite's statement", "[time_call_splice]") {
  const std::vector<std::string> texts = {
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77, -42, "
      "CURRENT_TIMESTAMP);",
      "insert into h values (now(), current_date, localtimestamp, current_time, localtime)",
      "UPDATE t SET at = now() WHERE id = $1 AND at < now() - interval '1 day' RETURNING at",
      "UPDATE t SET d = CURRENT_DATE, s = statement_timestamp() WHERE id = 1",
      "INSERT INTO t SELECT 1, NOW( ) AT TIME ZONE 'UTC' FROM u WHERE x = 'now()'",
      "WITH w AS (UPDATE t SET at = transaction_timestamp() RETURNING id) "
      "INSERT INTO log SELECT id, now()::date FROM w",
      "DELETE FROM t WHERE at < now() -- old rows, see now()\n",
      "INSERT INTO t VALUES (/* now() */ now(), $$now()$$, \"Now\", 'it''s now()')",
      "INSERT INTO t VALUES (1+now(), -now(), now()-interval '1 h')",
      "UPDATE t SET a=now()WHERE id=1 AND b=CURRENT_DATE",
  };
  for (const auto& sql : texts) {
    INFO(sql);
    const RewriteAnalysis analysis = analyze_for_rewrite(sql, {});
    REQUIRE(analysis.rewritable());
    const RewriteValues values = values_for(analysis);
    const auto fast = splice_time_calls(sql, analysis, values);
    REQUIRE(fast);
    INFO(*fast);
    // What the rewrite sends by default is the splice.
    const RewriteResult standard =
        rewrite_statement_text(sql, analysis, values, RewritePipeline::for_store());
    REQUIRE(standard.ok);
    CHECK(standard.sql == *fast);
    // The full rewrite, written by the deparser, is the same statement.
    const RewriteResult full = rewrite_statement_text(
        sql, analysis, values, RewritePipeline::for_store({std::make_shared<ForceDeparse>()}));
    REQUIRE(full.ok);
    CHECK(deparsed(*fast) == deparsed(full.sql));
    // Nothing is left to rewrite.
    const RewriteAnalysis again = analyze_for_rewrite(*fast, {});
    REQUIRE(again.parsed);
    CHECK_FALSE(again.needs_rewrite);
  }
}

TEST_CASE("the splice leaves strings, names and comments alone", "[time_call_splice]") {
  const auto out = spliced(
      "INSERT INTO t (a, \"Now\", c) VALUES ('now()', now(), $x$ CURRENT_DATE $x$) -- now()");
  REQUIRE(out);
  CHECK(*out ==
        "INSERT INTO t (a, \"Now\", c) VALUES ('now()', '2026-12-07 06:00:00.123456+00'::timestamp "
        "with time zone, $x$ CURRENT_DATE $x$) -- now()");
  // A dollar tag of non-ASCII letters quotes too, as in PostgreSQL's lexer.
  const auto tagged = spliced("INSERT INTO t VALUES (now(), $\u00e4$ now() $\u00e4$)");
  REQUIRE(tagged);
  CHECK(tagged->find("$\u00e4$ now() $\u00e4$") != std::string::npos);
  // The literal never runs into a neighbouring word.
  const auto joined = spliced("UPDATE t SET a=now()WHERE id=1");
  REQUIRE(joined);
  CHECK(*joined ==
        "UPDATE t SET a='2026-12-07 06:00:00.123456+00'::timestamp with time zone WHERE id=1");
  const auto date = spliced("UPDATE t SET d = current_date");
  REQUIRE(date);
  CHECK(*date ==
        "UPDATE t SET d = '2026-12-07 06:00:00.123456+00'::timestamp with time "
        "zone::pg_catalog.date");
}

TEST_CASE("the splice declines what it cannot read with certainty", "[time_call_splice]") {
  // Qualified, with a precision, more than one statement, a backslash, other kinds of site.
  CHECK_FALSE(spliced("INSERT INTO t VALUES (pg_catalog.now())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (CURRENT_TIMESTAMP(3))"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now()); INSERT INTO u VALUES (now())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now(), E'a\\\\b')"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now(), random())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now(), gen_random_uuid())"));
  // A call the lexer cannot see as the parser does: a comment inside its parentheses or
  // before them, a qualified name with a comment after the dot, a quoted name.
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now(/* x */))"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (now/* x */())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (pg_catalog./**/now())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (pg_catalog.--c\nnow())"));
  CHECK_FALSE(spliced("INSERT INTO t VALUES (\"now\"(), now())"));
  // A line comment ends at a carriage return too: the call after it is the real one, the one
  // in the dollar quote is text (PostgreSQL's reading). Either the splice finds the real call
  // or it declines; it never touches the string.
  {
    const std::string sql = "INSERT INTO t VALUES (--\r now(), $$\n now() $$ --$$\n)";
    const auto out = spliced(sql);
    if (out) {
      CHECK(out->find("$$\n now() $$") != std::string::npos);
      CHECK(out->find("--\r '2026") != std::string::npos);
    }
  }
  // An unterminated comment or string: the text does not even parse, so no analysis applies;
  // the lexer alone declines it too.
  const RewriteAnalysis analysis = analyze_for_rewrite("INSERT INTO t VALUES (now())", {});
  const RewriteValues values = values_for(analysis);
  CHECK_FALSE(splice_time_calls("INSERT INTO t VALUES (now()) /* open", analysis, values));
  CHECK_FALSE(splice_time_calls("INSERT INTO t VALUES (now(), 'open", analysis, values));
  // A value a quote could break out of goes to the deparser, which quotes it.
  RewriteValues hostile = values;
  hostile.timestamps[0] = "2026-01-01'); DROP TABLE t; --";
  CHECK_FALSE(splice_time_calls("INSERT INTO t VALUES (now())", analysis, hostile));
  hostile.timestamps[0] = "";
  CHECK_FALSE(splice_time_calls("INSERT INTO t VALUES (now())", analysis, hostile));
  // Column defaults are the other step's.
  const ColumnDefaults defaults = {
      {"t", {{"created", DefaultKind::time, "", Identity::none, 2, ""}}}};
  const RewriteAnalysis with_default =
      analyze_for_rewrite("INSERT INTO t (id) VALUES (1)", defaults);
  REQUIRE(with_default.needs_rewrite);
  CHECK_FALSE(
      splice_time_calls("INSERT INTO t (id) VALUES (1)", with_default, values_for(with_default)));
}
