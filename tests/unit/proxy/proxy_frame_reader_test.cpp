// Tests of proxy/net/frame_reader.hpp over a real loopback TCP connection
// (127.0.0.1, port 0) run on an io_context in the test: a message split at
// every byte, several messages in one read, messages larger than the buffer,
// oversize and malformed messages, take_raw / take_raw_before_last, the
// startup phase, and a peer that goes away. Every run of the io_context is
// bounded in time; the peer socket is written synchronously (small writes fit
// the kernel's buffers) or by a coroutine on the same io_context.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "protocol/messages.hpp"
#include "proxy/net/frame_reader.hpp"
#include "proxy/net/pg_stream.hpp"
#include "tests/unit/proxy/loopback.hpp"

using namespace pgdual;
using namespace pgdual::proxy;
using namespace std::chrono_literals;
using pgdual::proxy::test::Loopback;
namespace asio = boost::asio;
using asio::ip::tcp;
using Status = FrameReader::Status;

namespace {

constexpr std::size_t kMax = 1 << 20;

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// True when fill() returned within `window`; false when it was still waiting (it is then
// cancelled, which leaves what it read buffered).
asio::awaitable<bool> fills_within(FrameReader& reader, std::chrono::milliseconds window) {
  using namespace asio::experimental::awaitable_operators;
  auto filled = reader.fill();
  auto timeout = pause(window);
  auto winner = co_await (std::move(filled) || std::move(timeout));
  co_return winner.index() == 0;
}

// The next frame, filling as needed (bounded); nullopt when fill() fails, with the status in
// `status`.
asio::awaitable<std::optional<protocol::Frame>> next_frame(FrameReader& reader,
                                                           Status* status = nullptr) {
  for (int fills = 0; fills < 1000; ++fills) {
    if (auto frame = reader.next()) co_return frame;
    const auto filled = co_await reader.fill();
    if (status) *status = filled;
    if (filled != Status::ok) co_return std::nullopt;
  }
  co_return std::nullopt;
}

std::string text_of(std::span<const std::uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string query(std::string_view sql) { return protocol::query_message(sql); }

// The payload a Query message for `sql` carries: the text and its NUL.
std::string query_payload(std::string_view sql) { return std::string(sql) + '\0'; }

}  // namespace

TEST_CASE("frame reader: a message split at every byte is handed out once, whole") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  std::string message;
  protocol::append_parse(message, "s1", "SELECT $1::int", {23});
  REQUIRE(message.size() > 10);
  loop.run([&]() -> asio::awaitable<void> {
    for (std::size_t split = 1; split < message.size(); ++split) {
      INFO("split after byte " << split);
      loop.send(std::string_view(message).substr(0, split));
      // Part of a message is not a frame: fill() keeps waiting, next() has nothing.
      const bool early = co_await fills_within(reader, 5ms);
      CHECK_FALSE(early);
      CHECK_FALSE(reader.next());
      CHECK(reader.error().empty());
      loop.send(std::string_view(message).substr(split));
      const auto status = co_await reader.fill();
      REQUIRE(status == Status::ok);
      auto frame = reader.next();
      REQUIRE(frame);
      CHECK(frame->type == protocol::frontend::kParse);
      CHECK(frame->size == message.size());
      CHECK(text_of(frame->payload) == message.substr(5));
      CHECK_FALSE(reader.next());
      CHECK(reader.take_raw() == message);
      CHECK_FALSE(reader.has_buffered_bytes());
    }
  });
}

TEST_CASE("frame reader: a message arriving one byte per read") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string message = query("SELECT 42");
  loop.run([&]() -> asio::awaitable<void> {
    for (std::size_t i = 0; i + 1 < message.size(); ++i) {
      loop.send(std::string_view(message).substr(i, 1));
      const bool early = co_await fills_within(reader, 2ms);
      CHECK_FALSE(early);
    }
    loop.send(std::string_view(message).substr(message.size() - 1));
    const auto status = co_await reader.fill();
    REQUIRE(status == Status::ok);
    auto frame = reader.next();
    REQUIRE(frame);
    CHECK(frame->type == protocol::frontend::kQuery);
    CHECK(text_of(frame->payload) == query_payload("SELECT 42"));
    CHECK(reader.take_raw() == message);
  });
}

TEST_CASE("frame reader: two messages in one read come out one after the other") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  std::string both = query("SELECT 1");
  protocol::append_sync(both);
  loop.send(both);
  loop.run([&]() -> asio::awaitable<void> {
    const auto status = co_await reader.fill();
    REQUIRE(status == Status::ok);
    auto first = reader.next();
    REQUIRE(first);
    CHECK(first->type == protocol::frontend::kQuery);
    CHECK(text_of(first->payload) == query_payload("SELECT 1"));
    // The second is already buffered (15 bytes arrive in one read on loopback): no fill().
    auto second = reader.next();
    REQUIRE(second);
    CHECK(second->type == protocol::frontend::kSync);
    CHECK(second->payload.empty());
    CHECK(second->size == 5);
    CHECK_FALSE(reader.next());
    // Consecutive frames are contiguous: one view holds both.
    CHECK(reader.take_raw() == both);
    CHECK(reader.take_raw().empty());
  });
}

TEST_CASE("frame reader: whole messages are handed out, a trailing partial one waits") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string a = query("SELECT 'a'"), b = query("SELECT 'b'"), c = query("SELECT 'c'");
  loop.send(a + b + c.substr(0, 4));
  loop.run([&]() -> asio::awaitable<void> {
    auto first = co_await next_frame(reader);
    REQUIRE(first);
    CHECK(text_of(first->payload) == query_payload("SELECT 'a'"));
    auto second = co_await next_frame(reader);
    REQUIRE(second);
    CHECK(text_of(second->payload) == query_payload("SELECT 'b'"));
    CHECK(reader.take_raw() == a + b);
    const bool early = co_await fills_within(reader, 20ms);
    CHECK_FALSE(early);
    CHECK(reader.has_buffered_bytes());
    CHECK_FALSE(reader.next());
    loop.send(c.substr(4));
    auto third = co_await next_frame(reader);
    REQUIRE(third);
    CHECK(text_of(third->payload) == query_payload("SELECT 'c'"));
    CHECK(reader.take_raw() == c);
  });
}

TEST_CASE("frame reader: many small messages in one write, read in a bounded loop") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  std::string all;
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) all += query("SELECT " + std::to_string(i));
  loop.send(all);
  loop.run([&]() -> asio::awaitable<void> {
    std::string raw;
    int seen = 0;
    for (int fills = 0; seen < kCount && fills < 1000; ++fills) {
      const auto status = co_await reader.fill();
      REQUIRE(status == Status::ok);
      while (auto frame = reader.next()) {
        CHECK(text_of(frame->payload) == query_payload("SELECT " + std::to_string(seen)));
        ++seen;
      }
      raw += reader.take_raw();
    }
    CHECK(seen == kCount);
    CHECK(raw == all);
  });
}

TEST_CASE("frame reader: a message larger than the initial buffer is reassembled") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  // 300 KiB of text: several times the 64 KiB the reader starts with, and more than the
  // kernel delivers in one read.
  std::string sql = "SELECT '";
  sql.append(300 * 1024, 'x');
  sql += "'";
  const std::string message = query(sql);
  std::string sync;
  protocol::append_sync(sync);
  loop.send_async(message + sync);
  loop.run([&]() -> asio::awaitable<void> {
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(frame->type == protocol::frontend::kQuery);
    CHECK(frame->size == message.size());
    CHECK(text_of(frame->payload) == query_payload(sql));
    CHECK(reader.take_raw() == message);
    auto after = co_await next_frame(reader);
    REQUIRE(after);
    CHECK(after->type == protocol::frontend::kSync);
    CHECK(reader.take_raw() == sync);
  });
}

TEST_CASE("frame reader: a message over max_message_size fails from its header alone") {
  Loopback loop;
  FrameReader reader(*loop.stream, 1000, true);
  // Only the header of a 1 MB Query: the reader must refuse it without waiting for the body.
  std::string header = "Q";
  const std::uint32_t length = 1000000;
  for (int shift = 24; shift >= 0; shift -= 8)
    header += static_cast<char>((length >> shift) & 0xff);
  loop.send(header);
  loop.run([&]() -> asio::awaitable<void> {
    const auto status = co_await reader.fill();
    CHECK(status == Status::protocol_error);
    CHECK(reader.error() == "message of 1000000 bytes exceeds max_message_size 1000");
    CHECK_FALSE(reader.next());
    // The stream lost its boundaries: it stays failed, even with valid bytes after it.
    loop.send(query("SELECT 1"));
    const auto again = co_await reader.fill();
    CHECK(again == Status::protocol_error);
    CHECK_FALSE(reader.next());
  });
}

TEST_CASE("frame reader: an oversize message behind a good one fails at next()") {
  Loopback loop;
  FrameReader reader(*loop.stream, 100, true);
  const std::string good = query("SELECT 1");
  const std::string big = query(std::string(200, 'y'));
  loop.send(good + big);
  loop.run([&]() -> asio::awaitable<void> {
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(text_of(frame->payload) == query_payload("SELECT 1"));
    // The oversize header may need another read: then fill() reports it instead of next().
    Status status = Status::ok;
    auto second = co_await next_frame(reader, &status);
    CHECK_FALSE(second);
    CHECK(status != Status::closed);
    CHECK(reader.error() == "message of 205 bytes exceeds max_message_size 100");
    CHECK_FALSE(reader.next());
    // What was handed out before the failure is still there to forward.
    CHECK(reader.take_raw() == good);
    const auto after = co_await reader.fill();
    CHECK(after == Status::protocol_error);
  });
}

TEST_CASE("frame reader: set_max_message_size applies to the next message") {
  Loopback loop;
  FrameReader reader(*loop.stream, 10, true);
  reader.set_max_message_size(kMax);
  const std::string message = query("SELECT 'longer than ten bytes'");
  loop.send(message);
  loop.run([&]() -> asio::awaitable<void> {
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(reader.take_raw() == message);
    reader.set_max_message_size(10);
    loop.send(message);
    const auto status = co_await reader.fill();
    CHECK(status == Status::protocol_error);
    CHECK(reader.error() == "message of 35 bytes exceeds max_message_size 10");
  });
}

TEST_CASE("frame reader: an unknown frontend type or a bad length is a protocol error") {
  const std::string ready_for_query("Z\0\0\0\x05I", 6);
  SECTION("unknown type, checked (the client side)") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    loop.send(ready_for_query);
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::protocol_error);
      CHECK(reader.error() == "invalid frontend message type 90 ('Z')");
    });
  }
  SECTION("the same bytes unchecked (the backend side: ReadyForQuery)") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, false);
    loop.send(ready_for_query);
    loop.run([&]() -> asio::awaitable<void> {
      auto frame = co_await next_frame(reader);
      REQUIRE(frame);
      CHECK(frame->type == 'Z');
      CHECK(text_of(frame->payload) == "I");
    });
  }
  SECTION("a length word below 4") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    loop.send(std::string("Q\0\0\0\x03", 5));
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::protocol_error);
      CHECK(reader.error() == "invalid message length 3");
    });
  }
}

TEST_CASE("frame reader: take_raw_before_last keeps the last frame pending") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string a = query("SELECT 'a'"), b = query("SELECT 'b'"), c = query("SELECT 'c'");
  loop.send(a + b);
  loop.run([&]() -> asio::awaitable<void> {
    auto first = co_await next_frame(reader);
    auto second = co_await next_frame(reader);
    REQUIRE(first);
    REQUIRE(second);
    // Everything handed out except b, which the caller must not forward yet.
    CHECK(reader.take_raw_before_last() == a);
    // Nothing new since: nothing more before the last frame.
    CHECK(reader.take_raw_before_last().empty());
    // More bytes arrive; b's bytes stay valid and come out in front of c.
    loop.send(c);
    auto third = co_await next_frame(reader);
    REQUIRE(third);
    CHECK(text_of(third->payload) == query_payload("SELECT 'c'"));
    CHECK(reader.take_raw() == b + c);
    CHECK(reader.take_raw().empty());
  });
}

TEST_CASE("frame reader: take_raw_before_last with one frame handed out is empty") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string a = query("SELECT 'a'");
  loop.send(a);
  loop.run([&]() -> asio::awaitable<void> {
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(reader.take_raw_before_last().empty());
    CHECK(reader.take_raw() == a);
  });
}

TEST_CASE("frame reader: the buffer is reused once everything is taken") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string payload(10 * 1024, 'z');
  loop.run([&]() -> asio::awaitable<void> {
    // 300 KiB in all, far more than the 64 KiB buffer: each round takes what it read.
    for (int round = 0; round < 30; ++round) {
      const std::string sql = payload + std::to_string(round);
      const std::string message = query(sql);
      loop.send_async(message);
      auto frame = co_await next_frame(reader);
      REQUIRE(frame);
      CHECK(text_of(frame->payload) == query_payload(sql));
      CHECK(reader.take_raw() == message);
      CHECK_FALSE(reader.has_buffered_bytes());
    }
  });
}

TEST_CASE("frame reader: startup phase reads packets without a type byte") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  reader.set_startup_phase(true);
  std::string ssl_request, startup;
  protocol::append_ssl_request(ssl_request);
  protocol::append_startup(startup, {{"user", "app"}, {"database", "db"}});
  const std::string after = query("SELECT 1");
  loop.send(ssl_request + startup + after);
  loop.run([&]() -> asio::awaitable<void> {
    auto request = co_await next_frame(reader);
    REQUIRE(request);
    CHECK(request->type == 0);
    CHECK(request->size == 8);
    CHECK(text_of(request->payload) == std::string("\x04\xd2\x16\x2f", 4));  // 80877103
    auto packet = co_await next_frame(reader);
    REQUIRE(packet);
    CHECK(packet->type == 0);
    CHECK(packet->size == startup.size());
    CHECK(text_of(packet->payload) == startup.substr(4));
    CHECK(text_of(packet->payload).substr(0, 4) == std::string("\x00\x03\x00\x00", 4));  // 3.0
    // In the startup phase "Q..." would be read as a length word: the session switches first.
    reader.set_startup_phase(false);
    auto typed = co_await next_frame(reader);
    REQUIRE(typed);
    CHECK(typed->type == protocol::frontend::kQuery);
    CHECK(text_of(typed->payload) == query_payload("SELECT 1"));
    CHECK(reader.take_raw() == ssl_request + startup + after);
  });
}

TEST_CASE("frame reader: startup packets outside 8..10000 bytes are refused") {
  SECTION("too short") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    reader.set_startup_phase(true);
    loop.send(std::string("\0\0\0\x07xyz", 7));
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::protocol_error);
      CHECK(reader.error() == "invalid length of startup packet: 7 bytes (must be 8 to 10000)");
    });
  }
  SECTION("too long, whatever max_message_size says") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    reader.set_startup_phase(true);
    loop.send(std::string("\0\0\x27\x11", 4));  // 10001
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::protocol_error);
      CHECK(reader.error() == "invalid length of startup packet: 10001 bytes (must be 8 to 10000)");
    });
  }
}

TEST_CASE("frame reader: the peer going away is reported as closed") {
  SECTION("between messages") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    loop.peer.close();
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::closed);
      CHECK_FALSE(reader.next());
    });
  }
  SECTION("in the middle of a message") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    loop.send(query("SELECT 1").substr(0, 7));
    loop.peer.shutdown(tcp::socket::shutdown_send);
    loop.run([&]() -> asio::awaitable<void> {
      const auto status = co_await reader.fill();
      CHECK(status == Status::closed);
      CHECK(reader.has_buffered_bytes());
      CHECK_FALSE(reader.next());
      CHECK(reader.error().empty());
    });
  }
  SECTION("after a whole message: it is still handed out") {
    Loopback loop;
    FrameReader reader(*loop.stream, kMax, true);
    const std::string message = query("SELECT 1");
    loop.send(message);
    loop.peer.shutdown(tcp::socket::shutdown_send);
    loop.run([&]() -> asio::awaitable<void> {
      auto frame = co_await next_frame(reader);
      REQUIRE(frame);
      CHECK(reader.take_raw() == message);
      const auto status = co_await reader.fill();
      CHECK(status == Status::closed);
    });
  }
}

TEST_CASE("frame reader: a cancelled fill() loses nothing it read") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  const std::string message = query("SELECT 'cancel me'");
  loop.run([&]() -> asio::awaitable<void> {
    loop.send(std::string_view(message).substr(0, 6));
    const bool early = co_await fills_within(reader, 20ms);
    CHECK_FALSE(early);
    loop.send(std::string_view(message).substr(6));
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(text_of(frame->payload) == query_payload("SELECT 'cancel me'"));
    CHECK(reader.take_raw() == message);
  });
}

TEST_CASE(
    "frame reader: an idle plain connection holds no buffer, and a partial message keeps it") {
  Loopback loop;
  FrameReader reader(*loop.stream, kMax, true);
  CHECK(reader.buffer_capacity() == 0);  // nothing read yet
  const std::string first = query("SELECT 1");
  const std::string second = query("SELECT 2");
  loop.run([&]() -> asio::awaitable<void> {
    loop.send(first);
    auto frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(reader.buffer_capacity() > 0);  // the frame is a view into it
    CHECK(reader.take_raw() == first);
    // Everything handed out and taken: waiting for more gives the buffer back.
    const bool early = co_await fills_within(reader, 20ms);
    CHECK_FALSE(early);
    CHECK(reader.buffer_capacity() == 0);
    // Half a message: the reader keeps it (and its buffer) while it waits for the rest.
    loop.send(std::string_view(second).substr(0, 4));
    const bool half = co_await fills_within(reader, 20ms);
    CHECK_FALSE(half);
    CHECK(reader.buffer_capacity() > 0);
    loop.send(std::string_view(second).substr(4));
    frame = co_await next_frame(reader);
    REQUIRE(frame);
    CHECK(text_of(frame->payload) == query_payload("SELECT 2"));
    CHECK(reader.take_raw() == second);
  });
}
