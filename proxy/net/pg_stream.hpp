#pragma once
// A connection that speaks the PostgreSQL protocol over plain TCP or TLS.
// PostgreSQL negotiates TLS in-band (SSLRequest, then 'S'), so a connection
// starts plain and may be upgraded; the same session code serves both.
//
// Cost matters here: every message of every session passes through this class.
//   - A plain connection carries no TLS state at all (an ssl::stream keeps two 17 KiB record
//     buffers and an SSL object even while it carries plain bytes); the TLS stream is built
//     only when a handshake starts.
//   - A plain write is tried at once on the non-blocking socket and returns without
//     suspending when the kernel took every byte, which is the normal case. Asio's own
//     async_write would post its completion even then, and each post costs the worker an extra
//     epoll_wait and a trip through its queue; only a write the kernel cannot take whole waits
//     in the reactor.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <memory>
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

  // Plain connections only: waits until the socket has bytes to read (or an error), without
  // reading them, so that a caller can hold no read buffer while its peer is quiet.
  asio::awaitable<error_code> wait_readable();
  // Plain connections only: reads what the kernel holds, without waiting; would_block when
  // it holds nothing.
  std::size_t read_now(std::span<std::uint8_t> into, error_code& ec);

  // From now on writes succeed without sending anything: the peer said goodbye (Terminate)
  // and its replies go nowhere, while the work it sent before still runs to its end.
  void discard_writes() { discard_writes_ = true; }

  bool is_tls() const { return tls_active_; }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : socket_; }
  void close();

 private:
  tcp::socket socket_;  // moved into tls_ when a handshake starts
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
  bool tls_active_ = false;
  bool discard_writes_ = false;
};

}  // namespace pgdual::proxy
