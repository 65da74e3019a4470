// Tests of text/sql_quote.hpp: identifiers in double quotes with quotes
// doubled, literals in single quotes (E'' with backslashes doubled when the
// text holds one), NUL bytes dropped from both.

#include <catch2/catch.hpp>
#include <string>

#include "text/sql_quote.hpp"

using pgdual::text::quote_identifier;
using pgdual::text::quote_literal;

// Moved from tests/unit/journal/journal_replay_policy_test.cpp (it tests text:: only).
TEST_CASE("identifier and literal quoting") {
  CHECK(pgdual::text::quote_identifier("pgdual") == R"("pgdual")");
  CHECK(pgdual::text::quote_identifier(R"(we"ird)") == R"("we""ird")");
  CHECK(pgdual::text::quote_literal("pod-1") == "'pod-1'");
  CHECK(pgdual::text::quote_literal("o'brien") == "'o''brien'");
  CHECK(pgdual::text::quote_literal(R"(a\b'c)") == R"(E'a\\b''c')");
  CHECK(pgdual::text::quote_literal(std::string("a\0b", 3)) == "'ab'");
  CHECK(pgdual::text::quote_identifier(std::string("x\0y", 3)) == R"("xy")");
}

TEST_CASE("quote_identifier: empty, only quotes, case and spaces kept") {
  CHECK(quote_identifier("") == R"("")");
  CHECK(quote_identifier(R"(")") == R"("""")");
  CHECK(quote_identifier(R"("")") == R"("""""")");
  // Quoting keeps the case: "Orders" is not orders.
  CHECK(quote_identifier("Orders") == R"("Orders")");
  CHECK(quote_identifier("my table") == R"("my table")");
  // A single quote or a backslash means nothing inside an identifier.
  CHECK(quote_identifier("o'brien") == R"("o'brien")");
  CHECK(quote_identifier(R"(a\b)") == R"("a\b")");
  // A dot is part of the name, not a schema separator.
  CHECK(quote_identifier("public.t") == R"("public.t")");
}

TEST_CASE("quote_identifier: NUL bytes are dropped wherever they are") {
  CHECK(quote_identifier(std::string("\0abc", 4)) == R"("abc")");
  CHECK(quote_identifier(std::string("abc\0", 4)) == R"("abc")");
  CHECK(quote_identifier(std::string("\0\0", 2)) == R"("")");
  CHECK(quote_identifier(std::string("a\0\"b", 4)) == R"("a""b")");
}

TEST_CASE("quote_literal: plain text keeps the standard form") {
  CHECK(quote_literal("") == "''");
  CHECK(quote_literal("'") == "''''");
  CHECK(quote_literal("''") == "''''''");
  CHECK(quote_literal("it's a 'test'") == "'it''s a ''test'''");
  // A double quote is nothing special in a literal.
  CHECK(quote_literal(R"(say "hi")") == R"('say "hi"')");
  // Bytes above 0x7f pass unchanged (UTF-8 text).
  CHECK(quote_literal("gr\xc3\xbc\xc3\x9f") == "'gr\xc3\xbc\xc3\x9f'");
  CHECK(quote_literal("line\nbreak\ttab") == "'line\nbreak\ttab'");
}

TEST_CASE("quote_literal: a backslash switches to E'' with backslashes doubled") {
  CHECK(quote_literal(R"(\)") == R"(E'\\')");
  CHECK(quote_literal(R"(\\)") == R"(E'\\\\')");
  CHECK(quote_literal(R"(C:\temp\new)") == R"(E'C:\\temp\\new')");
  // A backslash before a quote must not escape it: both are doubled.
  CHECK(quote_literal(R"(\')") == R"(E'\\''')");
  CHECK(quote_literal(R"(end\)") == R"(E'end\\')");
}

TEST_CASE("quote_literal: NUL bytes are dropped before deciding the form") {
  CHECK(quote_literal(std::string("\0", 1)) == "''");
  CHECK(quote_literal(std::string("a\0'b", 4)) == "'a''b'");
  CHECK(quote_literal(std::string("a\0\\b", 4)) == R"(E'a\\b')");
  CHECK(quote_literal(std::string("\0x\0", 3)) == "'x'");
}

TEST_CASE("quote_literal: the quoted text reads back to the original") {
  // Undo the quoting the way PostgreSQL reads the literal; what comes back is the input.
  auto unquote = [](const std::string& quoted) {
    const bool escaped = quoted.rfind("E'", 0) == 0;
    std::string body = quoted.substr(escaped ? 2 : 1, quoted.size() - (escaped ? 3 : 2));
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
      if ((body[i] == '\'' || (escaped && body[i] == '\\')) && i + 1 < body.size() &&
          body[i + 1] == body[i]) {
        ++i;
      }
      out += body[i];
    }
    return out;
  };
  for (const std::string text :
       {"", "plain", "o'brien", R"(a\b)", R"(\'\')", "'''", R"(\\\)", "x'\\'y"}) {
    INFO(text);
    CHECK(unquote(quote_literal(text)) == text);
  }
}
