// Tests of parse_startup: StartupMessage v3 (and 3.x), SSLRequest, GSSENCRequest, CancelRequest,
// and the PostgreSQL-like refusals.

#include <catch2/catch.hpp>
#include <string>

#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"
#include "protocol/startup.hpp"

using namespace pgdual::protocol;

namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// The payload of a startup-phase packet built by a builder: strip the length word via the
// decoder, which also proves builder and decoder agree.
std::string payload_of(const std::string& wire) {
  auto result = decode_frame(as_bytes(wire), true, 1 << 20);
  REQUIRE(result.status == DecodeStatus::ready);
  REQUIRE(result.frame.size == wire.size());
  return std::string(as_string_view(result.frame.payload));
}

struct Parsed {
  std::optional<StartupPacket> packet;
  StartupError error;
};

Parsed parse(const std::string& payload) {
  Parsed out;
  out.packet = parse_startup(as_bytes(payload), out.error);
  if (out.packet) CHECK(out.error.message.empty());
  if (!out.packet) CHECK_FALSE(out.error.message.empty());
  return out;
}

}  // namespace

TEST_CASE("StartupMessage v3 with parameters", "[startup]") {
  std::string wire;
  append_startup(wire, {{"user", "alice"},
                        {"database", "app"},
                        {"options", "-c search_path=s1 -c statement_timeout=5s"},
                        {"application_name", "psql"},
                        {"client_encoding", "UTF8"}});
  auto parsed = parse(payload_of(wire));
  REQUIRE(parsed.packet);
  const auto& packet = *parsed.packet;
  CHECK(packet.kind == StartupKind::startup);
  CHECK(packet.protocol_version == kProtocolVersion3);
  CHECK(packet.protocol_major() == 3);
  CHECK(packet.protocol_minor() == 0);
  CHECK_FALSE(packet.needs_negotiation());
  REQUIRE(packet.parameters.size() == 5);
  CHECK(packet.parameters[0] == std::pair<std::string, std::string>{"user", "alice"});
  CHECK(packet.parameters[2].first == "options");
  CHECK(packet.parameters[4].first == "client_encoding");
  CHECK(packet.parameter("user") == "alice");
  CHECK(packet.parameter("database") == "app");
  CHECK(packet.parameter("options") == "-c search_path=s1 -c statement_timeout=5s");
  CHECK_FALSE(packet.parameter("replication"));
  CHECK(packet.database() == "app");
}

TEST_CASE("startup parameter details", "[startup]") {
  SECTION("database defaults to the user name") {
    std::string wire;
    append_startup(wire, {{"user", "bob"}});
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK_FALSE(parsed.packet->parameter("database"));
    CHECK(parsed.packet->database() == "bob");
  }
  SECTION("a repeated name: the last one wins, all are kept in order") {
    std::string wire;
    append_startup(wire, {{"user", "a"}, {"user", "b"}});
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK(parsed.packet->parameter("user") == "b");
    CHECK(parsed.packet->parameters.size() == 2);
  }
  SECTION("empty values are allowed") {
    std::string wire;
    append_startup(wire, {{"user", "a"}, {"options", ""}});
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK(parsed.packet->parameter("options") == "");
  }
}

TEST_CASE("SSLRequest, GSSENCRequest and CancelRequest", "[startup]") {
  SECTION("SSLRequest") {
    std::string wire;
    append_ssl_request(wire);
    CHECK(wire == be32(8) + be32(80877103));
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK(parsed.packet->kind == StartupKind::ssl_request);
    CHECK_FALSE(parsed.packet->needs_negotiation());
  }
  SECTION("GSSENCRequest") {
    std::string wire;
    append_gssenc_request(wire);
    CHECK(wire == be32(8) + be32(80877104));
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK(parsed.packet->kind == StartupKind::gssenc_request);
  }
  SECTION("CancelRequest") {
    std::string wire;
    append_cancel_request(wire, 4242, -123456789);
    CHECK(wire.size() == 16);
    auto parsed = parse(payload_of(wire));
    REQUIRE(parsed.packet);
    CHECK(parsed.packet->kind == StartupKind::cancel_request);
    CHECK(parsed.packet->cancel_process_id == 4242);
    CHECK(parsed.packet->cancel_secret_key == -123456789);
  }
  SECTION("wrong lengths are refused") {
    CHECK_FALSE(parse(be32(80877103) + "x").packet);
    CHECK_FALSE(parse(be32(80877104) + "xyzw").packet);
    auto short_cancel = parse(be32(80877102) + be32(1));
    CHECK_FALSE(short_cancel.packet);
    CHECK(short_cancel.error.message == "invalid length of cancel request packet");
    CHECK(short_cancel.error.sqlstate == "08P01");
    CHECK_FALSE(parse(be32(80877102) + be32(1) + be32(2) + "x").packet);
  }
}

TEST_CASE("unsupported protocol versions are refused like PostgreSQL", "[startup]") {
  SECTION("v2") {
    auto parsed = parse(be32(2u << 16) + std::string("user\0a\0\0", 8));
    CHECK_FALSE(parsed.packet);
    CHECK(parsed.error.message == "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
    CHECK(parsed.error.sqlstate == "0A000");
  }
  SECTION("v4.1") {
    auto parsed = parse(be32((4u << 16) | 1u) + std::string("user\0a\0\0", 8));
    CHECK(parsed.error.message == "unsupported frontend protocol 4.1: server supports 3.0 to 3.0");
  }
  SECTION("an unknown request code") {
    auto parsed = parse(be32((1234u << 16) | 5681u));
    CHECK(parsed.error.message ==
          "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0");
  }
  SECTION("the plain-string overload reports the same message") {
    std::string error;
    const std::string payload = be32(2u << 16);
    CHECK_FALSE(parse_startup(as_bytes(payload), error));
    CHECK(error == "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
  }
}

TEST_CASE("protocol 3.2 is accepted and its minor noted", "[startup]") {
  const std::string payload =
      be32((3u << 16) | 2u) + std::string("user\0alice\0_pq_.feature\0on\0\0", 28);
  auto parsed = parse(payload);
  REQUIRE(parsed.packet);
  CHECK(parsed.packet->protocol_major() == 3);
  CHECK(parsed.packet->protocol_minor() == 2);
  CHECK(parsed.packet->needs_negotiation());
  CHECK(parsed.packet->protocol_options() == std::vector<std::string>{"_pq_.feature"});

  SECTION("a 3.0 client with a _pq_ option also needs negotiation") {
    std::string wire;
    append_startup(wire, {{"user", "a"}, {"_pq_.x", "1"}});
    auto again = parse(payload_of(wire));
    REQUIRE(again.packet);
    CHECK(again.packet->protocol_minor() == 0);
    CHECK(again.packet->needs_negotiation());
  }
}

TEST_CASE("missing user", "[startup]") {
  SECTION("no user parameter") {
    std::string wire;
    append_startup(wire, {{"database", "app"}});
    auto parsed = parse(payload_of(wire));
    CHECK_FALSE(parsed.packet);
    CHECK(parsed.error.message == "no PostgreSQL user name specified in startup packet");
    CHECK(parsed.error.sqlstate == "28000");
  }
  SECTION("an empty user") {
    std::string wire;
    append_startup(wire, {{"user", ""}});
    CHECK_FALSE(parse(payload_of(wire)).packet);
  }
  SECTION("no parameters at all") {
    CHECK_FALSE(parse(be32(196608) + std::string(1, '\0')).packet);
  }
}

TEST_CASE("malformed parameter lists", "[startup]") {
  const std::string layout = "invalid startup packet layout: expected terminator as last byte";
  const std::string v3 = be32(196608);
  SECTION("no terminator") {
    auto parsed = parse(v3 + std::string("user\0alice\0", 11));
    CHECK(parsed.error.message == layout);
    CHECK(parsed.error.sqlstate == "08P01");
  }
  SECTION("a name without its value") {
    CHECK(parse(v3 + std::string("user\0alice\0database\0", 20)).error.message == layout);
  }
  SECTION("a value without its NUL") {
    CHECK(parse(v3 + std::string("user\0alice", 10)).error.message == layout);
  }
  SECTION("bytes after the terminator") {
    CHECK(parse(v3 + std::string("user\0alice\0\0x", 13)).error.message == layout);
  }
  SECTION("nothing after the version") { CHECK(parse(v3).error.message == layout); }
  SECTION("shorter than the version word") {
    CHECK(parse("ab").error.message == "invalid length of startup packet");
  }
  SECTION("every strict prefix of a valid packet is refused") {
    std::string wire;
    append_startup(wire, {{"user", "alice"}, {"database", "app"}});
    const std::string payload = payload_of(wire);
    for (std::size_t n = 0; n < payload.size(); ++n) {
      INFO("prefix " << n);
      CHECK_FALSE(parse(payload.substr(0, n)).packet);
    }
  }
}
