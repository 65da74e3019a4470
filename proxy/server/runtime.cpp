#include "proxy/server/runtime.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "cdc/setup.hpp"
#include "proxy/net/tls_contexts.hpp"

namespace pgdual::proxy {

std::shared_ptr<const RuntimeConfig> make_runtime_config(config::Config config,
                                                         std::string& error) {
  auto old_tls = make_backend_tls_context(config.old_backend, error);
  if (!error.empty()) {
    error = "backends.old." + error;
    return nullptr;
  }
  auto new_tls = make_backend_tls_context(config.new_backend, error);
  if (!error.empty()) {
    error = "backends.new." + error;
    return nullptr;
  }
  UserDirectory users(config.auth);
  routing::ClassifierOptions options{config.migration.write_functions,
                                     config.migration.read_only_functions};
  const auto& shadow_read = config.migration.shadow_read;
  shadow::CompareRules rules;
  rules.ignore_columns = shadow_read.ignore_columns;
  rules.float_tolerance = shadow_read.float_tolerance;
  rules.timestamp_precision = static_cast<int>(shadow_read.timestamp_precision);
  rules.max_buffered_bytes = shadow_read.max_buffered_bytes;
  rules.max_detail_rows = shadow_read.max_detail_rows;
  routing::SchemaMapping mapping(config.migration.mapping);
  return std::make_shared<const RuntimeConfig>(
      RuntimeConfig{std::move(config), std::move(users), std::move(old_tls), std::move(new_tls),
                    std::move(options), std::move(rules), std::move(mapping)});
}

}  // namespace pgdual::proxy

namespace pgdual::proxy {

cdc::ApplyWatcher::Ensure Runtime::cdc_ensure() {
  return [](const config::Config& config, const std::string& database,
            const pg::Cancelled& cancelled) -> std::string {
    const auto result = cdc::ensure_replication(config, database, cancelled);
    if (result.ok) {
      for (const auto& action : result.actions)
        spdlog::info("cdc: database {}: {}", database, action);
      return {};
    }
    return result.error.empty() ? std::string("setup refused") : result.error;
  };
}

void Runtime::start_gate_samples() {
  gate_samples_ = std::make_unique<cutover::StatsPublisher>(
      [this] { return journal_config(); },
      [this] {
        cutover::InstanceSample sample;
        // The journal's instance name survives restarts (it owns a file journal); a sample
        // names the process, so that two instances on one host, or a restarted one, count apart.
        sample.instance = instance_name();
        const auto config = journal_config();
        sample.phase = std::string(config::to_string(config->migration.phase));
        if (!config->migration.journal.enabled) {
          sample.journal_depth = 0;
        } else if (const auto status = journal_->status(); status.known) {
          sample.journal_depth = static_cast<std::int64_t>(status.records);
        }
        auto& counters = sample.counters;
        counters.shadow_compared = metrics_.shadow().compared_total();
        counters.shadow_matched = metrics_.shadow().matched_total();
        const auto& secondary = metrics_.backend(metrics::BackendRole::new_backend);
        counters.secondary_writes_ok = static_cast<std::uint64_t>(secondary.writes_ok->Value());
        counters.secondary_writes_failed =
            static_cast<std::uint64_t>(secondary.writes_error->Value());
        const auto& latency = metrics_.cutover().write_latency();
        counters.client_latency = latency.client_counts();
        counters.primary_latency = latency.primary_counts();
        return sample;
      });
}

void Runtime::stop_gate_samples() {
  if (gate_samples_) gate_samples_->stop();
}

void Runtime::start_status_watch() {
  status_watch_ = std::make_unique<cutover::StatusWatch>(
      [this] { return journal_config(); }, [this] { return database_list(); }, metrics_.status());
}

void Runtime::stop_status_watch() {
  if (status_watch_) status_watch_->stop();
}

std::string Runtime::instance_name() const {
  // The journal's instance name survives restarts (it owns a file journal); the fleet's tables
  // name the process, so that two instances on one host, or a restarted one, count apart.
  return journal_->instance() + ":" + std::to_string(::getpid());
}

void Runtime::start_fleet_agent(std::function<bool(const config::PhaseAssignment&)> apply) {
  cutover::FleetHooks hooks;
  hooks.set_paused = [this](bool paused) {
    fleet_.set_paused(paused);
    metrics_.cutover().set_paused(paused);
  };
  hooks.drained = [this] {
    // Nothing in flight, nothing the secondary still owes, the journal empty.
    if (fleet_.busy() != 0) return false;
    if (metrics_.secondary_lag_statements().Value() > 0) return false;
    const auto config = journal_config();
    if (!config->migration.journal.enabled) return true;
    const auto status = journal_->status();
    return status.known && status.records == 0;
  };
  hooks.apply = std::move(apply);
  hooks.databases = [this] { return database_list(); };
  hooks.replication_ready = [this] {
    const auto config = journal_config();
    if (config->migration.strategy != config::Strategy::cdc) return true;
    for (const auto& database : databases()) {
      if (!cdc_->ready(database)) return false;
    }
    return true;
  };
  hooks.settled = [this] {
    const auto config = journal_config();
    if (config->migration.strategy != config::Strategy::cdc) return true;
    return cdc_->recheck_ready(config->migration.cutover.pause_timeout);
  };
  hooks.set_fenced = [this](std::optional<std::string> reason) {
    metrics_.cutover().set_writes_fenced(reason.has_value());
    fleet_.set_fenced(std::move(reason));
  };
  if (journal_config()->migration.cutover.coordination == config::Coordination::fleet) {
    // No write before this instance knows the fleet's primary (the agent lifts it).
    hooks.set_fenced(cutover::FleetAgent::kNotReadYet);
  }
  fleet_agent_ = std::make_unique<cutover::FleetAgent>(
      instance_name(), [this] { return journal_config(); }, std::move(hooks));
}

void Runtime::stop_fleet_agent() {
  if (fleet_agent_) fleet_agent_->stop();
}

}  // namespace pgdual::proxy
