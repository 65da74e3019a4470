#include "proxy/net/pg_stream.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace {

// An ssl::stream needs a context even while it carries plain bytes; this one
// is never used for a handshake.
asio::ssl::context& unused_context() {
  static asio::ssl::context context(asio::ssl::context::tls);
  return context;
}
}  // namespace

PgStream::PgStream(tcp::socket socket) : ssl_(std::move(socket), unused_context()) {
  error_code ignored;
  ssl_.next_layer().set_option(tcp::no_delay(true), ignored);
}

asio::awaitable<error_code> PgStream::handshake_as_server(asio::ssl::context& context) {
  // Rebuild the stream around the same socket with the real context.
  ssl_ = asio::ssl::stream<tcp::socket>(std::move(ssl_.next_layer()), context);
  auto [ec] = co_await ssl_.async_handshake(asio::ssl::stream_base::server, use_tuple);
  tls_active_ = !ec;
  co_return ec;
}

asio::awaitable<error_code> PgStream::handshake_as_client(asio::ssl::context& context,
                                                          const std::string& verify_host,
                                                          bool verify_hostname) {
  ssl_ = asio::ssl::stream<tcp::socket>(std::move(ssl_.next_layer()), context);
  if (!verify_host.empty()) SSL_set_tlsext_host_name(ssl_.native_handle(), verify_host.c_str());
  if (verify_hostname) ssl_.set_verify_callback(asio::ssl::host_name_verification(verify_host));
  auto [ec] = co_await ssl_.async_handshake(asio::ssl::stream_base::client, use_tuple);
  tls_active_ = !ec;
  co_return ec;
}

asio::awaitable<std::pair<error_code, std::size_t>> PgStream::read_some(
    std::span<std::uint8_t> into) {
  auto buffer = asio::buffer(into.data(), into.size());
  if (tls_active_) {
    auto [ec, n] = co_await ssl_.async_read_some(buffer, use_tuple);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await ssl_.next_layer().async_read_some(buffer, use_tuple);
  co_return std::pair{ec, n};
}

asio::awaitable<error_code> PgStream::write_all(std::string_view bytes) {
  if (discard_writes_) co_return error_code{};
  auto buffer = asio::buffer(bytes.data(), bytes.size());
  if (tls_active_) {
    auto [ec, n] = co_await asio::async_write(ssl_, buffer, use_tuple);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(ssl_.next_layer(), buffer, use_tuple);
  co_return ec;
}

void PgStream::close() {
  error_code ignored;
  ssl_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ssl_.next_layer().close(ignored);
}

}  // namespace pgdual::proxy
