// jobs/reconcile/compare_sql: the value normalisations and the exact text of every comparison
// statement, for a one-column integer key and a two-column text key.

#include <catch2/catch.hpp>

#include "jobs/reconcile/compare_sql.hpp"

using namespace pgdual::jobs::reconcile;
using pgdual::jobs::backfill::TablePlan;

namespace {

// public.items (id integer PRIMARY KEY, name text, price numeric)
TablePlan int_key_plan() {
  TablePlan plan;
  plan.source = plan.target = "public.items";
  plan.source_quoted = plan.target_quoted = "\"public\".\"items\"";
  plan.columns_quoted = {"\"id\"", "\"name\"", "\"price\""};
  plan.column_types = {"integer", "text", "numeric"};
  plan.key = {{"\"id\"", "integer"}};
  plan.update_columns_quoted = {"\"name\"", "\"price\""};
  return plan;
}

// app.events (tenant text, slug text, payload json, score double precision,
// PRIMARY KEY (tenant, slug))
TablePlan text_key_plan() {
  TablePlan plan;
  plan.source = plan.target = "app.events";
  plan.source_quoted = plan.target_quoted = "\"app\".\"events\"";
  plan.columns_quoted = {"\"tenant\"", "\"slug\"", "\"payload\"", "\"score\""};
  plan.column_types = {"text", "text", "json", "double precision"};
  plan.key = {{"\"tenant\"", "text"}, {"\"slug\"", "text"}};
  plan.update_columns_quoted = {"\"payload\"", "\"score\""};
  return plan;
}

}  // namespace

TEST_CASE("json is fingerprinted as jsonb and unconstrained numeric by trim_scale",
          "[reconcile][compare_sql]") {
  const CompareOptions exact;
  CHECK(normalized_value("\"doc\"", "json", exact) == "\"doc\"::jsonb");
  CHECK(normalized_value("\"amount\"", "numeric", exact) == "trim_scale(\"amount\")");
}

TEST_CASE("other types are fingerprinted as they print", "[reconcile][compare_sql]") {
  const CompareOptions exact;
  // numeric(p,s) has one scale: nothing to trim.
  CHECK(normalized_value("\"amount\"", "numeric(10,2)", exact) == "\"amount\"");
  CHECK(normalized_value("\"doc\"", "jsonb", exact) == "\"doc\"");
  CHECK(normalized_value("\"name\"", "text", exact) == "\"name\"");
  CHECK(normalized_value("\"at\"", "timestamp with time zone", exact) == "\"at\"");
}

TEST_CASE("floats are compared exactly when no tolerance is configured",
          "[reconcile][compare_sql]") {
  const CompareOptions exact;  // float_digits 0
  CHECK(normalized_value("\"score\"", "double precision", exact) == "\"score\"");
  CHECK(normalized_value("\"ratio\"", "real", exact) == "\"ratio\"");
}

TEST_CASE("floats are rounded to the configured significant digits through to_char",
          "[reconcile][compare_sql]") {
  CompareOptions options;
  options.float_digits = 3;
  const std::string score = normalized_value("\"score\"", "double precision", options);
  // Zero, NaN and the infinities print as they are (to_char has no form for them).
  CHECK(score.rfind("CASE WHEN \"score\" = 0 OR \"score\" IN ('NaN', 'Infinity', '-Infinity') "
                    "THEN \"score\"::text ELSE to_char(\"score\"::float8, '",
                    0) == 0);
  // Three significant digits: one before the point, two after, scientific form.
  CHECK(score.find("9.99EEEE') END") != std::string::npos);
  CHECK(score.find("9.999EEEE") == std::string::npos);
  // Not 'FM9.99EEEE': PostgreSQL 15 rejects FM with EEEE ("EEEE" is incompatible with other
  // formats) for every non-zero finite value.
  CHECK(score.find("'9.99EEEE'") != std::string::npos);
  CHECK(score.find("FM") == std::string::npos);

  const std::string ratio = normalized_value("\"ratio\"", "real", options);
  CHECK(ratio.find("to_char(\"ratio\"::float8, '") != std::string::npos);

  options.float_digits = 1;  // one digit: nothing after the point
  CHECK(normalized_value("\"r\"", "real", options).find("9.EEEE') END") != std::string::npos);
  options.float_digits = 6;
  CHECK(normalized_value("\"r\"", "real", options).find("9.99999EEEE') END") != std::string::npos);
  // Non-float types ignore the setting.
  CHECK(normalized_value("\"n\"", "integer", options) == "\"n\"");
  CHECK(normalized_value("\"n\"", "numeric(12,4)", options) == "\"n\"");
}

TEST_CASE("row_text is ROW() of every column's normalised value", "[reconcile][compare_sql]") {
  CHECK(row_text(int_key_plan(), {}) == "ROW(\"id\", \"name\", trim_scale(\"price\"))::text");
  CHECK(row_text(text_key_plan(), {}) ==
        "ROW(\"tenant\", \"slug\", \"payload\"::jsonb, \"score\")::text");
  CompareOptions rounded;
  rounded.float_digits = 4;
  const std::string text = row_text(text_key_plan(), rounded);
  CHECK(text.rfind("ROW(\"tenant\", \"slug\", \"payload\"::jsonb, CASE WHEN \"score\" = 0", 0) ==
        0);
  CHECK(text.find("to_char(\"score\"::float8, ") != std::string::npos);
  CHECK(text.substr(text.size() - 11) == " END)::text");
}

TEST_CASE("checksum_sql over a one-column integer key with every kind of bound",
          "[reconcile][compare_sql]") {
  const TablePlan plan = int_key_plan();
  const std::string head =
      "SELECT count(*), coalesce(sum(hashtextextended(ROW(\"id\", \"name\", "
      "trim_scale(\"price\"))::text, 0)), 0) FROM \"public\".\"items\" WHERE ";
  CHECK(checksum_sql(plan, {}, {"10"}, {"20"}) ==
        head + "\"id\" > '10'::integer AND \"id\" <= '20'::integer");
  CHECK(checksum_sql(plan, {}, {}, {"20"}) == head + "\"id\" <= '20'::integer");
  CHECK(checksum_sql(plan, {}, {"10"}, {}) == head + "\"id\" > '10'::integer");
  CHECK(checksum_sql(plan, {}, {}, {}) == head + "true");
}

TEST_CASE("checksum_sql over a two-column text key compares rows", "[reconcile][compare_sql]") {
  CHECK(checksum_sql(text_key_plan(), {}, {"acme", "a"}, {"acme", "m"}) ==
        "SELECT count(*), coalesce(sum(hashtextextended(ROW(\"tenant\", \"slug\", "
        "\"payload\"::jsonb, \"score\")::text, 0)), 0) FROM \"app\".\"events\" WHERE "
        "(\"tenant\", \"slug\") > ('acme'::text, 'a'::text) AND (\"tenant\", \"slug\") <= "
        "('acme'::text, 'm'::text)");
}

TEST_CASE("boundary_sql takes the key `rows` keys on", "[reconcile][compare_sql]") {
  CHECK(boundary_sql(int_key_plan(), {"10"}, 1000) ==
        "SELECT \"id\"::text AS key_0 FROM \"public\".\"items\" WHERE \"id\" > '10'::integer "
        "ORDER BY \"id\" LIMIT 1 OFFSET 999");
  CHECK(boundary_sql(int_key_plan(), {}, 1) ==
        "SELECT \"id\"::text AS key_0 FROM \"public\".\"items\" WHERE true ORDER BY \"id\" "
        "LIMIT 1 OFFSET 0");
  CHECK(boundary_sql(text_key_plan(), {"acme", "z"}, 50) ==
        "SELECT \"tenant\"::text AS key_0, \"slug\"::text AS key_1 FROM \"app\".\"events\" "
        "WHERE (\"tenant\", \"slug\") > ('acme'::text, 'z'::text) ORDER BY \"tenant\", \"slug\" "
        "LIMIT 1 OFFSET 49");
}

TEST_CASE("split_key_sql takes the offset-th key of a closed or open range",
          "[reconcile][compare_sql]") {
  CHECK(split_key_sql(int_key_plan(), {"10"}, {"20"}, 5) ==
        "SELECT \"id\"::text AS key_0 FROM \"public\".\"items\" WHERE \"id\" > '10'::integer AND "
        "\"id\" <= '20'::integer ORDER BY \"id\" LIMIT 1 OFFSET 5");
  CHECK(split_key_sql(text_key_plan(), {}, {"b", "x"}, 0) ==
        "SELECT \"tenant\"::text AS key_0, \"slug\"::text AS key_1 FROM \"app\".\"events\" "
        "WHERE (\"tenant\", \"slug\") <= ('b'::text, 'x'::text) ORDER BY \"tenant\", \"slug\" "
        "LIMIT 1 OFFSET 0");
}

TEST_CASE("row_fingerprints_sql returns the key's text, its hash, then the fingerprint",
          "[reconcile][compare_sql]") {
  CHECK(row_fingerprints_sql(int_key_plan(), {}, {}, {"20"}) ==
        "SELECT \"id\"::text AS key_0, hashtextextended(\"id\"::text, 0), "
        "hashtextextended(ROW(\"id\", \"name\", "
        "trim_scale(\"price\"))::text, 0) FROM \"public\".\"items\" WHERE \"id\" <= "
        "'20'::integer");
  CHECK(row_fingerprints_sql(text_key_plan(), {}, {"a", "b"}, {}) ==
        "SELECT \"tenant\"::text AS key_0, \"slug\"::text AS key_1, "
        "hashtextextended(ROW(\"tenant\", \"slug\")::text, 0), "
        "hashtextextended(ROW(\"tenant\", \"slug\", \"payload\"::jsonb, \"score\")::text, 0) "
        "FROM \"app\".\"events\" WHERE (\"tenant\", \"slug\") > ('a'::text, 'b'::text)");
}

TEST_CASE(
    "fetch_rows_sql selects keys, record text, every column raw and normalised, FOR SHARE only "
    "when locking",
    "[reconcile][compare_sql]") {
  const std::string head =
      "SELECT \"id\"::text AS key_0, ROW(\"id\", \"name\", trim_scale(\"price\"))::text, \"id\", "
      "\"name\", \"price\", (\"id\")::text, (\"name\")::text, (trim_scale(\"price\"))::text "
      "FROM \"public\".\"items\" WHERE \"id\" IN ";
  CHECK(fetch_rows_sql(int_key_plan(), {}, {{"1"}, {"2"}}, false) ==
        head + "('1'::integer, '2'::integer)");
  CHECK(fetch_rows_sql(int_key_plan(), {}, {{"1"}, {"2"}}, true) ==
        head + "('1'::integer, '2'::integer) FOR SHARE");
  // No key: a statement that matches nothing rather than a syntax error.
  CHECK(fetch_rows_sql(int_key_plan(), {}, {}, false) == head + "(NULL)");

  CHECK(fetch_rows_sql(text_key_plan(), {}, {{"acme", "a"}, {"beta", "b"}}, true) ==
        "SELECT \"tenant\"::text AS key_0, \"slug\"::text AS key_1, ROW(\"tenant\", \"slug\", "
        "\"payload\"::jsonb, \"score\")::text, \"tenant\", \"slug\", \"payload\", \"score\", "
        "(\"tenant\")::text, (\"slug\")::text, (\"payload\"::jsonb)::text, (\"score\")::text FROM "
        "\"app\".\"events\" WHERE (\"tenant\", \"slug\") IN (('acme'::text, 'a'::text), "
        "('beta'::text, 'b'::text)) FOR SHARE");
}

TEST_CASE("a key value with a quote and a backslash is quoted as an E'' literal",
          "[reconcile][compare_sql]") {
  const Key nasty = {"O'Brien\\x", "it's"};
  const std::string quoted = "(E'O''Brien\\\\x'::text, 'it''s'::text)";
  CHECK(checksum_sql(text_key_plan(), {}, nasty, {}).find("> " + quoted) != std::string::npos);
  CHECK(fetch_rows_sql(text_key_plan(), {}, {nasty}, false).find("IN (" + quoted + ")") !=
        std::string::npos);
  CHECK(boundary_sql(int_key_plan(), {"1'; DROP TABLE x; --"}, 2)
            .find("\"id\" > '1''; DROP TABLE x; --'::integer ORDER BY") != std::string::npos);
}
