// Tests of proxy/net/pg_stream.hpp over a real loopback TCP connection: a plain write the
// kernel takes whole completes without suspending, and a write that finds another waiting in
// the reactor (the peer not reading) goes after it, never into the middle of it.

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "proxy/net/pg_stream.hpp"
#include "tests/unit/proxy/loopback.hpp"

using namespace pgdual::proxy;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

using pgdual::proxy::test::Loopback;

TEST_CASE("pg stream: a write the kernel takes whole completes at once") {
  Loopback loop;
  bool done = false;
  asio::co_spawn(
      loop.io,
      [&]() -> asio::awaitable<void> {
        const auto ec = co_await loop.stream->write_all("hello");
        CHECK_FALSE(ec);
        done = true;
      },
      asio::detached);
  // One handler run: the coroutine starts and finishes without waiting for the reactor.
  loop.io.run_one_for(1s);
  CHECK(done);
  std::string got(5, '\0');
  asio::read(loop.peer, asio::buffer(got));
  CHECK(got == "hello");
}

TEST_CASE("pg stream: a second writer waits for one blocked in the reactor") {
  Loopback loop;
  const std::string big(8 << 20, 'a');  // far more than the kernel's socket buffers
  const std::string small(100, 'b');
  int finished = 0;
  asio::co_spawn(
      loop.io,
      [&]() -> asio::awaitable<void> {
        const auto ec = co_await loop.stream->write_all(big);
        CHECK_FALSE(ec);
        ++finished;
      },
      asio::detached);
  // Let the big write fill the socket and suspend, then start the small one.
  loop.io.run_for(50ms);
  REQUIRE(finished == 0);
  asio::co_spawn(
      loop.io,
      [&]() -> asio::awaitable<void> {
        // (co_await outside Catch's macros: GCC 12 evaluates a co_await inside them more than
        // once.)
        const auto ec = co_await loop.stream->write_all(small);
        CHECK_FALSE(ec);
        ++finished;
      },
      asio::detached);
  loop.io.run_for(50ms);
  CHECK(finished == 0);  // waits behind the big one
  // Now the peer reads everything: the small write's bytes come after all of the big one's.
  std::string received;
  std::string chunk(1 << 16, '\0');
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (received.size() < big.size() + small.size() &&
         std::chrono::steady_clock::now() < deadline) {
    loop.peer.non_blocking(true);
    boost::system::error_code ec;
    const std::size_t n = loop.peer.read_some(asio::buffer(chunk), ec);
    if (!ec) received.append(chunk, 0, n);
    loop.io.run_for(1ms);
  }
  INFO("first b at " << received.find('b') << ", b count "
                     << std::count(received.begin(), received.end(), 'b') << ", a count "
                     << std::count(received.begin(), received.end(), 'a'));
  REQUIRE(received.size() == big.size() + small.size());
  CHECK(received.find('b') == big.size());
  CHECK(received.substr(big.size()) == small);
  CHECK(finished == 2);
}
