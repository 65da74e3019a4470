// Tests of text/ascii.hpp: ASCII case folding as PostgreSQL folds unquoted
// identifiers, whatever the locale: only A-Z change.

#include <catch2/catch.hpp>
#include <string>

#include "text/ascii.hpp"

using pgdual::text::ascii_lower;

TEST_CASE("ascii_lower(char): A-Z fold, every other byte is left alone") {
  CHECK(ascii_lower('A') == 'a');
  CHECK(ascii_lower('Z') == 'z');
  CHECK(ascii_lower('M') == 'm');
  CHECK(ascii_lower('a') == 'a');
  CHECK(ascii_lower('z') == 'z');
  // The neighbours of the range: '@' is just before 'A', '[' just after 'Z'.
  CHECK(ascii_lower('@') == '@');
  CHECK(ascii_lower('[') == '[');
  CHECK(ascii_lower('`') == '`');
  CHECK(ascii_lower('{') == '{');
  CHECK(ascii_lower('0') == '0');
  CHECK(ascii_lower('_') == '_');
  CHECK(ascii_lower('\0') == '\0');
}

TEST_CASE("ascii_lower(char) changes exactly the 26 upper-case letters") {
  int changed = 0;
  for (int value = 0; value < 256; ++value) {
    const char c = static_cast<char>(value);
    const char lowered = ascii_lower(c);
    if (lowered != c) {
      ++changed;
      CHECK(c >= 'A');
      CHECK(c <= 'Z');
      CHECK(lowered == static_cast<char>(c + ('a' - 'A')));
    }
  }
  CHECK(changed == 26);
}

TEST_CASE("ascii_lower(string): folds ASCII, keeps bytes outside it") {
  CHECK(ascii_lower(std::string_view("")) == "");
  CHECK(ascii_lower(std::string_view("SELECT")) == "select");
  CHECK(ascii_lower(std::string_view("Search_Path")) == "search_path");
  CHECK(ascii_lower(std::string_view("pg_catalog.NOW")) == "pg_catalog.now");
  CHECK(ascii_lower(std::string_view("already lower 123")) == "already lower 123");
  // UTF-8 capitals are not ASCII: PostgreSQL leaves them alone in identifiers (and so do we).
  CHECK(ascii_lower(std::string_view("\xc3\x84RGER")) == "\xc3\x84rger");
  // An embedded NUL is kept, and so is the length.
  const std::string with_nul("A\0B", 3);
  const std::string lowered = ascii_lower(std::string_view(with_nul));
  CHECK(lowered.size() == 3);
  CHECK(lowered == std::string("a\0b", 3));
}

TEST_CASE("ascii_lower(string) returns a copy, the input is unchanged") {
  const std::string original = "MiXeD";
  const std::string lowered = ascii_lower(std::string_view(original));
  CHECK(lowered == "mixed");
  CHECK(original == "MiXeD");
}
