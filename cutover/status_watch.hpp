#pragma once
// Inside `pgdual run`: the control-plane half of the status page and the admin console
// (docs/operations.md). A thread that measures the cutover gate (cutover/gate.hpp) for the
// databases this instance has served, which also reads every instance's newest sample (the
// fleet's members and their heartbeats), every admin.status_interval_ms and whenever someone
// asks for a look fresher than kFreshEnough. It exports the verdict as metrics
// (metrics/status_metrics.hpp) and keeps the last look for the page. Blocking libpq on this
// layer's own thread, never on an I/O thread. Thread safety: every member from any thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "cutover/gate.hpp"
#include "metrics/status_metrics.hpp"

namespace pgdual::cutover {

struct StatusLook {
  GateReport gate;
  std::chrono::system_clock::time_point taken;
  double duration_seconds = 0;  // how long the look took
};

class StatusWatch {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
  using Databases = std::function<std::vector<std::string>()>;

  // A request for the status refreshes a look older than this.
  static constexpr std::chrono::seconds kFreshEnough{5};
  // The first background look waits for this instance's first sample to be on the old store.
  static constexpr std::chrono::seconds kFirstLookDelay{3};

  StatusWatch(ConfigSource config, Databases databases, metrics::StatusMetrics& metrics);
  ~StatusWatch();
  StatusWatch(const StatusWatch&) = delete;
  StatusWatch& operator=(const StatusWatch&) = delete;

  // The last look; null before the first one ended.
  std::shared_ptr<const StatusLook> last() const;
  // Asks for a new look unless the last one is fresh enough or one is running; never blocks.
  void request_fresh();
  void stop();

 private:
  void run();
  void look();

  ConfigSource config_;
  Databases databases_;
  metrics::StatusMetrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool requested_ = false;
  bool looking_ = false;
  std::uint64_t looks_started_ = 0;
  std::shared_ptr<const StatusLook> last_;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

}  // namespace pgdual::cutover
