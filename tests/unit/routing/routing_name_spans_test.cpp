// Where a dotted name sits in SQL text (routing/mapping/name_spans.hpp): the mapping edits only
// those bytes of the client's statement.

#include <catch2/catch.hpp>

#include "routing/mapping/name_spans.hpp"

using pgdual::routing::identifier_value;
using pgdual::routing::name_parts_at;

namespace {

std::vector<std::string> parts(std::string_view sql, std::size_t location, std::size_t count) {
  std::vector<std::string> out;
  for (const auto& [start, end] : name_parts_at(sql, location, count)) {
    out.emplace_back(sql.substr(start, end - start));
  }
  return out;
}

}  // namespace

TEST_CASE("name spans: plain, quoted and spaced parts", "[mapping]") {
  CHECK(parts("SELECT * FROM accounts WHERE", 14, 1) == std::vector<std::string>{"accounts"});
  CHECK(parts("FROM public.accounts a", 5, 2) == std::vector<std::string>{"public", "accounts"});
  CHECK(parts("FROM public . accounts", 5, 2) == std::vector<std::string>{"public", "accounts"});
  CHECK(parts("FROM \"My.Schema\".\"Odd\"\"Name\" x", 5, 2) ==
        std::vector<std::string>{"\"My.Schema\"", "\"Odd\"\"Name\""});
  CHECK(parts("FROM db.s.t", 5, 3) == std::vector<std::string>{"db", "s", "t"});
  CHECK(parts("FROM Accounts$1_x;", 5, 1) == std::vector<std::string>{"Accounts$1_x"});
}

TEST_CASE("name spans: anything else is not found", "[mapping]") {
  CHECK(name_parts_at("FROM public./* c */accounts", 5, 2).empty());  // a comment between parts
  CHECK(name_parts_at("FROM U&\"d\\0061t\"", 5, 1).empty());          // U&"..."
  CHECK(name_parts_at("FROM \"unterminated", 5, 1).empty());
  CHECK(name_parts_at("FROM \"\"", 5, 1).empty());  // an empty quoted name
  CHECK(name_parts_at("FROM 1abc", 5, 1).empty());
  CHECK(name_parts_at("FROM public.", 5, 2).empty());
  CHECK(name_parts_at("FROM a", 99, 1).empty());  // past the end
}

TEST_CASE("name spans: the name a part stands for", "[mapping]") {
  CHECK(identifier_value("Accounts") == "accounts");
  CHECK(identifier_value("\"Accounts\"") == "Accounts");
  CHECK(identifier_value("\"Odd\"\"Name\"") == "Odd\"Name");
}
