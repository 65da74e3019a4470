// Tests of the journal record's byte form: round trip, every single-byte
// corruption and every truncation detected, hostile lengths and counts inside
// a body whose checksum is valid, and random bodies.

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "journal/record/bytes.hpp"
#include "journal/record/crc32c.hpp"
#include "journal/record/record.hpp"

using namespace pgdual;
using namespace pgdual::journal;
using namespace std::string_literals;

namespace {

constexpr std::int32_t kInt4 = 23, kText = 25;

journal::JournalRecord sample_record() {
  journal::JournalRecord record;
  record.id = 42;
  record.instance = "pod-7";
  record.session = -3;
  record.created_at =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789LL));
  record.reason = "secondary unreachable";
  record.sqlstate = "08006";
  record.attempts = 2;
  record.last_error = "connection refused";
  record.database = "shop";
  record.marker = "pod-7:s12:tx99";
  record.session_state = {"SET search_path TO app, public", "SET TimeZone TO 'UTC'"};
  record.tables = {"app.orders", "app.order_lines"};
  journal::JournalStatement insert;
  insert.sql = "INSERT INTO app.orders VALUES ($1, $2, $3)";
  insert.param_type_oids = {kInt4, kText, 17};
  insert.param_values = {"\0\0\0\x2a"s, std::nullopt, "\xff\x00\x01"s};
  insert.param_formats = {journal::ParamFormat::binary, journal::ParamFormat::text,
                          journal::ParamFormat::binary};
  journal::JournalStatement copy;
  copy.sql = "COPY app.order_lines FROM STDIN";
  copy.copy_data = "1\tx\n2\t\\N\n";
  record.statements = {insert, copy, journal::JournalStatement{"COMMIT", {}, {}, {}, std::nullopt}};
  return record;
}

// Wraps a hand-made body in a valid envelope, so only the body's checks apply.
std::string envelope(const std::string& body) {
  std::string out(1, static_cast<char>(kJournalFormatVersion));
  journal::bytes::put_u32(out, static_cast<std::uint32_t>(body.size()));
  out += body;
  journal::bytes::put_u32(out, crc32c(out));
  return out;
}

// A body whose fields up to the session state are valid and short.
std::string body_head() {
  std::string body;
  journal::bytes::put_u64(body, 1);  // id
  journal::bytes::put_u32(body, 0);  // instance ""
  journal::bytes::put_u32(body, 0);  // session
  journal::bytes::put_u64(body, 0);  // created_at
  journal::bytes::put_u32(body, 0);  // reason
  journal::bytes::put_u32(body, 0);  // sqlstate
  journal::bytes::put_u32(body, 0);  // attempts
  journal::bytes::put_u32(body, 0);  // last_error
  journal::bytes::put_u32(body, 0);  // database
  journal::bytes::put_u32(body, 0);  // marker
  return body;
}

}  // namespace

TEST_CASE("CRC-32C check value") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("56789", crc32c("1234")) == 0xE3069283u);
  CHECK(crc32c("") == 0u);
}

TEST_CASE("encode/decode round trip") {
  const journal::JournalRecord record = sample_record();
  const std::string bytes = encode(record);
  REQUIRE_FALSE(bytes.empty());
  CHECK(static_cast<std::uint8_t>(bytes[0]) == kJournalFormatVersion);
  auto decoded = decode(bytes);
  REQUIRE(decoded);
  CHECK(*decoded == record);
  CHECK(decoded->created_at == record.created_at);  // nanoseconds survive

  auto empty = decode(encode(journal::JournalRecord{}));
  REQUIRE(empty);
  CHECK(*empty == journal::JournalRecord{});
}

TEST_CASE("every single-byte corruption and every truncation is detected") {
  const std::string bytes = encode(sample_record());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned mask : {0x01u, 0x10u, 0x80u, 0xFFu}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      INFO("byte " << i << " xor " << mask);
      CHECK_FALSE(decode(corrupt));
    }
  }
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    INFO("truncated to " << length);
    CHECK_FALSE(decode(std::string_view(bytes).substr(0, length)));
  }
  CHECK_FALSE(decode(bytes + '\0'));
}

TEST_CASE("hostile lengths and counts in a checksummed body are rejected") {
  std::string body = body_head();
  CHECK_FALSE(decode(envelope(body)));  // lists missing

  journal::bytes::put_u32(body, 0);  // session_state: none
  journal::bytes::put_u32(body, 0);  // tables: none
  std::string no_statements = body;
  journal::bytes::put_u32(no_statements, 0);
  CHECK(decode(envelope(no_statements)));  // the smallest valid body

  std::string huge_count = body;
  journal::bytes::put_u32(huge_count, 0xFFFFFFFFu);  // statements
  CHECK_FALSE(decode(envelope(huge_count)));

  std::string huge_string = body;
  journal::bytes::put_u32(huge_string, 1);            // one statement
  journal::bytes::put_u32(huge_string, 0xFFFFFFF0u);  // its sql length
  CHECK_FALSE(decode(envelope(huge_string)));

  std::string huge_params = body;
  journal::bytes::put_u32(huge_params, 1);
  journal::bytes::put_u32(huge_params, 0);            // sql ""
  journal::bytes::put_u32(huge_params, 0x7FFFFFFFu);  // parameter count
  CHECK_FALSE(decode(envelope(huge_params)));

  std::string bad_flag = body;
  journal::bytes::put_u32(bad_flag, 1);
  journal::bytes::put_u32(bad_flag, 0);
  journal::bytes::put_u32(bad_flag, 1);  // one parameter
  journal::bytes::put_u32(bad_flag, 0);  // oid
  journal::bytes::put_u8(bad_flag, 2);   // format: neither text nor binary
  journal::bytes::put_u8(bad_flag, 1);
  journal::bytes::put_u8(bad_flag, 0);  // no COPY data
  CHECK_FALSE(decode(envelope(bad_flag)));

  std::string huge_list = body_head();
  journal::bytes::put_u32(huge_list, 0x40000000u);  // session_state count
  CHECK_FALSE(decode(envelope(huge_list)));

  std::string other_version = envelope(no_statements);
  other_version[0] = static_cast<char>(kJournalFormatVersion + 1);
  CHECK_FALSE(decode(other_version));
}

TEST_CASE("random bodies with a valid checksum never crash the decoder") {
  std::mt19937 random(12345);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int> byte(0, 255);
  const std::string valid = encode(sample_record());
  for (int round = 0; round < 2000; ++round) {
    std::string body = valid.substr(5, valid.size() - 9);  // a real body, then scrambled
    for (int flips = 1 + round % 8; flips > 0; --flips) {
      body[static_cast<std::size_t>(random() % body.size())] = static_cast<char>(byte(random));
    }
    auto decoded = decode(envelope(body));  // checksum valid: only the body's checks apply
    if (decoded) CHECK(decoded->statements.size() <= 3);
  }
}

TEST_CASE("format version 2 carries database and marker, version 1 is refused") {
  journal::JournalRecord record = sample_record();
  auto decoded = decode(encode(record));
  REQUIRE(decoded);
  CHECK(decoded->database == "shop");
  CHECK(decoded->marker == "pod-7:s12:tx99");
  CHECK(kJournalFormatVersion == 2);

  // A version-1 body (no database, no marker) in a valid envelope of either
  // version does not decode: the body is two fields short for v2, and v1 is
  // not a known version any more.
  std::string v1_body;
  journal::bytes::put_u64(v1_body, 1);                              // id
  journal::bytes::put_u32(v1_body, 0);                              // instance
  journal::bytes::put_u32(v1_body, 0);                              // session
  journal::bytes::put_u64(v1_body, 0);                              // created_at
  for (int i = 0; i < 4; ++i) journal::bytes::put_u32(v1_body, 0);  // reason .. last_error
  journal::bytes::put_u32(v1_body, 0);                              // session_state
  journal::bytes::put_u32(v1_body, 0);                              // tables
  journal::bytes::put_u32(v1_body, 0);                              // statements
  std::string v1 = envelope(v1_body);
  CHECK_FALSE(decode(v1));
  v1[0] = 1;
  CHECK_FALSE(decode(v1));

  // Non-ASCII and embedded NUL bytes survive.
  record.database = std::string("d\0b\xc3\xa9", 5);
  record.marker = std::string(300, 'm');
  decoded = decode(encode(record));
  REQUIRE(decoded);
  CHECK(*decoded == record);
}
