#pragma once
// The admin HTTP endpoint (admin_listen): GET /metrics (Prometheus text),
// GET /healthz (the process is alive), GET /readyz (config valid and the
// primary backend reachable, as the readiness callback says), and the status
// (docs/operations.md): /status (a page, with /status.js and /status.css),
// /status.json and /status.txt (what `pgdual status` prints). Boost.Beast over
// the admin io_context, one coroutine per connection, keep-alive, requests
// bounded in header size and in time. It never throws out of its handlers.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pgdual::metrics {
class Metrics;
}

namespace pgdual::proxy {

namespace status {
struct StatusReport;
}

namespace detail {
struct AdminServerState;  // defined in admin_server.cpp
}

struct Readiness {
  bool ready = false;
  std::string detail;  // e.g. "old=up new=down"; the 503 body
};

class AdminServer {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 8 * 1024;
  static constexpr int kRequestTimeoutSeconds = 5;    // read + answer of one request, or idle
  static constexpr std::size_t kMaxConnections = 64;  // scrapers and probes, not clients

  // readiness is called on the io_context's thread for each GET /readyz.
  AdminServer(boost::asio::io_context& io, metrics::Metrics& metrics,
              std::function<Readiness()> readiness);
  ~AdminServer();  // stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The status report now; called on the io_context's thread for each status request. Without
  // one, the status endpoints answer 404.
  void set_status(std::function<status::StatusReport()> status);

  // Binds host:port (an IP literal, a name resolved once, or "" for 0.0.0.0)
  // and starts accepting. Returns the error if the bind fails (the caller logs
  // and exits). Call once, before or while the io_context runs.
  boost::system::error_code listen(const std::string& host, std::uint16_t port);
  // The bound port (useful with port 0); 0 before a successful listen().
  std::uint16_t port() const { return port_.load(); }
  // Closes the acceptor and every open connection. Safe from any thread: off
  // the io_context's thread it is posted there and takes effect when it runs.
  void stop();

 private:
  std::shared_ptr<detail::AdminServerState> state_;
  std::atomic<std::uint16_t> port_{0};
};

}  // namespace pgdual::proxy
