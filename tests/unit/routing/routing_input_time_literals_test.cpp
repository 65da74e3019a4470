#include <catch2/catch.hpp>

#include "routing/rewrite/input_time_literals.hpp"

using pgdual::routing::is_input_time_literal;
using pgdual::routing::may_hold_input_time_literal;

TEST_CASE("the clock words, alone or with time parts, read the clock") {
  for (const char* value : {"now", "NOW", " today ", "Tomorrow", "yesterday", "\tnow\n",
                            "today 10:00", "tomorrow 9am", "10:00 today", "today +02"}) {
    INFO(value);
    CHECK(is_input_time_literal(value));
  }
  for (const char* value : {"", " ", "nowhere", "know", "epoch", "infinity", "see you tomorrow",
                            "today is fine", "2026-01-01", "now()"}) {
    INFO(value);
    CHECK_FALSE(is_input_time_literal(value));
  }
}

TEST_CASE("the lexical test finds every string constant that may read the clock") {
  for (const char* sql : {
           "INSERT INTO t VALUES ('now')", "INSERT INTO t VALUES (' Today ')",
           "INSERT INTO t VALUES (date 'tomorrow')", "INSERT INTO t VALUES ($$now$$)",
           "INSERT INTO t VALUES ($x$yesterday$x$)",
           "INSERT INTO t VALUES (E'no\\x77')",        // an escape may spell it
           "INSERT INTO t VALUES (U&'n\\006Fw')",      // so may a Unicode escape
           "INSERT INTO t VALUES ('no'\n'w')",         // two constants the parser joins
           "INSERT INTO t VALUES ('it''s', 'now')",    // after a doubled quote
           "/* it's */ INSERT INTO t VALUES ('now')",  // after a comment with a quote
           "INSERT INTO t VALUES ('now') -- it's",     // before one
       }) {
    INFO(sql);
    CHECK(may_hold_input_time_literal(sql));
  }
  for (const char* sql : {
           "INSERT INTO t VALUES (now())",
           "INSERT INTO \"now\" VALUES ('x')",     // a name, not a value
           "INSERT INTO t VALUES ('x') -- 'now'",  // in a comment
           "INSERT INTO t VALUES ('x') /* 'now' /* nested */ 'today' */",
           "INSERT INTO t VALUES ('see you tomorrow')",
           "INSERT INTO t VALUES ($1)",
           "DO $$BEGIN INSERT INTO t VALUES ('now'); END$$",  // a body, run later
           "INSERT INTO t VALUES ('unterminated",
       }) {
    INFO(sql);
    CHECK_FALSE(may_hold_input_time_literal(sql));
  }
}
