#include <catch2/catch.hpp>

#include "protocol/frontend_messages.hpp"
#include "routing/accepted_prefix.hpp"

using namespace pgdual;
using routing::accepted_prefix;
using routing::AcceptedPrefix;

namespace {

// Parse, Bind, Execute of one unnamed statement.
void append_statement(std::string& out, std::string_view sql) {
  protocol::append_parse(out, "", sql, {});
  protocol::append_bind(out, "", "", {}, {}, {});
  protocol::append_execute(out, "", 0);
}

}  // namespace

TEST_CASE("a unit whose first statement failed gives the secondary nothing") {
  std::string batch;
  append_statement(batch, "INSERT INTO t VALUES (1)");
  protocol::append_sync(batch);
  CHECK(accepted_prefix(batch, 0).kind == AcceptedPrefix::Kind::nothing);
  CHECK(accepted_prefix(protocol::query_message("SAVEPOINT a; SELECT 1/0"), 0).kind ==
        AcceptedPrefix::Kind::nothing);
}

TEST_CASE("an extended batch keeps the statements the primary completed, then a Sync") {
  std::string savepoint;
  append_statement(savepoint, "SAVEPOINT autosave");
  std::string batch = savepoint;
  append_statement(batch, "INSERT INTO t VALUES (1)");
  append_statement(batch, "INSERT INTO t VALUES (2)");
  protocol::append_sync(batch);

  const auto one = accepted_prefix(batch, 1);
  REQUIRE(one.kind == AcceptedPrefix::Kind::prefix);
  std::string expected = savepoint;
  protocol::append_sync(expected);
  CHECK(one.bytes == expected);

  const auto two = accepted_prefix(batch, 2);
  REQUIRE(two.kind == AcceptedPrefix::Kind::prefix);
  CHECK(two.bytes.size() > one.bytes.size());
  CHECK(two.bytes.ends_with(expected.substr(expected.size() - 5)));  // ends with a Sync
}

TEST_CASE("a Query keeps its first statements as the text had them") {
  const auto cut = accepted_prefix(
      protocol::query_message("SAVEPOINT a; INSERT INTO t VALUES (';'); INSERT INTO t VALUES (1)"),
      2);
  REQUIRE(cut.kind == AcceptedPrefix::Kind::prefix);
  CHECK(cut.bytes == protocol::query_message("SAVEPOINT a; INSERT INTO t VALUES (';')"));
}

TEST_CASE("frames with fewer statements than the primary completed cannot be cut") {
  std::string batch;
  append_statement(batch, "SAVEPOINT a");
  protocol::append_sync(batch);
  CHECK(accepted_prefix(batch, 2).kind == AcceptedPrefix::Kind::unknown);
  CHECK(accepted_prefix(protocol::query_message("SAVEPOINT a"), 2).kind ==
        AcceptedPrefix::Kind::unknown);
}
