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
//     in the reactor. Writes never interleave: one that finds another waiting in the reactor
//     waits for it.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
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
  // Whether reads may use wait_readable() and read_now(): a plain socket in non-blocking mode.
  bool reads_synchronously() const { return !tls_active_ && non_blocking_; }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : socket_; }
  void close();

 private:
  tcp::socket socket_;  // moved into tls_ when a handshake starts
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
  bool tls_active_ = false;
  bool discard_writes_ = false;
  bool non_blocking_ = false;  // set at construction; without it every write goes through asio
  // A write that had to wait in the reactor is in progress: another coroutine's write (a
  // notice from the client pump while the primary pump forwards a large reply) waits for it
  // to finish instead of putting its bytes in the middle. Built the first time it is needed.
  bool writing_ = false;
  std::unique_ptr<asio::steady_timer> write_done_;

  asio::awaitable<void> wait_for_other_writer();
  asio::awaitable<error_code> write_in_reactor(std::string_view bytes);
};

}  // namespace pgdual::proxy
