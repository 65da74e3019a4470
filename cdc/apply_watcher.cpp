// The threads of strategy cdc inside `pgdual run` (see apply_watcher.hpp).

#include "cdc/apply_watcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <optional>
#include <vector>

#include "cdc/health.hpp"
#include "cdc/names.hpp"
#include "cdc/scope.hpp"
#include "libpq/connection.hpp"
#include "libpq/conninfo.hpp"

namespace pgdual::cdc {

namespace {

constexpr std::string_view kApplicationName = "pgdual cdc watch";
// A walsender sends only WAL that is flushed. X may lie past the flush position: the client's
// commit under synchronous_commit = off (flushed by the WAL writer up to wal_writer_delay
// later), or other sessions' transactions still running (flushed by their commits, which under
// cdc.wait: commit wait in turn: a convoy). The watcher then commits a tiny transactional
// message of its own with synchronous_commit on, which flushes the WAL past X at once; the
// publication does not carry it (pgoutput sends messages only when asked, and skips the empty
// transaction). The same moves on a report that stops short of X at a page boundary, tried after
// kNudgeAfter without progress.
constexpr std::chrono::milliseconds kNudgeAfter{100};
constexpr const char* kFlushNudgeSql =
    "SET synchronous_commit TO on; SELECT pg_catalog.pg_logical_emit_message(true, 'pgdual', '')";

// The old store's insert and flush positions and the subscription's reported apply position
// (NULL while its walsender is not connected).
constexpr const char* kPositionsSql =
    "SELECT pg_catalog.pg_current_wal_insert_lsn()::text, "
    "(SELECT replay_lsn::text FROM pg_catalog.pg_stat_replication WHERE application_name = $1 "
    "ORDER BY replay_lsn DESC NULLS LAST LIMIT 1), pg_catalog.pg_current_wal_flush_lsn()::text";

metrics::CdcHealthSample to_sample(const PublisherHealth& pub, const SubscriberHealth& sub) {
  metrics::CdcHealthSample sample;
  auto as_double = [](const std::optional<std::int64_t>& v) -> std::optional<double> {
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  sample.lag_bytes = as_double(pub.lag_bytes);
  sample.lag_seconds = pub.lag_seconds;
  sample.retained_bytes = as_double(pub.retained_bytes);
  sample.safe_wal_bytes = as_double(pub.safe_wal_bytes);
  sample.slot_exists = pub.slot_exists;
  sample.slot_active = pub.slot_active;
  sample.wal_status = pub.wal_status;
  sample.subscription_exists = sub.subscription_exists;
  sample.enabled = sub.enabled;
  sample.worker_running = sub.worker_running;
  sample.apply_errors = static_cast<double>(sub.apply_errors);
  sample.sync_errors = static_cast<double>(sub.sync_errors);
  for (const auto& [state, n] : sub.tables_by_state)
    sample.tables_by_state[state] = static_cast<double>(n);
  sample.ready = pub.publication_exists && pub.slot_exists && sub.subscription_exists &&
                 sub.enabled && sub.tables_not_ready() == 0;
  return sample;
}

}  // namespace

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return {};
  std::uint32_t high = 0, low = 0;
  const char* begin = text.data();
  auto r1 = std::from_chars(begin, begin + slash, high, 16);
  auto r2 = std::from_chars(begin + slash + 1, begin + text.size(), low, 16);
  if (r1.ec != std::errc() || r1.ptr != begin + slash || r2.ec != std::errc() ||
      r2.ptr != begin + text.size()) {
    return {};
  }
  return (static_cast<std::uint64_t>(high) << 32) | low;
}

// One database: its thread, its two connections, its waiters.
class DatabaseWatcher {
 public:
  DatabaseWatcher(std::string database, metrics::CdcMetrics& metrics,
                  ApplyWatcher::ConfigSource config, ApplyWatcher::Ensure ensure)
      : database_(std::move(database)),
        name_(names_for(database_).forward),
        reverse_name_(names_for(database_).reverse),
        metrics_(metrics),
        config_(std::move(config)),
        ensure_(std::move(ensure)) {
    thread_ = std::thread([this] { run(); });
    upkeep_thread_ = std::thread([this] { upkeep(); });
  }
  ~DatabaseWatcher() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cancelled_.store(true);
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (upkeep_thread_.joinable()) upkeep_thread_.join();
  }

  // A reload, or DDL that committed through pgdual: the objects are brought to the scope again
  // and the health is read at once.
  void request_upkeep() {
    std::lock_guard lock(mutex_);
    ensure_due_ = true;
    next_health_ = Clock::now();
    cv_.notify_all();
  }

  std::uint64_t wait(ApplyWatcher::Done done) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_id_++;
    waiters_.emplace(id, Waiter{.done = std::move(done), .target = std::nullopt});
    cv_.notify_all();
    return id;
  }

  bool cancel(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    return waiters_.erase(id) > 0;
  }

  bool ready() const { return ready_.load(); }
  bool known() const { return known_.load(); }
  std::uint64_t health_passes() const { return health_passes_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    ApplyWatcher::Done done;
    std::optional<std::uint64_t> target;  // X, once read after the waiter registered
  };

  void run() {
    for (;;) {
      std::shared_ptr<const config::Config> config;
      bool health_due = false;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, next_health_, [&] { return stopping_ || !waiters_.empty(); });
        if (stopping_) break;
        health_due = Clock::now() >= next_health_;
      }
      config = config_();
      if (!config) continue;
      if (health_due) {
        health_pass(*config);
        health_passes_.fetch_add(1);
        std::lock_guard lock(mutex_);
        next_health_ = Clock::now() + config->migration.cdc.health_interval;
      }
      if (has_waiters()) {
        poll_pass(*config);
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, config->migration.cdc.poll_interval, [&] { return stopping_; });
      }
    }
    finish_all(metrics::CdcWaitOutcome::timeout);
  }

  bool has_waiters() {
    std::lock_guard lock(mutex_);
    return !waiters_.empty();
  }

  bool connect(pg::Link& link, const config::BackendConfig& backend, std::string& error) {
    const std::string conninfo =
        pg::libpq_conninfo(backend, backend.dbname.value_or(database_), kApplicationName);
    return link.ensure(conninfo, ApplyWatcher::kConnectTimeout, cancelled_fn_, error);
  }

  // The ensure step on a thread of its own: it may wait for another instance's advisory lock
  // or a slow CREATE SUBSCRIPTION, which must not hold up the commit waits.
  void upkeep() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, next_ensure_, [&] { return stopping_ || ensure_due_; });
        if (stopping_) return;
        if (!ensure_due_ && ready_.load()) {
          next_ensure_ = Clock::now() + ApplyWatcher::kEnsureInterval;
          continue;
        }
        ensure_due_ = false;
        next_ensure_ = Clock::now() + ApplyWatcher::kEnsureInterval;
      }
      const auto config = config_();
      if (!config || !config->migration.cdc.manage || !ensure_) continue;
      // After cutover the objects change only by pgdual cdc cutover and rollback, which need
      // the writes paused.
      const auto phase = database_phase(config->migration, database_);
      if (phase == config::Phase::cutover || phase == config::Phase::cleanup) continue;
      const std::string failure = ensure_(*config, database_, cancelled_fn_);
      std::lock_guard lock(mutex_);
      if (!failure.empty()) {
        metrics_.count_health_error(database_);
        if (failure != last_upkeep_error_) {
          spdlog::warn(
              "cdc: setting up replication failed for database {}: {} "
              "(pgdual_cdc_health_errors_total)",
              database_, failure);
        }
      }
      last_upkeep_error_ = failure;
      next_health_ = Clock::now();  // show the outcome at once
      cv_.notify_all();
    }
  }

  // Which way the database's rows flow: old -> new until its phase is cutover, then back
  // (cdc/switch.hpp turns it around).
  struct Route {
    pg::Link& publisher;
    const config::BackendConfig& publisher_backend;
    pg::Link& subscriber;
    const config::BackendConfig& subscriber_backend;
    const std::string& name;
  };

  Route route(const config::Config& config) {
    const auto phase = database_phase(config.migration, database_);
    if (phase == config::Phase::cutover || phase == config::Phase::cleanup) {
      return {new_, config.new_backend, old_, config.old_backend, reverse_name_};
    }
    return {old_, config.old_backend, new_, config.new_backend, name_};
  }

  void health_pass(const config::Config& config) {
    std::string error;
    PublisherHealth pub;
    SubscriberHealth sub;
    const Route r = route(config);
    const bool read = connect(r.publisher, r.publisher_backend, error) &&
                      read_publisher_health(r.publisher.get(), r.name, pub, error) &&
                      connect(r.subscriber, r.subscriber_backend, error) &&
                      read_subscriber_health(r.subscriber.get(), r.name, sub, error);
    known_.store(true);
    if (!read) {
      r.publisher.reset();
      r.subscriber.reset();
      ready_.store(false);
      metrics_.count_health_error(database_);
      metrics_.set_ready(database_, false);
      log_once("reading replication health", error);
      return;
    }
    const auto sample = to_sample(pub, sub);
    ready_.store(sample.ready);
    metrics_.publish(database_, sample);
    if (sample.ready) last_error_.clear();
  }

  void poll_pass(const config::Config& config) {
    if (!ready_.load()) {
      finish_all(metrics::CdcWaitOutcome::not_ready);
      return;
    }
    std::vector<std::uint64_t> batch;  // registered before the query: X covers their commits
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, waiter] : waiters_) {
        if (!waiter.target) batch.push_back(id);
      }
    }
    std::string error;
    const Route r = route(config);
    if (!connect(r.publisher, r.publisher_backend, error)) {
      log_once("reading the apply position", error);
      return;  // the waiters time out in their sessions
    }
    const auto reply = run_query(r.publisher.get(), kPositionsSql, {r.name}, cancelled_fn_);
    if (!reply.ok || reply.rows() != 1) {
      if (reply.broken) r.publisher.reset();
      log_once("reading the apply position", reply.error);
      return;
    }
    const auto insert = parse_lsn(reply.value(0, 0));
    const auto applied = parse_lsn(reply.value(0, 1));
    const auto flushed = parse_lsn(reply.value(0, 2));
    if (!insert) return;
    std::vector<ApplyWatcher::Done> done;
    bool waiting = false;
    std::uint64_t highest_target = 0;
    {
      std::lock_guard lock(mutex_);
      for (auto id : batch) {
        auto it = waiters_.find(id);
        if (it != waiters_.end()) it->second.target = *insert;
      }
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.target && applied && *applied >= *it->second.target) {
          done.push_back(std::move(it->second.done));
          it = waiters_.erase(it);
        } else {
          waiting = true;
          if (it->second.target) highest_target = std::max(highest_target, *it->second.target);
          ++it;
        }
      }
    }
    for (auto& callback : done) callback(metrics::CdcWaitOutcome::applied);
    bool nudge = waiting && flushed && *flushed < highest_target;
    if (applied && (!last_applied_ || *applied != *last_applied_)) {
      last_applied_ = applied;
      last_progress_ = Clock::now();
    } else if (waiting && Clock::now() - last_progress_ >= kNudgeAfter) {
      last_progress_ = Clock::now();
      nudge = true;
    }
    if (nudge) pg::exec(r.publisher.get(), kFlushNudgeSql, cancelled_fn_);
  }

  void finish_all(metrics::CdcWaitOutcome outcome) {
    std::vector<ApplyWatcher::Done> done;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, waiter] : waiters_) done.push_back(std::move(waiter.done));
      waiters_.clear();
    }
    for (auto& callback : done) callback(outcome);
  }

  // Once per distinct failure: a store that stays down must not flood the log.
  void log_once(std::string_view what, const std::string& error) {
    if (error == last_error_) return;
    last_error_ = error;
    spdlog::warn("cdc: {} failed for database {}: {} (pgdual_cdc_health_errors_total)", what,
                 database_, error);
  }

  const std::string database_;
  const std::string name_;
  const std::string reverse_name_;
  metrics::CdcMetrics& metrics_;
  ApplyWatcher::ConfigSource config_;
  ApplyWatcher::Ensure ensure_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Waiter> waiters_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool ensure_due_ = true;
  Clock::time_point next_health_ = Clock::now();
  Clock::time_point next_ensure_ = Clock::now();
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> ready_{false};
  std::atomic<std::uint64_t> health_passes_{0};
  std::atomic<bool> known_{false};  // one health read happened
  const pg::Cancelled cancelled_fn_ = [this] { return cancelled_.load(); };

  // The thread's own.
  pg::Link old_, new_;
  std::string last_error_;
  std::string last_upkeep_error_;  // the upkeep thread's own
  std::thread upkeep_thread_;
  std::optional<std::uint64_t> last_applied_;
  Clock::time_point last_progress_ = Clock::now();
  std::thread thread_;
};

ApplyWatcher::ApplyWatcher(metrics::CdcMetrics& metrics, ConfigSource config, Ensure ensure)
    : metrics_(metrics), config_(std::move(config)), ensure_(std::move(ensure)) {}

ApplyWatcher::~ApplyWatcher() { stop(); }

DatabaseWatcher& ApplyWatcher::watcher(const std::string& database) {
  std::lock_guard lock(mutex_);
  auto& slot = watchers_[database];
  if (!slot) slot = std::make_unique<DatabaseWatcher>(database, metrics_, config_, ensure_);
  return *slot;
}

void ApplyWatcher::note_database(const std::string& database) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
  }
  watcher(database);
}

void ApplyWatcher::config_changed() {
  std::lock_guard lock(mutex_);
  for (auto& [name, w] : watchers_) w->request_upkeep();
}

bool ApplyWatcher::recheck_ready(std::chrono::milliseconds timeout) {
  std::vector<std::pair<DatabaseWatcher*, std::uint64_t>> checks;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, w] : watchers_) {
      checks.emplace_back(w.get(), w->health_passes());
      w->request_upkeep();  // reads the health at once
    }
  }
  // The watchers live until stop(), which the caller does not run meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (const auto& [w, before] : checks) {
      if (w->health_passes() <= before || !w->ready()) all = false;
    }
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ApplyWatcher::request_upkeep(const std::string& database) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(database);
  if (it != watchers_.end()) it->second->request_upkeep();
}

std::uint64_t ApplyWatcher::wait_applied(const std::string& database, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      done(metrics::CdcWaitOutcome::timeout);
      return 0;
    }
  }
  return watcher(database).wait(std::move(done));
}

bool ApplyWatcher::cancel(const std::string& database, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(database);
  return it != watchers_.end() && it->second->cancel(id);
}

bool ApplyWatcher::known(const std::string& database) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(database);
  return it != watchers_.end() && it->second->known();
}

bool ApplyWatcher::ready(const std::string& database) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(database);
  return it != watchers_.end() && it->second->ready();
}

void ApplyWatcher::stop() {
  std::map<std::string, std::unique_ptr<DatabaseWatcher>> watchers;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    watchers.swap(watchers_);
  }
  watchers.clear();  // each destructor stops and joins its thread
}

}  // namespace pgdual::cdc
