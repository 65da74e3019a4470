// Tests of the replayer's pure decisions: backoff bounds and growth, SQLSTATE
// classification with the configurable extra list, the dead-letter decision,
// and the idempotency SQL with its quoting (quote_identifier/quote_literal
// themselves: tests/unit/text/text_sql_quote_test.cpp).

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "journal/relay/replay_policy.hpp"

using namespace pgdual;

using namespace pgdual::journal::replay;
using std::chrono::milliseconds;

TEST_CASE("backoff ceiling doubles from base up to cap, without overflow") {
  const milliseconds base(100), cap(30'000);
  CHECK(backoff_ceiling(0, base, cap) == milliseconds(100));
  CHECK(backoff_ceiling(1, base, cap) == milliseconds(200));
  CHECK(backoff_ceiling(4, base, cap) == milliseconds(1600));
  CHECK(backoff_ceiling(8, base, cap) == milliseconds(25'600));
  CHECK(backoff_ceiling(9, base, cap) == cap);
  CHECK(backoff_ceiling(4'000'000'000u, base, cap) == cap);
  const milliseconds huge(std::numeric_limits<milliseconds::rep>::max());
  CHECK(backoff_ceiling(200, huge / 3, huge) == huge);
  CHECK(backoff_ceiling(3, milliseconds(500), milliseconds(200)) == milliseconds(200));
  CHECK(backoff_ceiling(3, milliseconds(0), cap) == milliseconds(0));
}

TEST_CASE("full jitter stays below the ceiling and grows with the attempt") {
  const milliseconds base(100), cap(10'000);
  for (std::uint32_t attempt = 0; attempt < 20; ++attempt) {
    const auto ceiling = backoff_ceiling(attempt, base, cap);
    for (double random = 0.0; random < 1.0; random += 0.01) {
      const auto delay = next_delay(attempt, base, cap, random);
      CHECK(delay >= milliseconds(0));
      CHECK(delay < ceiling);
    }
    CHECK(next_delay(attempt, base, cap, 0.999) >= ceiling * 99 / 100);
  }
  CHECK(next_delay(3, base, cap, 0.5) == milliseconds(400));
  CHECK(next_delay(5, base, cap, 0.5) > next_delay(2, base, cap, 0.5));
  // Out-of-range randomness never escapes the bounds.
  CHECK(next_delay(3, base, cap, -1.0) == milliseconds(0));
  CHECK(next_delay(3, base, cap, 1.0) == milliseconds(0));
  CHECK(next_delay(3, base, cap, std::nan("")) == milliseconds(0));
}

TEST_CASE("SQLSTATE classification") {
  for (const char* code :
       {"", "08000", "08006", "08001", "57P01", "57P02", "57P03", "57P05", "40001", "40P01",
        "53100", "53200", "53300", "55P03", "57014", "58030", "25006"}) {
    INFO(code);
    CHECK(classify_sqlstate(code) == journal::replay::ErrorKind::retryable);
  }
  for (const char* code : {"23505", "23503", "23502", "42P01", "42601", "42501", "22P02", "22003",
                           "25001", "40002", "XX000", "P0001", "0A000", "55000"}) {
    INFO(code);
    CHECK(classify_sqlstate(code) == journal::replay::ErrorKind::permanent);
  }
}

TEST_CASE("the extra permanent list matches codes and classes and wins") {
  const std::vector<std::string> extra = {"40001", "55", "08006", ""};
  CHECK(classify_sqlstate("40001", extra) == journal::replay::ErrorKind::permanent);
  CHECK(classify_sqlstate("40P01", extra) == journal::replay::ErrorKind::retryable);
  CHECK(classify_sqlstate("55P03", extra) == journal::replay::ErrorKind::permanent);
  CHECK(classify_sqlstate("08006", extra) == journal::replay::ErrorKind::permanent);
  CHECK(classify_sqlstate("08001", extra) == journal::replay::ErrorKind::retryable);
  CHECK(classify_sqlstate("", extra) ==
        journal::replay::ErrorKind::retryable);  // "" matches nothing
}

TEST_CASE("dead-letter decision: permanent after max_attempts, retryable never") {
  journal::replay::Policy policy;
  policy.max_attempts = 3;
  CHECK(decide("23505", 1, policy) == journal::replay::Decision::retry);
  CHECK(decide("23505", 2, policy) == journal::replay::Decision::retry);
  CHECK(decide("23505", 3, policy) == journal::replay::Decision::dead_letter);
  CHECK(decide("42P01", 10, policy) == journal::replay::Decision::dead_letter);
  CHECK(decide("08006", 1'000'000, policy) == journal::replay::Decision::retry);
  CHECK(decide("", 1'000'000, policy) == journal::replay::Decision::retry);
  policy.extra_permanent = {"08006"};
  CHECK(decide("08006", 2, policy) == journal::replay::Decision::retry);
  CHECK(decide("08006", 3, policy) == journal::replay::Decision::dead_letter);
  policy.max_attempts = 0;  // treated as 1
  CHECK(decide("23505", 1, policy) == journal::replay::Decision::dead_letter);
}

TEST_CASE("idempotency SQL") {
  const auto ddl = applied_table_ddl();
  REQUIRE(ddl.size() == 2);
  CHECK(ddl[0] == R"(CREATE SCHEMA IF NOT EXISTS "pgdual")");
  CHECK(ddl[1] ==
        R"(CREATE TABLE IF NOT EXISTS "pgdual"."applied_transactions" (key text PRIMARY KEY,)"
        R"( applied_at timestamptz NOT NULL DEFAULT now()))");
  CHECK(applied_table_ddl(R"(my"schema)")[0] == R"(CREATE SCHEMA IF NOT EXISTS "my""schema")");

  CHECK(applied_marker_sql("pgdual", "pod'7:42") ==
        R"(INSERT INTO "pgdual"."applied_transactions" (key, applied_at))"
        R"( VALUES ('pod''7:42', now()) ON CONFLICT (key) DO NOTHING RETURNING key)");
  CHECK(applied_check_sql("pgdual", "pod'7:42") ==
        R"(SELECT 1 FROM "pgdual"."applied_transactions" WHERE key = 'pod''7:42')");
  const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  CHECK(applied_prune_sql("ops", when) ==
        R"(DELETE FROM "ops"."applied_transactions" WHERE applied_at <)"
        R"( '2023-11-14T22:13:20.000000Z'::timestamptz)");
  CHECK(applied_marker_sql("s", R"(a\b)") ==
        R"(INSERT INTO "s"."applied_transactions" (key, applied_at) VALUES (E'a\\b', now()))"
        R"( ON CONFLICT (key) DO NOTHING RETURNING key)");
}

TEST_CASE("marker key: the record's marker, else instance:id") {
  CHECK(marker_key("", "pod-1", 42) == "pod-1:42");
  CHECK(marker_key("direct:pod-1:7:99", "pod-1", 42) == "direct:pod-1:7:99");
  CHECK(marker_key("", "", 0) == ":0");
}
