#pragma once
// Inside `pgdual run`: a thread that appends this instance's sample (cutover/instance_samples.hpp)
// to the old store every kInterval, prunes samples older than the gate's window, and appends a
// last `stopped` sample at a clean stop, so that the gate stops counting the instance at once.
// The samples live in the control database: backends.old.dbname, else `postgres`. A failure is
// logged once per outage and retried; it never touches the data path. Blocking libpq on this
// layer's own thread. Thread safety: stop() from any thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "cutover/instance_samples.hpp"

namespace pgdual::cutover {

// The database the fleet's control tables live in.
std::string control_database(const config::Config& config);

class StatsPublisher {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
  // The instance's sample now (its name, phase, journal depth and counters; age unused).
  using Snapshot = std::function<InstanceSample()>;

  static constexpr std::chrono::seconds kInterval{2};

  StatsPublisher(ConfigSource config, Snapshot snapshot);
  ~StatsPublisher();
  StatsPublisher(const StatsPublisher&) = delete;
  StatsPublisher& operator=(const StatsPublisher&) = delete;

  // Appends the stopped sample (bounded by the connect timeout) and joins the thread.
  void stop();

 private:
  void run();
  bool publish(bool stopped);

  ConfigSource config_;
  Snapshot snapshot_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool failing_ = false;  // the last attempt failed (and was logged)
  struct Connection;
  std::unique_ptr<Connection> connection_;
  std::thread thread_;
};

}  // namespace pgdual::cutover
