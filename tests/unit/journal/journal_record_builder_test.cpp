// Tests of journal::JournalRecordBuilder: frontend frames written by the protocol
// builders and split by decode_frame, as a session would feed them, turned
// into replayable statements; and malformed or unrepresentable frames.

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "journal/record/record.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"

using namespace pgdual;
using namespace pgdual::journal;
namespace proto = pgdual::protocol;
using namespace std::string_literals;
using Values = std::vector<std::optional<std::string>>;

namespace {

constexpr std::int32_t kInt4 = 23, kText = 25;

// Splits `wire` into frames and adds each; false at the first refusal.
bool feed(journal::JournalRecordBuilder& builder, const std::string& wire) {
  std::span<const std::uint8_t> rest = proto::as_bytes(wire);
  while (!rest.empty()) {
    auto decoded = proto::decode_frame(rest, false, 1u << 30, true);
    REQUIRE(decoded.status == proto::DecodeStatus::ready);
    if (!builder.add(decoded.frame)) return false;
    rest = rest.subspan(decoded.frame.size);
  }
  return true;
}

// A frame over `payload`, which must outlive it.
proto::Frame raw_frame(char type, const std::string& payload) {
  return proto::Frame{type, proto::as_bytes(payload), payload.size() + 5};
}

std::string query(std::string_view sql) {
  std::string out;
  proto::append_query(out, sql);
  return out;
}

// Parse (unless name is null), Bind, Describe, Execute, Sync: a driver's usual batch.
std::string extended(const char* statement, std::string_view sql, std::vector<std::int32_t> oids,
                     std::vector<std::int16_t> formats, const Values& values,
                     std::string_view portal = "") {
  std::string out;
  if (statement != nullptr) proto::append_parse(out, statement, sql, oids);
  proto::append_bind(out, portal, statement ? statement : "", formats, values, {});
  proto::append_describe(out, 'P', portal);
  proto::append_execute(out, portal, 0);
  proto::append_sync(out);
  return out;
}

}  // namespace

TEST_CASE("simple Query: one statement, multi-statement text kept whole") {
  journal::JournalRecordBuilder builder;
  REQUIRE(feed(builder, query("INSERT INTO t VALUES (1)")));
  REQUIRE(feed(builder, query("UPDATE t SET a = 2; DELETE FROM u WHERE b = 3;")));
  REQUIRE(feed(builder, query("")));  // an empty query adds nothing
  auto record = builder.take();
  REQUIRE(record.statements.size() == 2);
  CHECK(record.statements[0].sql == "INSERT INTO t VALUES (1)");
  CHECK(record.statements[0].param_values.empty());
  CHECK(record.statements[1].sql == "UPDATE t SET a = 2; DELETE FROM u WHERE b = 3;");
  CHECK_FALSE(record.statements[1].copy_data);
}

TEST_CASE("extended batch: parameters with types, text, binary and NULL") {
  journal::JournalRecordBuilder builder;
  const std::string sql = "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)";
  REQUIRE(feed(builder, extended("", sql, {kInt4, kText}, {1, 0, 1},
                                 {"\0\0\0\x07"s, std::nullopt, "\x01\x02"s})));
  auto record = builder.take();
  REQUIRE(record.statements.size() == 1);
  const auto& statement = record.statements[0];
  CHECK(statement.sql == sql);
  CHECK(statement.param_type_oids ==
        std::vector<journal::TypeOid>{kInt4, kText, 0});  // padded with 0
  CHECK(statement.param_formats == std::vector<journal::ParamFormat>{journal::ParamFormat::binary,
                                                                     journal::ParamFormat::text,
                                                                     journal::ParamFormat::binary});
  CHECK(statement.param_values == Values{"\0\0\0\x07"s, std::nullopt, "\x01\x02"s});

  SECTION("one format code applies to every value, none means text") {
    REQUIRE(feed(builder, extended("", "SELECT $1, $2", {}, {1}, {"a"s, "b"s})));
    REQUIRE(feed(builder, extended("", "SELECT $1", {}, {}, {"c"s})));
    auto next = builder.take();
    REQUIRE(next.statements.size() == 2);
    CHECK(next.statements[0].param_formats ==
          std::vector<journal::ParamFormat>{journal::ParamFormat::binary,
                                            journal::ParamFormat::binary});
    CHECK(next.statements[1].param_formats ==
          std::vector<journal::ParamFormat>{journal::ParamFormat::text});
  }
}

TEST_CASE("named statements: remembered from earlier units and across take()") {
  journal::JournalRecordBuilder builder;
  builder.remember_statement("ins", "INSERT INTO t VALUES ($1)", {kInt4});
  CHECK_FALSE(feed(builder, extended(nullptr, "", {}, {}, {"5"s})));  // no unnamed statement
  CHECK(builder.failed());
  builder.take();

  std::string wire;
  proto::append_bind(wire, "", "ins", {}, {"6"s}, {});
  proto::append_execute(wire, "", 0);
  proto::append_parse(wire, "upd", "UPDATE t SET a = $1", {kInt4});
  proto::append_sync(wire);
  REQUIRE(feed(builder, wire));
  auto first = builder.take();
  REQUIRE(first.statements.size() == 1);
  CHECK(first.statements[0].sql == "INSERT INTO t VALUES ($1)");
  CHECK(first.statements[0].param_values == Values{"6"s});

  // The next record uses "upd", prepared during the previous one.
  wire.clear();
  proto::append_bind(wire, "", "upd", {}, {"7"s}, {});
  proto::append_execute(wire, "", 0);
  REQUIRE(feed(builder, wire));
  auto second = builder.take();
  REQUIRE(second.statements.size() == 1);
  CHECK(second.statements[0].sql == "UPDATE t SET a = $1");
  CHECK(second.statements[0].param_type_oids == std::vector<journal::TypeOid>{kInt4});

  SECTION("Close 'S' forgets the statement") {
    wire.clear();
    proto::append_close(wire, 'S', "upd");
    proto::append_bind(wire, "", "upd", {}, {"8"s}, {});
    CHECK_FALSE(feed(builder, wire));
    CHECK(builder.error().find("unknown prepared statement \"upd\"") != std::string::npos);
  }
}

TEST_CASE("unnamed statement: a new Parse replaces it, a bound portal keeps its text") {
  journal::JournalRecordBuilder builder;
  std::string wire;
  proto::append_parse(wire, "", "INSERT INTO a VALUES ($1)", {});
  proto::append_bind(wire, "keep", "", {}, {"1"s}, {});
  proto::append_parse(wire, "", "INSERT INTO b VALUES ($1)", {});
  proto::append_bind(wire, "", "", {}, {"2"s}, {});
  proto::append_execute(wire, "", 0);
  proto::append_execute(wire, "keep", 0);
  proto::append_sync(wire);
  REQUIRE(feed(builder, wire));
  auto record = builder.take();
  REQUIRE(record.statements.size() == 2);
  CHECK(record.statements[0].sql == "INSERT INTO b VALUES ($1)");
  CHECK(record.statements[1].sql == "INSERT INTO a VALUES ($1)");
  CHECK(record.statements[1].param_values == Values{"1"s});

  SECTION("a simple Query drops the unnamed statement, as the server does") {
    wire.clear();
    proto::append_parse(wire, "", "INSERT INTO a VALUES (1)", {});
    proto::append_query(wire, "SELECT 1");
    proto::append_bind(wire, "", "", {}, {}, {});
    CHECK_FALSE(feed(builder, wire));
  }
}

TEST_CASE("a portal executed again only fetches rows: one statement") {
  journal::JournalRecordBuilder builder;
  std::string wire;
  proto::append_parse(wire, "", "INSERT INTO t SELECT g FROM generate_series(1, 9) g RETURNING g",
                      {});
  proto::append_bind(wire, "p", "", {}, {}, {});
  proto::append_execute(wire, "p", 2);
  proto::append_execute(wire, "p", 2);
  proto::append_execute(wire, "p", 0);
  proto::append_close(wire, 'P', "p");
  proto::append_sync(wire);
  REQUIRE(feed(builder, wire));
  CHECK(builder.take().statements.size() == 1);
}

TEST_CASE("COPY FROM STDIN data becomes the statement's copy payload") {
  journal::JournalRecordBuilder builder;
  std::string wire = query("COPY t FROM STDIN");
  proto::append_copy_data(wire, "1\ta\n");
  proto::append_copy_data(wire, "2\tb\n");
  proto::append_copy_done(wire);
  proto::append_query(wire, "COPY u FROM STDIN");
  proto::append_copy_done(wire);
  proto::append_query(wire, "INSERT INTO v VALUES (1)");
  REQUIRE(feed(builder, wire));
  auto record = builder.take();
  REQUIRE(record.statements.size() == 3);
  CHECK(record.statements[0].copy_data == "1\ta\n2\tb\n");
  CHECK(record.statements[1].copy_data == "");  // present: the replay must end the COPY
  CHECK_FALSE(record.statements[2].copy_data);

  SECTION("through the extended protocol") {
    wire = extended("", "COPY t FROM STDIN (FORMAT binary)", {}, {}, {});
    proto::append_copy_data(wire, "PGCOPY\n\xff\r\n\0"s);
    proto::append_copy_done(wire);
    REQUIRE(feed(builder, wire));
    CHECK(builder.take().statements.at(0).copy_data == "PGCOPY\n\xff\r\n\0"s);
  }
  SECTION("refused: CopyFail, a second COPY in one statement, data with no statement") {
    wire = query("COPY t FROM STDIN");
    proto::append_copy_fail(wire, "client gave up");
    CHECK_FALSE(feed(builder, wire));
    builder.take();
    wire = query("COPY t FROM STDIN; COPY u FROM STDIN");
    proto::append_copy_data(wire, "1\n");
    proto::append_copy_done(wire);
    proto::append_copy_data(wire, "2\n");
    CHECK_FALSE(feed(builder, wire));
    builder.take();
    wire.clear();
    proto::append_copy_data(wire, "1\n");
    CHECK_FALSE(feed(builder, wire));
  }
}

TEST_CASE("malformed or unrepresentable frames fail the builder without crashing") {
  const std::vector<std::pair<char, std::string>> bad = {
      {'Q', "no terminator"},
      {'P', "\0SELECT 1\0\0"s},          // parameter count cut short
      {'B', "\0\0\0\x01\0\x02"s},        // format count 1, then garbage
      {'E', "\0\0\0"s},                  // max_rows cut short
      {'C', "X\0"s},                     // unknown Close target
      {'D', "S"},                        // no name
      {'S', "x"},                        // Sync has no body
      {'c', "x"},                        // nor CopyDone
      {'F', "\0\0\0\x01\0\0\0\0\0\0"s},  // FunctionCall
      {'Z', ""},                         // not a frontend message
      {'E', "nope\0\0\0\0\0"s},          // unknown portal
  };
  for (const auto& [type, payload] : bad) {
    const proto::Frame frame = raw_frame(type, payload);
    journal::JournalRecordBuilder builder;
    INFO("frame type " << frame.type);
    CHECK_FALSE(builder.add(frame));
    CHECK(builder.failed());
    CHECK_FALSE(builder.error().empty());
    // Stays failed until take(), then works again.
    CHECK_FALSE(feed(builder, query("SELECT 1")));
    builder.take();
    CHECK(feed(builder, query("SELECT 1")));
  }

  SECTION("every truncation of every frame of a realistic batch") {
    const std::string wire = extended("s", "INSERT INTO t VALUES ($1, $2)", {kInt4, kText}, {0, 1},
                                      {"12"s, std::nullopt}, "p");
    std::span<const std::uint8_t> rest = proto::as_bytes(wire);
    while (!rest.empty()) {
      auto decoded = proto::decode_frame(rest, false, 1u << 20, true);
      REQUIRE(decoded.status == proto::DecodeStatus::ready);
      for (std::size_t cut = 0; cut < decoded.frame.payload.size(); ++cut) {
        journal::JournalRecordBuilder builder;
        builder.remember_statement("s", "SELECT $1", {});
        proto::Frame cut_frame = decoded.frame;
        cut_frame.payload = cut_frame.payload.first(cut);
        INFO("frame '" << cut_frame.type << "' cut to " << cut << " bytes");
        CHECK_FALSE(builder.add(cut_frame));
        CHECK(builder.failed());
      }
      rest = rest.subspan(decoded.frame.size);
    }
  }
  SECTION("Bind with mismatched format count or bad format code") {
    journal::JournalRecordBuilder builder;
    CHECK_FALSE(feed(builder, extended("", "SELECT $1, $2", {}, {0, 1, 0}, {"a"s, "b"s})));
    builder.take();
    CHECK_FALSE(feed(builder, extended("", "SELECT $1", {}, {2}, {"a"s})));
    builder.take();
    CHECK_FALSE(feed(builder, extended("", "SELECT $1, $2", {kInt4, kInt4}, {}, {"1"s})));
    CHECK(builder.error().find("parameter types") != std::string::npos);
  }
}

TEST_CASE("the builder's size limit") {
  journal::JournalRecordBuilder builder(64);
  std::string wire = query("COPY t FROM STDIN");
  proto::append_copy_data(wire, std::string(100, 'x'));
  CHECK_FALSE(feed(builder, wire));
  CHECK(builder.error().find("limit of 64 bytes") != std::string::npos);
}

TEST_CASE("random frames never crash the builder") {
  std::mt19937 random(12345);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int> byte(0, 255), length(0, 64);
  const auto noise = [&](int size) {
    std::string out;
    for (int i = 0; i < size; ++i) out.push_back(static_cast<char>(byte(random)));
    return out;
  };
  for (char type : {'Q', 'P', 'B', 'E', 'C', 'D', 'S', 'H', 'd', 'c', 'f'}) {
    for (int round = 0; round < 300; ++round) {
      journal::JournalRecordBuilder builder;
      builder.remember_statement("", "SELECT $1", {});
      const std::string payload = noise(length(random));
      if (!builder.add(raw_frame(type, payload))) CHECK(builder.failed());
    }
  }
}
