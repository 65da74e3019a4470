// Tests of cdc/preflight.hpp's pure rules: which type changes between the old and the new
// store replication can carry (equal types and widenings), and the column problems preflight
// reports (missing, generated only on the new store, narrowed types, NOT NULL columns without a
// default that replication does not fill).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cdc/preflight.hpp"

using pgdual::cdc::column_problems;
using pgdual::cdc::ColumnInfo;
using pgdual::cdc::safe_type_change;

namespace {

ColumnInfo column(std::string name, std::string type, bool not_null = false,
                  bool has_default = false, bool generated = false) {
  return {.name = std::move(name),
          .type = std::move(type),
          .not_null = not_null,
          .has_default = has_default,
          .generated = generated};
}

}  // namespace

TEST_CASE("type changes: equal types and integer widenings are safe") {
  CHECK(safe_type_change("integer", "integer"));
  CHECK(safe_type_change("integer[]", "integer[]"));
  CHECK(safe_type_change("smallint", "integer"));
  CHECK(safe_type_change("smallint", "bigint"));
  CHECK(safe_type_change("integer", "bigint"));
  CHECK(safe_type_change("integer", "numeric"));
  CHECK(safe_type_change("integer", "numeric(12,0)"));
  CHECK(safe_type_change("bigint", "numeric(21,2)"));
  CHECK_FALSE(safe_type_change("bigint", "integer"));
  CHECK_FALSE(safe_type_change("integer", "smallint"));
  CHECK_FALSE(safe_type_change("integer", "numeric(5,0)"));  // 2147483647 needs 10 digits
  CHECK_FALSE(safe_type_change("integer", "text"));
  CHECK_FALSE(safe_type_change("integer[]", "bigint[]"));
}

TEST_CASE("type changes: text widenings are safe, narrowings are not") {
  CHECK(safe_type_change("character varying(20)", "text"));
  CHECK(safe_type_change("character varying(20)", "character varying"));
  CHECK(safe_type_change("character varying(20)", "character varying(40)"));
  CHECK(safe_type_change("character varying", "text"));
  CHECK(safe_type_change("text", "character varying"));
  CHECK_FALSE(safe_type_change("character varying(40)", "character varying(20)"));
  CHECK_FALSE(safe_type_change("text", "character varying(20)"));
  CHECK_FALSE(safe_type_change("character(5)", "character varying(5)"));
}

TEST_CASE("type changes: floats and numerics") {
  CHECK(safe_type_change("real", "double precision"));
  CHECK_FALSE(safe_type_change("double precision", "real"));
  CHECK_FALSE(safe_type_change("double precision", "numeric"));
  CHECK(safe_type_change("numeric(10,2)", "numeric"));
  CHECK(safe_type_change("numeric(10,2)", "numeric(12,2)"));
  CHECK(safe_type_change("numeric(10,2)", "numeric(12,4)"));
  CHECK_FALSE(safe_type_change("numeric(10,2)", "numeric(10,4)"));  // fewer integer digits
  CHECK_FALSE(safe_type_change("numeric(10,2)", "numeric(10,1)"));  // rounds
  CHECK_FALSE(safe_type_change("numeric", "numeric(10,2)"));
}

TEST_CASE("type changes: anything else must be equal") {
  CHECK_FALSE(safe_type_change("timestamp without time zone", "timestamp with time zone"));
  CHECK_FALSE(safe_type_change("json", "jsonb"));
  CHECK_FALSE(safe_type_change("uuid", "text"));
}

TEST_CASE("columns: matching tables, in any order, have no problems") {
  const std::vector<ColumnInfo> old_columns = {column("id", "integer", true),
                                               column("name", "text")};
  const std::vector<ColumnInfo> new_columns = {column("name", "text"),
                                               column("id", "bigint", true)};
  CHECK(column_problems(old_columns, new_columns).empty());
}

TEST_CASE("columns: a published column missing on the new store, or generated there") {
  const auto problems = column_problems(
      {column("id", "integer", true), column("total", "numeric"), column("note", "text")},
      {column("id", "integer", true), column("total", "numeric", false, true, true)});
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].find("column total is generated on the new store only") != std::string::npos);
  CHECK(problems[1].find("column note (text) is missing on the new store") != std::string::npos);
}

TEST_CASE("columns: the old store's generated columns are not published") {
  // Generated on both: the new store computes its own.
  CHECK(column_problems({column("id", "integer"), column("g", "integer", false, true, true)},
                        {column("id", "integer"), column("g", "integer", false, true, true)})
            .empty());
  // Generated on the old store only: the new column is not filled, so it must allow that.
  CHECK(column_problems({column("id", "integer"), column("g", "integer", false, true, true)},
                        {column("id", "integer"), column("g", "integer")})
            .empty());
  const auto problems =
      column_problems({column("id", "integer"), column("g", "integer", false, true, true)},
                      {column("id", "integer"), column("g", "integer", true)});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("column g exists on the new store only and is NOT NULL") !=
        std::string::npos);
}

TEST_CASE("columns: a narrower type on the new store is named with both types") {
  const auto problems =
      column_problems({column("id", "bigint", true)}, {column("id", "integer", true)});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("column id is bigint on the old store but integer on the new") !=
        std::string::npos);
}

TEST_CASE("columns: extra new-store columns need to be nullable or have a default") {
  CHECK(column_problems({column("id", "integer")},
                        {column("id", "integer"), column("added", "text"),
                         column("stamp", "timestamp with time zone", true, true),
                         column("serial", "bigint", true, true)})
            .empty());
  const auto problems = column_problems(
      {column("id", "integer")}, {column("id", "integer"), column("required", "text", true)});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("column required exists on the new store only and is NOT NULL without "
                         "a default") != std::string::npos);
}
