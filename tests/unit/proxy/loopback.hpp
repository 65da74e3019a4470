#pragma once
// A connected TCP pair on 127.0.0.1 (port 0) for the proxy's stream tests: `peer` is the end a
// test writes to and reads from, `stream` the PgStream under test. Every run of the io_context
// is bounded in time.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/net/pg_stream.hpp"

namespace pgdual::proxy::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct Loopback {
  asio::io_context io;
  tcp::socket peer{io};
  std::optional<PgStream> stream;

  Loopback() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer.connect(acceptor.local_endpoint());
    stream.emplace(acceptor.accept());
    peer.set_option(tcp::no_delay(true));
  }
  ~Loopback() {
    boost::system::error_code ignored;
    peer.close(ignored);
    if (stream) stream->close();
  }

  void send(std::string_view bytes) { asio::write(peer, asio::buffer(bytes.data(), bytes.size())); }

  // Writes `bytes` from a coroutine on the io_context (for data larger than the kernel's
  // socket buffers, which a blocking write before the reader runs could not get rid of).
  void send_async(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    asio::co_spawn(
        io,
        [this, data]() -> asio::awaitable<void> {
          co_await asio::async_write(peer, asio::buffer(*data), asio::use_awaitable);
        },
        asio::detached);
  }

  // Runs `body` as a coroutine to its end, for at most `limit`.
  void run(std::function<asio::awaitable<void>()> body, std::chrono::milliseconds limit = 10s) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
      done = true;
      failure = e;
    });
    io.restart();
    io.run_for(limit);
    if (!done) {
      // Unblock the coroutine so that nothing outlives the test, then fail.
      stream->close();
      io.restart();
      io.run_for(2s);
    }
    REQUIRE(done);
    if (failure) std::rethrow_exception(failure);
  }
};

}  // namespace pgdual::proxy::test
