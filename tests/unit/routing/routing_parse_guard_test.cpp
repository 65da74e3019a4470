#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "routing/classify/parse_guard.hpp"

using pgdual::routing::detail::estimate_nesting;
using pgdual::routing::detail::run_with_stack;

namespace {

std::string repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

}  // namespace

TEST_CASE("nesting estimate grows with chains that nest", "[parse_guard]") {
  CHECK(estimate_nesting("SELECT 1" + repeat("+1", 1000)) >= 1000);
  CHECK(estimate_nesting("SELECT " + repeat("NOT ", 1000) + "true") >= 1000);
  CHECK(estimate_nesting("SELECT " + repeat("f(", 1000) + "1" + repeat(")", 1000)) >= 1000);
  CHECK(estimate_nesting("SELECT " + repeat("CASE WHEN a AND ", 500) + "true" +
                         repeat(" THEN 1 END", 500)) >= 1000);
  // AND and commas do not close joins or set operations, which nest left-deep.
  CHECK(estimate_nesting("SELECT * FROM t" + repeat(" JOIN t ON a = 1 AND b = 2", 1000)) >= 1000);
  CHECK(estimate_nesting("SELECT 1, 2" + repeat(" UNION SELECT 1, 2 WHERE a AND b", 1000)) >= 1000);
  CHECK(estimate_nesting("SELECT 1 WHERE " + repeat("true AND (SELECT 1 WHERE ", 500) + "true" +
                         repeat(")", 500)) >= 1000);
}

TEST_CASE("nesting estimate stays small for long flat statements", "[parse_guard]") {
  CHECK(estimate_nesting("INSERT INTO t VALUES (1, 'a', now() - interval '1 day')" +
                         repeat(", (1, 'a', now() - interval '1 day')", 2000)) < 32);
  CHECK(estimate_nesting("SELECT * FROM t WHERE id = 0" + repeat(" OR id = 1", 2000)) < 32);
  CHECK(estimate_nesting("SELECT * FROM t WHERE id IN (" + repeat("1, ", 2000) + "1)") < 32);
  CHECK(estimate_nesting("SELECT 1" + repeat("+1", 100) + repeat("; SELECT 1", 100)) < 128);
  CHECK(estimate_nesting("SELECT '" + repeat("((((", 1000) + "'") < 32);
  CHECK(estimate_nesting("SELECT 1 -- " + repeat("+1", 1000)) < 32);
}

TEST_CASE("text the scanner rejects has no nesting to fear", "[parse_guard]") {
  CHECK(estimate_nesting("SELECT 'unterminated") == 0);
}

TEST_CASE("work runs on a thread with the requested stack", "[parse_guard]") {
  int ran = 0;
  CHECK(run_with_stack(64 * 1024 * 1024, [&] {
    char big[32 * 1024 * 1024];
    big[0] = 1;
    big[sizeof big - 1] = 2;
    ran = big[0] + big[sizeof big - 1];
  }));
  CHECK(ran == 3);
  CHECK_THROWS_AS(run_with_stack(1024 * 1024, [] { throw std::runtime_error("boom"); }),
                  std::runtime_error);
}
