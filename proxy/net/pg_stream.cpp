#include "proxy/net/pg_stream.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

PgStream::PgStream(tcp::socket socket) : socket_(std::move(socket)) {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  // Synchronous reads and writes on this socket return would_block instead of blocking the
  // worker (write_all and read_now rely on it); asio's asynchronous operations are unaffected.
  error_code ec;
  socket_.non_blocking(true, ec);
  non_blocking_ = !ec;
}

asio::awaitable<error_code> PgStream::handshake_as_server(asio::ssl::context& context) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket_), context);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
  tls_active_ = !ec;
  co_return ec;
}

asio::awaitable<error_code> PgStream::handshake_as_client(asio::ssl::context& context,
                                                          const std::string& verify_host,
                                                          bool verify_hostname) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket_), context);
  if (!verify_host.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), verify_host.c_str());
  if (verify_hostname) tls_->set_verify_callback(asio::ssl::host_name_verification(verify_host));
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
  tls_active_ = !ec;
  co_return ec;
}

asio::awaitable<std::pair<error_code, std::size_t>> PgStream::read_some(
    std::span<std::uint8_t> into) {
  auto buffer = asio::buffer(into.data(), into.size());
  if (tls_active_) {
    auto [ec, n] = co_await tls_->async_read_some(buffer, use_tuple);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await socket().async_read_some(buffer, use_tuple);
  co_return std::pair{ec, n};
}

asio::awaitable<error_code> PgStream::wait_readable() {
  auto [ec] = co_await socket().async_wait(tcp::socket::wait_read, use_tuple);
  co_return ec;
}

std::size_t PgStream::read_now(std::span<std::uint8_t> into, error_code& ec) {
  return socket().read_some(asio::buffer(into.data(), into.size()), ec);
}

asio::awaitable<void> PgStream::wait_for_other_writer() {
  while (writing_) {
    if (!write_done_) {
      write_done_ = std::make_unique<asio::steady_timer>(socket().get_executor(),
                                                         asio::steady_timer::time_point::max());
    }
    // The writer cancels the timer when it is done; a cancelled wait just looks again.
    co_await write_done_->async_wait(use_tuple);
  }
}

asio::awaitable<error_code> PgStream::write_in_reactor(std::string_view bytes) {
  writing_ = true;
  error_code result;
  if (tls_active_) {
    auto [ec, n] =
        co_await asio::async_write(*tls_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
    result = ec;
  } else {
    auto [ec, n] =
        co_await asio::async_write(socket(), asio::buffer(bytes.data(), bytes.size()), use_tuple);
    result = ec;
  }
  writing_ = false;
  // Wakes any writer waiting in wait_for_other_writer (resetting the expiry cancels its wait).
  if (write_done_) write_done_->expires_at(asio::steady_timer::time_point::max());
  co_return result;
}

asio::awaitable<error_code> PgStream::write_all(std::string_view bytes) {
  if (discard_writes_) co_return error_code{};
  if (writing_) co_await wait_for_other_writer();
  if (tls_active_ || !non_blocking_) co_return co_await write_in_reactor(bytes);
  auto& plain = socket();
  while (!bytes.empty()) {
    error_code ec;
    const std::size_t sent = plain.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) co_return ec;
    bytes.remove_prefix(sent);
  }
  if (bytes.empty()) co_return error_code{};
  // The kernel's send buffer is full: the rest waits for the peer to read.
  co_return co_await write_in_reactor(bytes);
}

void PgStream::close() {
  error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

}  // namespace pgdual::proxy
