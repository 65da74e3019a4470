#pragma once
// Periodic TCP reachability check of the two backends, feeding /readyz and the
// pgdual_backend_up{backend} gauge. Every kInterval it opens (and at once
// closes) a TCP connection to each backend, concurrently, each bounded by
// kConnectTimeout. It checks that the port accepts connections, not that
// PostgreSQL would authenticate us: enough for a readiness probe, and free of
// credentials and server-side log noise.

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "metrics/labels.hpp"
#include "proxy/admin/admin_server.hpp"

namespace pgdual::metrics {
class Metrics;
}

namespace pgdual::proxy {

namespace detail {
struct BackendProbeState;  // defined in backend_probe.cpp
}

class BackendProbe {
 public:
  static constexpr std::chrono::milliseconds kInterval{2000};
  static constexpr std::chrono::milliseconds kConnectTimeout{1000};

  // Probes run on io (the admin io_context). Destroy the probe before io.
  BackendProbe(boost::asio::io_context& io, metrics::Metrics& metrics);
  ~BackendProbe();  // stop()s
  BackendProbe(const BackendProbe&) = delete;
  BackendProbe& operator=(const BackendProbe&) = delete;

  // Safe from any thread (config reload). The next round probes the new
  // targets; an empty host means "not configured" and probes as down.
  void set_targets(std::string old_host, std::uint16_t old_port, std::string new_host,
                   std::uint16_t new_port);
  // Which backend /readyz requires (old until cutover, new from cutover on).
  // Safe from any thread. Default: old.
  void set_primary(metrics::BackendRole primary);

  // Starts the probe loop (the first round at once). Call once.
  void start();
  // Ends the loop. Safe from any thread; takes effect on the io_context.
  void stop();

  // Result of the last completed round (false before the first one).
  bool reachable(metrics::BackendRole role) const;
  // Ready when the configuration is valid and the primary is reachable; detail
  // names both backends, e.g. "old=up new=down" (prefixed "config invalid; "
  // when config_valid is false).
  Readiness readiness(bool config_valid) const;

 private:
  std::shared_ptr<detail::BackendProbeState> state_;
};

}  // namespace pgdual::proxy
