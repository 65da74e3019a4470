#include "cutover/status_watch.hpp"

#include <spdlog/spdlog.h>

namespace pgdual::cutover {

StatusWatch::StatusWatch(ConfigSource config, Databases databases, metrics::StatusMetrics& metrics)
    : config_(std::move(config)),
      databases_(std::move(databases)),
      metrics_(metrics),
      started_(std::chrono::steady_clock::now()),
      thread_([this] { run(); }) {}

StatusWatch::~StatusWatch() { stop(); }

void StatusWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const StatusLook> StatusWatch::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void StatusWatch::request_fresh() {
  {
    std::lock_guard lock(mutex_);
    if (looking_ || stopping_) return;
    if (last_ && std::chrono::system_clock::now() - last_->taken < kFreshEnough) return;
    requested_ = true;
  }
  wake_.notify_all();
}

void StatusWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto config = config_();
    const auto interval = config ? config->admin.status_interval : std::chrono::milliseconds(0);
    // The first look once this instance has published its first sample (StatsPublisher), then
    // every interval (0: only on request).
    const bool first_due =
        looks_started_ == 0 && std::chrono::steady_clock::now() - started_ >= kFirstLookDelay;
    const bool due = requested_ || (interval.count() > 0 && first_due) ||
                     (interval.count() > 0 && last_ &&
                      std::chrono::system_clock::now() - last_->taken >= interval);
    if (!due) {
      const auto wait = interval.count() > 0 ? std::chrono::milliseconds(1000) : interval.max();
      // Woken by a request or stop; with an interval, re-checked every second (the interval may
      // change on reload).
      if (interval.count() > 0) {
        wake_.wait_for(lock, wait, [this] { return stopping_ || requested_; });
      } else {
        wake_.wait(lock, [this] { return stopping_ || requested_; });
      }
      continue;
    }
    requested_ = false;
    looking_ = true;
    ++looks_started_;
    lock.unlock();
    look();
    lock.lock();
    looking_ = false;
  }
}

void StatusWatch::look() {
  const auto config = config_();
  if (!config) return;
  const auto started = std::chrono::steady_clock::now();
  auto result = std::make_shared<StatusLook>();
  const auto cancelled = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  try {
    result->gate = evaluate_gate(*config, databases_(), cancelled);
  } catch (const std::exception& e) {
    result->gate.error = e.what();
  }
  result->taken = std::chrono::system_clock::now();
  result->duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result->gate.error.empty()) {
    // The page and pgdual_cutover_ready show it; a log line per look would flood.
    spdlog::debug("status watch: {}", result->gate.error);
  }

  std::vector<metrics::StatusMetrics::CriterionState> criteria;
  for (const auto& c : result->gate.criteria) criteria.push_back({c.name, c.database, c.ok});
  metrics_.set_cutover(result->gate.ok(), criteria);
  std::vector<metrics::StatusMetrics::InstanceAge> instances;
  for (const auto& m : result->gate.members) {
    if (!m.stopped && m.age_seconds <= fresh_sample_seconds()) {
      instances.push_back({m.instance, m.phase, m.age_seconds});
    }
  }
  metrics_.set_instances(instances);

  std::lock_guard lock(mutex_);
  last_ = std::move(result);
}

}  // namespace pgdual::cutover
