#pragma once
// State shared by every worker: the config in force (swapped whole on
// reload), metrics, the cancel registry and the connection count. Sessions
// take a snapshot of the config when they start and at transaction
// boundaries, so a reload never changes anything under a running statement.

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "cdc/apply_watcher.hpp"
#include "config/config.hpp"
#include "cutover/fleet_agent.hpp"
#include "cutover/stats_publisher.hpp"
#include "cutover/status_watch.hpp"
#include "journal/retry_queue.hpp"
#include "journal/service.hpp"
#include "metrics/metrics.hpp"
#include "proxy/auth/user_directory.hpp"
#include "proxy/net/cancel_registry.hpp"
#include "proxy/server/fleet_hold.hpp"
#include "proxy/shadow/result_capture.hpp"
#include "routing/classify/catalog_cache.hpp"
#include "routing/classify/statement_classifier.hpp"
#include "routing/commit_horizon.hpp"
#include "routing/mapping/schema_mapping.hpp"

namespace pgdual::proxy {

struct RuntimeConfig {
  config::Config config;
  UserDirectory users;
  std::shared_ptr<boost::asio::ssl::context> old_tls;  // null: sslmode disable
  std::shared_ptr<boost::asio::ssl::context> new_tls;
  routing::ClassifierOptions
      classifier_options;              // from migration.write_functions / read_only_functions
  shadow::CompareRules compare_rules;  // from migration.shadow_read
  routing::SchemaMapping mapping;      // from migration.mapping
};

// Builds the derived parts (SCRAM secrets, backend TLS contexts); nullptr
// with error set when a certificate cannot be loaded.
std::shared_ptr<const RuntimeConfig> make_runtime_config(config::Config config, std::string& error);

class Runtime {
 public:
  Runtime(metrics::Metrics& metrics, std::shared_ptr<const RuntimeConfig> config,
          std::shared_ptr<boost::asio::ssl::context> server_tls)
      : metrics_(metrics),
        retry_queue_(metrics, kRetryQueueCapacity),
        server_tls_(std::move(server_tls)),
        config_(std::move(config)),
        cdc_(std::make_unique<cdc::ApplyWatcher>(
            metrics.cdc(), [this] { return journal_config(); }, cdc_ensure())),
        journal_(std::make_unique<journal::JournalService>(metrics,
                                                           [this] { return journal_config(); })) {}
  // How the cdc watcher creates and updates the replication objects (cdc/setup.hpp).
  static cdc::ApplyWatcher::Ensure cdc_ensure();

  static constexpr std::size_t kRetryQueueCapacity = 100000;

  std::shared_ptr<const RuntimeConfig> config() const { return config_.load(); }
  // The journal reads plain config (it knows nothing of the proxy's derived parts): an aliasing
  // pointer that keeps the whole snapshot alive.
  std::shared_ptr<const config::Config> journal_config() const {
    auto snapshot = config();
    if (!snapshot) return nullptr;
    return std::shared_ptr<const config::Config>(snapshot, &snapshot->config);
  }
  void set_config(std::shared_ptr<const RuntimeConfig> config) { config_.store(std::move(config)); }

  metrics::Metrics& metrics() { return metrics_; }
  CancelRegistry& cancels() { return cancels_; }
  journal::RetryQueue& retry_queue() { return retry_queue_; }
  routing::CatalogCache& catalogs() { return catalogs_; }
  // The commit order of one database's sessions (routing/commit_horizon.hpp).
  std::shared_ptr<routing::CommitHorizon> commit_horizon(const std::string& database) {
    std::lock_guard lock(commit_horizons_mutex_);
    auto& horizon = commit_horizons_[database];
    if (!horizon) horizon = std::make_shared<routing::CommitHorizon>();
    return horizon;
  }
  // Strategy cdc: replication health and the commit waits (cdc/apply_watcher.hpp).
  cdc::ApplyWatcher& cdc() { return *cdc_; }
  // Started by the server; sessions append to it and consult its gate.
  journal::JournalService& journal() { return *journal_; }
  // This instance's samples for the fleet's cutover gate (cutover/stats_publisher.hpp): started
  // and stopped by the server.
  void start_gate_samples();
  void stop_gate_samples();
  // This instance's name in the fleet's tables: the journal's instance and the process id.
  std::string instance_name() const;
  // Under fleet coordination: the member's side of a fleet flip (cutover/fleet_agent.hpp).
  // The server gives the hook that applies an assignment; the others are the runtime's own.
  void start_fleet_agent(std::function<bool(const config::PhaseAssignment&)> apply);
  void stop_fleet_agent();
  cutover::FleetAgent* fleet_agent() { return fleet_agent_.get(); }
  FleetHold& fleet() { return fleet_; }
  // The control-plane half of the status (cutover/status_watch.hpp): started and stopped by the
  // server; null before the start.
  void start_status_watch();
  void stop_status_watch();
  cutover::StatusWatch* status_watch() { return status_watch_.get(); }
  // The admin console's RELOAD: starts the server's reload on the control thread and returns
  // where its outcome will be ("" when the new config applied, else why not); null when the
  // server is stopping. Callable from any thread.
  struct ReloadResult {
    std::atomic<bool> done{false};
    std::string error;  // written before `done`
  };
  using ReloadHook = std::function<std::shared_ptr<ReloadResult>()>;
  void set_reload_hook(ReloadHook hook) { reload_hook_ = std::move(hook); }
  const ReloadHook& reload_hook() const { return reload_hook_; }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }
  // The databases this instance's sessions have used since it started.
  void note_database(const std::string& database) {
    std::lock_guard lock(databases_mutex_);
    databases_.insert(database);
  }
  std::set<std::string> databases() const {
    std::lock_guard lock(databases_mutex_);
    return databases_;
  }
  std::vector<std::string> database_list() const {
    const auto seen = databases();
    return {seen.begin(), seen.end()};
  }
  boost::asio::ssl::context* server_tls() { return server_tls_.get(); }

  std::atomic<std::size_t>& client_count() { return client_count_; }
  // Shadow reads in flight on every session (migration.shadow_read.max_concurrent).
  std::atomic<std::size_t>& shadow_reads_in_flight() { return shadow_reads_in_flight_; }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  void start_draining() { draining_.store(true); }

 private:
  metrics::Metrics& metrics_;
  CancelRegistry cancels_;
  journal::RetryQueue retry_queue_;
  routing::CatalogCache catalogs_;
  std::mutex commit_horizons_mutex_;
  std::map<std::string, std::shared_ptr<routing::CommitHorizon>> commit_horizons_;
  std::shared_ptr<boost::asio::ssl::context> server_tls_;
  std::atomic<std::shared_ptr<const RuntimeConfig>> config_;
  std::atomic<std::size_t> client_count_{0};
  std::atomic<std::size_t> shadow_reads_in_flight_{0};
  std::atomic<bool> draining_{false};
  FleetHold fleet_;
  std::unique_ptr<cdc::ApplyWatcher> cdc_;
  mutable std::mutex databases_mutex_;
  std::set<std::string> databases_;
  ReloadHook reload_hook_;
  std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
  std::unique_ptr<journal::JournalService> journal_;  // its threads read the members above
  // Last, so destroyed first: their threads read journal_ and the members above.
  std::unique_ptr<cutover::StatsPublisher> gate_samples_;
  std::unique_ptr<cutover::FleetAgent> fleet_agent_;
  std::unique_ptr<cutover::StatusWatch> status_watch_;
};

}  // namespace pgdual::proxy
