#pragma once
// A connection that speaks the PostgreSQL protocol over plain TCP or TLS.
// PostgreSQL negotiates TLS in-band (SSLRequest, then 'S'), so a connection
// starts plain and may be upgraded; the same session code serves both.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <span>
#include <string_view>

namespace pgdual::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

class PgStream {
 public:
  explicit PgStream(tcp::socket socket);
  PgStream(PgStream&&) = default;

  // Upgrades to TLS as server (client leg) or client (backend leg).
  asio::awaitable<error_code> handshake_as_server(asio::ssl::context& context);
  asio::awaitable<error_code> handshake_as_client(asio::ssl::context& context,
                                                  const std::string& verify_host,
                                                  bool verify_hostname);

  asio::awaitable<std::pair<error_code, std::size_t>> read_some(std::span<std::uint8_t> into);
  asio::awaitable<error_code> write_all(std::string_view bytes);

  // From now on writes succeed without sending anything: the peer said goodbye (Terminate)
  // and its replies go nowhere, while the work it sent before still runs to its end.
  void discard_writes() { discard_writes_ = true; }

  bool is_tls() const { return tls_active_; }
  tcp::socket& socket() { return ssl_.next_layer(); }
  void close();

 private:
  asio::ssl::stream<tcp::socket> ssl_;
  bool tls_active_ = false;
  bool discard_writes_ = false;
};

}  // namespace pgdual::proxy
