#include <catch2/catch.hpp>

#include "routing/classify/literal_key.hpp"

using pgdual::routing::literal_key;

TEST_CASE("literal_key replaces numbers and strings with placeholders") {
  CHECK(literal_key("UPDATE pgbench_accounts SET abalance = abalance + -1234 WHERE aid = 42;") ==
        "UPDATE pgbench_accounts SET abalance = abalance + -? WHERE aid = ?;");
  CHECK(literal_key("SELECT 'it''s', E'a\\'b', 1.5e-3") == "SELECT ?, E?, ?");
  CHECK(literal_key("SELECT $tag$ body ' with quote $tag$, $$x$$") == "SELECT ?, ?");
}

TEST_CASE("literal_key keeps names, parameters and comments") {
  CHECK(literal_key("SELECT \"col'1\", t2.c3 FROM s1.t2 WHERE x = $1 -- 5 'x'") ==
        "SELECT \"col'1\", t2.c3 FROM s1.t2 WHERE x = $1 -- 5 'x'");
  CHECK(literal_key("SELECT a$1 FROM t") == "SELECT a$1 FROM t");
}

TEST_CASE("statements differing only in values share a key, others do not") {
  CHECK(literal_key("INSERT INTO t VALUES (1, 'a')") ==
        literal_key("INSERT INTO t VALUES (22, 'bcd')"));
  CHECK(literal_key("INSERT INTO t VALUES (1)") != literal_key("INSERT INTO u VALUES (1)"));
  CHECK(literal_key("SET search_path = a") != literal_key("SET search_path = b"));
}

TEST_CASE("unterminated literals do not read past the end") {
  CHECK(literal_key("SELECT 'abc") == "SELECT ?");
  CHECK(literal_key("SELECT $q$abc") == "SELECT ?");
  CHECK(literal_key("SELECT \"abc") == "SELECT \"abc");
  CHECK(literal_key("").empty());
}
