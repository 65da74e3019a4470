// Tests of decode_frame: every frontend message type, streams split at every byte, several
// messages in one buffer, length-word validation from the header alone, and startup packets.

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"

using namespace pgdual::protocol;

namespace {

constexpr std::size_t kMax = 1 << 20;

std::string header(char type, std::uint32_t length) {
  std::string out;
  if (type != 0) out.push_back(type);
  out.push_back(static_cast<char>(length >> 24));
  out.push_back(static_cast<char>(length >> 16));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length));
  return out;
}

DecodeResult decode(const std::string& wire, bool startup = false, std::size_t max = kMax,
                    bool check = true) {
  return decode_frame(as_bytes(wire), startup, max, check);
}

struct Decoded {
  char type;
  std::string payload;
  bool operator==(const Decoded&) const = default;
};

// A stream of one message of every frontend type, and what decoding it must yield.
std::string every_frontend_message(std::vector<Decoded>& expected) {
  std::string wire;
  auto add = [&](auto&& build) {
    const std::size_t start = wire.size();
    build(wire);
    expected.push_back({wire[start], wire.substr(start + 5)});
  };
  add([](std::string& o) { append_query(o, "SELECT 1"); });
  add([](std::string& o) { append_parse(o, "s1", "SELECT $1", {23}); });
  add([](std::string& o) { append_bind(o, "", "s1", {0}, {std::string("42")}, {}); });
  add([](std::string& o) { append_describe(o, 'P', ""); });
  add([](std::string& o) { append_execute(o, "", 0); });
  add([](std::string& o) { append_close(o, 'S', "s1"); });
  add([](std::string& o) { append_flush(o); });
  add([](std::string& o) { append_sync(o); });
  add([](std::string& o) { append_copy_data(o, "1\tone\n"); });
  add([](std::string& o) { append_copy_done(o); });
  add([](std::string& o) { append_copy_fail(o, "aborted"); });
  add([](std::string& o) {
    // FunctionCall: oid, 0 arg formats, 0 args, result format text.
    MessageWriter(o, frontend::kFunctionCall).int32(1598).int16(0).int16(0).int16(0);
  });
  add([](std::string& o) { append_password(o, "secret"); });
  add([](std::string& o) { append_terminate(o); });
  return wire;
}

// Decodes every complete frame at the front of buffer[offset..], advancing offset.
void drain(const std::string& buffer, std::size_t& offset, std::vector<Decoded>& out) {
  while (true) {
    auto view = as_bytes(buffer).subspan(offset);
    auto result = decode_frame(view, false, kMax, true);
    REQUIRE(result.status != DecodeStatus::error);
    if (result.status == DecodeStatus::need_more) return;
    REQUIRE(result.frame.size <= view.size());
    REQUIRE(result.frame.payload.data() == view.data() + 5);
    out.push_back({result.frame.type, std::string(as_string_view(result.frame.payload))});
    offset += result.frame.size;
  }
}

}  // namespace

TEST_CASE("every frontend message type decodes with the type check on", "[frame_decoder]") {
  std::vector<Decoded> expected;
  const std::string wire = every_frontend_message(expected);
  REQUIRE(expected.size() == 14);

  std::size_t offset = 0;
  std::vector<Decoded> got;
  drain(wire, offset, got);
  CHECK(offset == wire.size());
  CHECK(got == expected);
  for (const auto& message : got) CHECK(is_known_frontend_type(message.type));
}

TEST_CASE("a single message reports type, payload and size", "[frame_decoder]") {
  std::string wire;
  append_query(wire, "SELECT 1");
  wire += "trailing";  // the start of the next message must not be taken
  auto result = decode(wire);
  REQUIRE(result.status == DecodeStatus::ready);
  CHECK(result.frame.type == 'Q');
  CHECK(result.frame.size == 1 + 4 + 9);
  CHECK(as_string_view(result.frame.payload) == std::string_view("SELECT 1\0", 9));
  CHECK(result.error.empty());
}

TEST_CASE("a stream split at every byte boundary yields the same frames", "[frame_decoder]") {
  std::vector<Decoded> expected;
  const std::string wire = every_frontend_message(expected);

  SECTION("fed one byte at a time") {
    std::string buffer;
    std::size_t offset = 0;
    std::vector<Decoded> got;
    for (char c : wire) {
      buffer.push_back(c);
      const std::size_t before = got.size();
      drain(buffer, offset, got);
      // A frame appears exactly when its last byte arrives, never earlier.
      if (got.size() > before) CHECK(offset == buffer.size());
    }
    CHECK(offset == wire.size());
    CHECK(got == expected);
  }

  SECTION("split into two pieces at every position") {
    for (std::size_t split = 0; split <= wire.size(); ++split) {
      std::string buffer = wire.substr(0, split);
      std::size_t offset = 0;
      std::vector<Decoded> got;
      drain(buffer, offset, got);
      buffer += wire.substr(split);
      drain(buffer, offset, got);
      INFO("split at " << split);
      CHECK(offset == wire.size());
      CHECK(got == expected);
    }
  }

  SECTION("every strict prefix of one message needs more") {
    std::string message;
    append_bind(message, "p", "s", {1, 1}, {std::string("ab"), std::nullopt}, {1});
    for (std::size_t n = 0; n < message.size(); ++n) {
      INFO("prefix " << n);
      CHECK(decode(message.substr(0, n)).status == DecodeStatus::need_more);
    }
    CHECK(decode(message).status == DecodeStatus::ready);
  }
}

TEST_CASE("several messages in one buffer decode in order", "[frame_decoder]") {
  std::string wire;
  append_parse(wire, "", "SELECT $1", {});
  append_bind(wire, "", "", {}, {std::string("1")}, {});
  append_execute(wire, "", 0);
  append_sync(wire);
  std::vector<char> types;
  std::size_t offset = 0;
  while (offset < wire.size()) {
    auto result = decode_frame(as_bytes(wire).subspan(offset), false, kMax, true);
    REQUIRE(result.status == DecodeStatus::ready);
    types.push_back(result.frame.type);
    offset += result.frame.size;
  }
  CHECK(types == std::vector<char>{'P', 'B', 'E', 'S'});
  CHECK(decode_frame(as_bytes(wire).subspan(offset), false, kMax).status ==
        DecodeStatus::need_more);
}

TEST_CASE("message length validation", "[frame_decoder]") {
  SECTION("oversize is rejected from the header alone") {
    const std::string wire = header('Q', 1'000'000);  // no body at all
    auto result = decode(wire, false, 8192);
    REQUIRE(result.status == DecodeStatus::error);
    CHECK(result.error == "message of 1000000 bytes exceeds max_message_size 8192");
  }
  SECTION("a message of exactly max_message_size is accepted") {
    std::string wire = header('d', 100) + std::string(96, 'x');
    CHECK(decode(wire, false, 100).status == DecodeStatus::ready);
    CHECK(decode(wire, false, 99).status == DecodeStatus::error);
  }
  SECTION("length below 4 is an error") {
    for (std::uint32_t length = 0; length < 4; ++length) {
      auto result = decode(header('S', length));
      INFO("length " << length);
      CHECK(result.status == DecodeStatus::error);
      CHECK(result.error == "invalid message length " + std::to_string(length));
    }
  }
  SECTION("a negative length word is an error, even with a huge limit") {
    auto result = decode(header('Q', 0xFFFFFFFFu), false, SIZE_MAX);
    CHECK(result.status == DecodeStatus::error);
    CHECK(result.error == "invalid message length -1");
  }
  SECTION("length 4 is an empty payload") {
    auto result = decode(header('S', 4));
    REQUIRE(result.status == DecodeStatus::ready);
    CHECK(result.frame.payload.empty());
    CHECK(result.frame.size == 5);
  }
  SECTION("an incomplete header needs more") {
    CHECK(decode("").status == DecodeStatus::need_more);
    CHECK(decode(std::string("Q\0\0", 3)).status == DecodeStatus::need_more);
  }
}

TEST_CASE("type byte check", "[frame_decoder]") {
  SECTION("an unknown type is an error from its first byte when checking") {
    auto result = decode("Z");
    REQUIRE(result.status == DecodeStatus::error);
    CHECK(result.error == "invalid frontend message type 90 ('Z')");
    CHECK(decode(std::string(1, '\x01')).error == "invalid frontend message type 1");
  }
  SECTION("without the check any type byte passes (backend streams)") {
    std::string wire;
    append_ready_for_query(wire, 'I');
    auto result = decode(wire, false, kMax, false);
    REQUIRE(result.status == DecodeStatus::ready);
    CHECK(result.frame.type == 'Z');
  }
  SECTION("backend-only types are refused from a client") {
    for (char type : {'R', 'K', 'Z', 'T', 'I', 'N', 'A', '1', 'v', 'G', 'W'}) {
      INFO(type);
      CHECK_FALSE(is_known_frontend_type(type));
      CHECK(is_known_backend_type(type));
    }
  }
}

TEST_CASE("garbage is refused or waited on, never crashes", "[frame_decoder]") {
  SECTION("an HTTP request") {
    auto result = decode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(result.status == DecodeStatus::error);
  }
  SECTION("an HTTP request in the startup phase: length word too large") {
    auto result = decode("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true);
    CHECK(result.status == DecodeStatus::error);
  }
  SECTION("pseudo-random bytes") {
    std::uint32_t state = 12345;
    for (int round = 0; round < 2000; ++round) {
      std::string buffer(static_cast<std::size_t>(state % 64), '\0');
      for (auto& c : buffer) {
        state = state * 1103515245u + 12345u;
        c = static_cast<char>(state >> 16);
      }
      for (bool startup : {false, true}) {
        for (bool check : {false, true}) {
          auto result = decode_frame(as_bytes(buffer), startup, 64, check);
          if (result.status == DecodeStatus::ready) {
            CHECK(result.frame.size <= buffer.size());
            CHECK(result.frame.payload.size() + (startup ? 4 : 5) == result.frame.size);
          }
        }
      }
    }
  }
}

TEST_CASE("startup-phase packets", "[frame_decoder]") {
  SECTION("SSLRequest") {
    std::string wire;
    append_ssl_request(wire);
    auto result = decode(wire, true);
    REQUIRE(result.status == DecodeStatus::ready);
    CHECK(result.frame.type == 0);
    CHECK(result.frame.size == 8);
    CHECK(result.frame.payload.size() == 4);
  }
  SECTION("StartupMessage split at every byte") {
    std::string wire;
    append_startup(wire, {{"user", "alice"}, {"database", "app"}});
    for (std::size_t n = 0; n < wire.size(); ++n) {
      CHECK(decode(wire.substr(0, n), true).status == DecodeStatus::need_more);
    }
    auto result = decode(wire + "Q", true);
    REQUIRE(result.status == DecodeStatus::ready);
    CHECK(result.frame.size == wire.size());
  }
  SECTION("the startup limit is 10000 whatever max_message_size says") {
    CHECK(decode(header(0, 10001), true, kMax).status == DecodeStatus::error);
    CHECK(decode(header(0, 10000), true, kMax).status == DecodeStatus::need_more);
    std::string wire = header(0, 200) + std::string(196, 'x');
    CHECK(decode(wire, true, 16).status == DecodeStatus::ready);
  }
  SECTION("shorter than 8 bytes is an error") {
    for (std::uint32_t length = 0; length < 8; ++length) {
      auto result = decode(header(0, length) + std::string(8, '\0'), true);
      INFO("length " << length);
      CHECK(result.status == DecodeStatus::error);
      CHECK(result.error.find("invalid length of startup packet") == 0);
    }
  }
  SECTION("a negative length word is an error") {
    auto result = decode(header(0, 0x80000000u), true);
    CHECK(result.status == DecodeStatus::error);
  }
}
