#include "proxy/server/server.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <future>
#include <sstream>

#include "config/describe.hpp"
#include "config/loader.hpp"
#include "cutover/fleet_flip.hpp"
#include "proxy/net/tls_contexts.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/server/cutover_gate.hpp"
#include "proxy/server/file_limit.hpp"
#include "proxy/server/logging.hpp"
#include "proxy/server/runtime_status.hpp"
#include "proxy/server/worker_count.hpp"
#include "proxy/session/client_session.hpp"
#include "routing/phase_rules.hpp"
#include "routing/primary_changes.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kConfigPollInterval = std::chrono::seconds(1);
constexpr auto kGateRetry = std::chrono::seconds(10);
// The fleet agent waits this long for the control loop to apply an assignment.
constexpr auto kApplyTimeout = std::chrono::seconds(2);

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}
}  // namespace

Server::Server(config::Config config, std::string config_path)
    : config_path_(std::move(config_path)),
      initial_config_(std::move(config)),
      metrics_(PGDUAL_VERSION),
      acceptor_(control_) {}

Server::~Server() {
  stop_workers();
  // A pending accept owns a socket of a worker's io_context, and control_ is destroyed after
  // the workers: let the closed acceptor's aborted accept complete now (its coroutine ends)
  // rather than leave it to be destroyed with control_ after its worker is gone.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  if (signals_) signals_->cancel(ignored);  // ends signal_loop the same way
  control_.restart();
  control_.poll();
}

int Server::run() {
  configure_logging(initial_config_.log);
  std::string error;
  std::shared_ptr<asio::ssl::context> server_tls;
  if (initial_config_.tls) {
    server_tls = make_server_tls_context(*initial_config_.tls, error);
    if (!server_tls) {
      spdlog::critical("{}", error);
      return 1;
    }
  }
  auto runtime_config = make_runtime_config(initial_config_, error);
  if (!runtime_config) {
    spdlog::critical("{}", error);
    return 1;
  }
  runtime_ = std::make_unique<Runtime>(metrics_, runtime_config, server_tls);
  metrics_.config_last_reload_success_timestamp().SetToCurrentTime();
  runtime_->journal().start();
  runtime_->start_gate_samples();
  runtime_->start_status_watch();
  runtime_->set_reload_hook([this] { return start_console_reload(); });

  probe_ = std::make_unique<BackendProbe>(control_, metrics_);
  probe_->set_targets(initial_config_.old_backend.host, initial_config_.old_backend.port,
                      initial_config_.new_backend.host, initial_config_.new_backend.port);
  publish_phase(initial_config_.migration);
  probe_->start();
  admin_ = std::make_unique<AdminServer>(control_, metrics_,
                                         [this] { return probe_->readiness(config_valid_); });
  admin_->set_status([this] { return current_status(*runtime_); });
  if (auto ec = admin_->listen(initial_config_.admin_host, initial_config_.admin_port)) {
    spdlog::critical("cannot listen on admin address {}:{}: {}", initial_config_.admin_host,
                     initial_config_.admin_port, ec.message());
    return 1;
  }
  spdlog::info("admin endpoints (/metrics /healthz /readyz /status) listening on {}:{}",
               initial_config_.admin_host, admin_->port());
  runtime_->start_fleet_agent([this](const config::PhaseAssignment& assignment) {
    return apply_fleet_assignment(assignment);
  });
  // On every way out of run(), before the members its hooks use (probe_, control_) go.
  struct StopAgent {
    Runtime& runtime;
    ~StopAgent() { runtime.stop_fleet_agent(); }
  } stop_agent{*runtime_};
  if (initial_config_.migration.cutover.coordination == config::Coordination::fleet) {
    // No client before this instance knows its primary: the fleet's, or its own as the
    // fleet's first. Past the bound it listens with writes refused until the agent can tell.
    if (!runtime_->fleet_agent()->wait_known(initial_config_.old_backend.connect_timeout +
                                             std::chrono::seconds(1))) {
      spdlog::error("writes refused until the fleet's control state on the old store is read");
    }
  }
  raise_open_files();
  start_workers();
  if (!start_listening()) return 1;

  asio::co_spawn(control_, accept_loop(), asio::detached);
  if (!config_path_.empty()) asio::co_spawn(control_, watch_config_file(), asio::detached);
  wait_for_signals();
  {
    std::lock_guard lock(assignment_mutex_);
    control_running_ = true;  // from now on the agent's assignments go through the loop
  }
  control_.run();
  stop_workers();
  runtime_->stop_fleet_agent();
  // After the sessions: their last appends complete first. A stop is clean (nothing queued
  // under async was dropped) only when every session ended on its own before the drain timeout.
  runtime_->stop_gate_samples();
  runtime_->stop_status_watch();
  runtime_->journal().stop(!drain_timed_out_);
  runtime_->cdc().stop();
  spdlog::info("pgdual stopped");
  return 0;
}

bool Server::start_listening() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(initial_config_.listen_host, ec);
  if (ec) {
    tcp::resolver resolver(control_);
    auto results = resolver.resolve(initial_config_.listen_host, "", ec);
    if (ec || results.empty()) {
      spdlog::critical("cannot resolve listen host {}: {}", initial_config_.listen_host,
                       ec.message());
      return false;
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, initial_config_.listen_port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::critical("cannot listen on {}:{}: {}", initial_config_.listen_host,
                     initial_config_.listen_port, ec.message());
    return false;
  }
  spdlog::info("pgdual {} listening on {}:{} (phase {}, {} workers)", PGDUAL_VERSION,
               initial_config_.listen_host, acceptor_.local_endpoint().port(),
               config::to_string(initial_config_.migration.phase), workers_.size());
  return true;
}

void Server::raise_open_files() {
  const std::uint64_t needed = descriptors_needed(initial_config_.limits.max_client_connections);
  const FileLimit limit = raise_file_limit(needed);
  if (!limit.known) return;
  if (limit.now < needed) {
    spdlog::warn(
        "open-file limit {} (as far as it could be raised) is below the {} that limits."
        "max_client_connections {} may need (a client and up to two backends each): sessions "
        "beyond it fail to connect; raise the hard limit (ulimit -Hn, the container's nofile)",
        limit.now, needed, initial_config_.limits.max_client_connections);
  } else if (limit.now != limit.before) {
    spdlog::info("open-file limit raised from {} to {} for limits.max_client_connections {}",
                 limit.before, limit.now, initial_config_.limits.max_client_connections);
  }
}

void Server::start_workers() {
  unsigned count = initial_config_.workers;
  if (count == 0) count = default_workers(usable_cpus());
  for (unsigned i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<asio::io_context>(1));
  }
  for (auto& worker : workers_) {
    worker_threads_.emplace_back([context = worker.get()] {
      auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
}

void Server::stop_workers() {
  for (auto& worker : workers_) worker->stop();
  for (auto& thread : worker_threads_) {
    if (thread.joinable()) thread.join();
  }
  worker_threads_.clear();
}

void Server::track(const std::shared_ptr<ClientSession>& session, Executor executor) {
  std::lock_guard lock(sessions_mutex_);
  // Forget sessions that ended, so the list stays as long as the live ones.
  sessions_.remove_if([](const auto& entry) { return entry.first.expired(); });
  sessions_.emplace_back(session, executor);
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    auto& worker = *workers_[next_worker_++ % workers_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(worker, use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      // Out of file descriptors and the like: back off instead of spinning.
      asio::steady_timer pause(control_, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto session = std::make_shared<ClientSession>(std::move(socket), *runtime_);
    track(session, worker.get_executor());
    asio::co_spawn(
        worker, [session]() -> asio::awaitable<void> { co_await session->run(); }, asio::detached);
  }
}

void Server::wait_for_signals() {
  signals_ = std::make_unique<asio::signal_set>(control_, SIGINT, SIGTERM, SIGHUP);
  asio::co_spawn(control_, signal_loop(), asio::detached);
}

asio::awaitable<void> Server::signal_loop() {
  for (;;) {
    auto [ec, signal] = co_await signals_->async_wait(use_tuple);
    if (ec) co_return;  // cancelled: the server is going away
    if (signal == SIGHUP) {
      // Not awaited: a reload may wait for the cutover gate, and SIGTERM must still be heard.
      asio::co_spawn(control_, reload("SIGHUP"), asio::detached);
    } else if (!stopping_) {
      spdlog::info("received signal {}: draining sessions", signal);
      asio::co_spawn(control_, drain_and_stop(), asio::detached);
    }
  }
}

asio::awaitable<void> Server::drain_and_stop() {
  stopping_ = true;
  runtime_->start_draining();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& [weak, executor] : sessions_) {
      if (auto session = weak.lock()) {
        asio::post(executor, [session] { session->request_drain(); });
      }
    }
  }
  const auto deadline =
      std::chrono::steady_clock::now() + runtime_->config()->config.limits.drain_timeout;
  asio::steady_timer tick(control_);
  while (runtime_->client_count().load() > 0 && std::chrono::steady_clock::now() < deadline) {
    metrics_.sessions_draining().Set(static_cast<double>(runtime_->client_count().load()));
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(use_tuple);
  }
  if (runtime_->client_count().load() > 0) {
    drain_timed_out_ = true;
    spdlog::warn("drain timeout: closing {} sessions still in a transaction",
                 runtime_->client_count().load());
  }
  admin_->stop();
  probe_->stop();
  control_.stop();
}

asio::awaitable<void> Server::watch_config_file() {
  // Polling the content (not inotify) also sees Kubernetes ConfigMap updates,
  // which swap a symlink rather than write the file.
  std::string last = read_file(config_path_);
  asio::steady_timer timer(control_);
  while (!stopping_) {
    timer.expires_after(kConfigPollInterval);
    co_await timer.async_wait(use_tuple);
    std::string current = read_file(config_path_);
    if (current != last) {
      last = std::move(current);
      co_await reload("file change");
    } else if (gate_pending_ && std::chrono::steady_clock::now() - gate_checked_ >= kGateRetry) {
      co_await reload("cutover gate retry");
    }
  }
}

void Server::publish_phase(const config::MigrationConfig& migration) {
  // The gauge of the active phase per scope (the spec's "feature flag state
  // per tenant/entity"), and which backend /readyz requires.
  std::vector<metrics::PhaseInfo> phases;
  phases.push_back({"default", "", std::string(config::to_string(migration.phase))});
  for (const auto& [table, phase] : migration.tables) {
    phases.push_back({"table", table, std::string(config::to_string(phase))});
  }
  for (const auto& rule : migration.tenants) {
    phases.push_back(
        {"tenant", config::describe_match(rule.match), std::string(config::to_string(rule.phase))});
  }
  metrics_.set_phase_info(std::move(phases));
  const auto roles = routing::roles_for(migration.phase, migration.keep_old_in_sync);
  probe_->set_primary(roles.primary == routing::Store::old_store
                          ? metrics::BackendRole::old_backend
                          : metrics::BackendRole::new_backend);
}

std::optional<std::string> Server::mapping_rollback_refusal(
    const config::MigrationConfig& running, const config::MigrationConfig& next) const {
  // Since cutover the clients have read the new store's values: through a mapping without a
  // lossless inverse those are not what the old store holds, and going back would change them
  // under the clients (docs/schema-mapping.md, "Rollback").
  const auto before = routing::roles_for(running.phase, running.keep_old_in_sync);
  const auto after = routing::roles_for(next.phase, next.keep_old_in_sync);
  if (before.primary != routing::Store::new_store || after.primary != routing::Store::old_store ||
      running.mapping.empty() || next.mapping.rollback == config::MappingRollback::allow) {
    return std::nullopt;
  }
  if (!mapping_lossy_columns_) {
    return std::string(
        "rollback of cutover refused: whether migration.mapping loses information is not known "
        "(the start-up check could not read the catalogs); set migration.mapping.rollback: "
        "allow to accept it");
  }
  if (mapping_lossy_columns_->empty()) return std::nullopt;
  return fmt::format(
      "rollback of cutover refused: column(s) {} are mapped without a lossless inverse (clients "
      "have read the new store's values since cutover); set migration.mapping.rollback: allow "
      "to accept that",
      fmt::join(*mapping_lossy_columns_, ", "));
}

std::optional<std::string> Server::primary_switch_refusal(const config::MigrationConfig& running,
                                                          const config::MigrationConfig& next) {
  if (auto refusal = mapping_rollback_refusal(running, next)) return refusal;
  // Cutover and its reversal move the primary to the other store. The journal lives on the
  // primary and holds what the other store has not received yet: switching before it is
  // drained would leave those writes behind on the store that stops being written first.
  const auto before = routing::roles_for(running.phase, running.keep_old_in_sync);
  const auto after = routing::roles_for(next.phase, next.keep_old_in_sync);
  if (before.primary == after.primary || !running.journal.enabled) return std::nullopt;
  const auto status = runtime_->journal().status();
  const char* target = after.primary == routing::Store::old_store ? "old" : "new";
  if (!status.known) {
    return fmt::format(
        "phase {} makes the {} store primary, but the journal's depth is not known yet "
        "(the relay has not reached the primary); try again once "
        "pgdual_journal_depth_records is 0",
        config::to_string(next.phase), target);
  }
  if (status.records > 0) {
    return fmt::format(
        "phase {} makes the {} store primary, but the journal still holds {} "
        "transaction(s) the {} store has not received; the switch is refused until the "
        "journal is drained (pgdual_journal_depth_records 0)",
        config::to_string(next.phase), target, status.records,
        after.primary == routing::Store::old_store ? "old" : "new");
  }
  return std::nullopt;
}

asio::awaitable<void> Server::reload(const char* trigger) {
  // One reload at a time: the cutover gate suspends a reload, and a second one (SIGHUP and the
  // file watcher often fire together) must not apply an older read of the file after a newer
  // one. It runs once more after the current one instead.
  if (reloading_) {
    reload_again_ = true;
    co_return;
  }
  reloading_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }  // also when a reload throws
  } done{reloading_};
  std::string previous;
  bool first = true;
  do {
    reload_again_ = false;
    // A reload asked for meanwhile that would read the same file again is the same request
    // (SIGHUP and the watcher fire together): once is enough, also when it was refused.
    std::string current = config_path_.empty() ? std::string() : read_file(config_path_);
    if (first || current != previous) co_await reload_once(trigger);
    first = false;
    previous = std::move(current);
  } while (reload_again_);
}

std::shared_ptr<Runtime::ReloadResult> Server::start_console_reload() {
  if (runtime_->draining()) return nullptr;
  auto result = std::make_shared<Runtime::ReloadResult>();
  // Detached on the control thread: if it stops first, the coroutine is dropped there and the
  // console's bounded wait reports that the outcome is unknown.
  asio::co_spawn(control_, reload_for_console(result), asio::detached);
  return result;
}

asio::awaitable<void> Server::reload_for_console(std::shared_ptr<Runtime::ReloadResult> result) {
  // One reload at a time: wait for a running one (SIGHUP, the file watch) to end, so that this
  // one reads the file as it is now and its outcome is this request's.
  asio::steady_timer pause(control_);
  while (reloading_) {
    pause.expires_after(std::chrono::milliseconds(10));
    co_await pause.async_wait(use_tuple);
  }
  co_await reload("admin console");
  result->error = last_reload_error_;
  result->done.store(true);
}

asio::awaitable<void> Server::reload_once(const char* trigger) {
  if (config_path_.empty()) {
    spdlog::warn("reload ({}) ignored: running on the embedded config", trigger);
    last_reload_error_ = "pgdual runs on its embedded config: there is no file to reload";
    co_return;
  }
  gate_pending_ = false;
  last_reload_error_.clear();
  auto result = config::load_config_file(config_path_);
  if (!result.ok()) {
    metrics_.record_config_reload(false);
    last_reload_error_ = fmt::format("{}", fmt::join(result.errors, "; "));
    config_valid_ = false;
    for (const auto& error : result.errors)
      spdlog::error("config reload rejected ({}): {}", trigger, error);
    spdlog::error("keeping the previous configuration in force");
    co_return;
  }
  for (const auto& warning : result.warnings) spdlog::warn("config: {}", warning);
  auto running = runtime_->config();
  for (const auto& key : config::keys_needing_restart(running->config, *result.config)) {
    spdlog::warn(
        "config key {} changed but needs a restart to take effect; the running value stays", key);
  }
  std::string error;
  auto next = make_runtime_config(
      config::keep_restart_only_keys(running->config, std::move(*result.config)), error);
  if (!next) {
    metrics_.record_config_reload(false);
    last_reload_error_ = error;
    config_valid_ = false;
    spdlog::error("config reload rejected ({}): {}", trigger, error);
    co_return;
  }
  const auto refuse_primary_switch = [&] {
    auto refusal = primary_switch_refusal(running->config.migration, next->config.migration);
    if (!refusal) return false;
    metrics_.record_config_reload(false);
    last_reload_error_ = *refusal;
    config_valid_ = false;
    spdlog::error("config reload rejected ({}): {}", trigger, *refusal);
    spdlog::error("keeping the previous configuration in force");
    return true;
  };
  if (refuse_primary_switch()) co_return;
  if (!co_await cutover_gate_allows(running->config, next->config, trigger)) co_return;
  // The gate took a while: writes may have been journaled meanwhile.
  if (refuse_primary_switch()) co_return;
  if (!co_await fleet_flip_allows(running->config, next->config, trigger)) co_return;
  configure_logging(next->config.log);
  publish_phase(next->config.migration);
  runtime_->set_config(std::move(next));
  // DDL run around pgdual becomes visible to routing on a reload.
  runtime_->catalogs().mark_all_stale();
  runtime_->cdc().config_changed();  // the publication follows the tables' phases
  config_valid_ = true;
  metrics_.record_config_reload(true);
  spdlog::info("configuration reloaded ({})", trigger);
}

asio::awaitable<bool> Server::cutover_gate_allows(const config::Config& running,
                                                  const config::Config& next, const char* trigger) {
  const auto databases = databases_entering_cutover(running, next, runtime_->databases());
  if (databases.empty()) co_return true;
  gate_checked_ = std::chrono::steady_clock::now();
  const auto report = co_await evaluate_gate_async(next, databases);
  if (report.ok()) {
    spdlog::info("cutover gate passed for [{}] ({} live instance(s))", fmt::join(databases, ","),
                 report.instances.size());
    co_return true;
  }
  const bool force = next.migration.cutover.force;
  for (const auto& c : report.criteria) {
    if (c.ok) continue;
    if (!force) metrics_.cutover().count_refusal(c.name);
    spdlog::error("cutover gate: {}{} fails: {} (needs {}; from {})", c.name,
                  c.database.empty() ? "" : " (" + c.database + ")", c.measured, c.threshold,
                  c.source);
  }
  if (!report.error.empty()) {
    if (!force) metrics_.cutover().count_refusal("unmeasurable");
    spdlog::error("cutover gate: could not measure everything: {}", report.error);
  }
  if (force) {
    metrics_.cutover().count_forced();
    spdlog::error(
        "cutover FORCED ({}): migration.cutover.force is set, so the phase change applies although "
        "the gate fails ({}); the criteria above are not met",
        trigger, fmt::join(report.failed(), ", "));
    co_return true;
  }
  metrics_.record_config_reload(false);
  last_reload_error_ = fmt::format("the cutover gate fails: {}", fmt::join(report.failed(), ", "));
  gate_pending_ = true;
  spdlog::error(
      "config reload refused ({}): it moves [{}] into cutover, but the cutover gate fails ({}); "
      "the previous phase stays, and the reload is tried again every {} s (pgdual cutover check "
      "shows every criterion; migration.cutover.force overrides)",
      trigger, fmt::join(databases, ","), fmt::join(report.failed(), ", "), kGateRetry.count());
  co_return false;
}

asio::awaitable<bool> Server::fleet_flip_allows(const config::Config& running,
                                                const config::Config& next, const char* trigger) {
  if (next.migration.cutover.coordination != config::Coordination::fleet ||
      routing::same_primaries(running.migration, next.migration)) {
    co_return true;
  }
  cutover::FlipRequest request{next, config::phase_assignment(running.migration),
                               runtime_->instance_name(),
                               databases_changing_primary(running, next, runtime_->databases())};
  spdlog::info("config reload ({}) gives [{}] another primary: flipping the fleet", trigger,
               fmt::join(request.databases, ","));
  auto flip =
      std::async(std::launch::async, [request] { return cutover::run_fleet_flip(request, {}); });
  co_await wait_ready(flip);
  const auto outcome = flip.get();
  metrics_.cutover().count_flip(std::string(cutover::to_string(outcome.result)));
  using Result = cutover::FlipOutcome::Result;
  if (outcome.result == Result::done || outcome.result == Result::already) {
    if (outcome.result == Result::done)
      metrics_.cutover().set_flip_pause_seconds(outcome.paused_ms / 1000);
    spdlog::info("fleet flip {}: {} ({} instance(s), new transactions held {:.0f} ms)", outcome.id,
                 cutover::to_string(outcome.result), outcome.members.size(), outcome.paused_ms);
    co_return true;
  }
  metrics_.record_config_reload(false);
  last_reload_error_ = "the fleet flip did not complete: " + outcome.reason;
  config_valid_ = false;
  if (outcome.result == Result::busy) {
    // Another instance is flipping the fleet (often to this very file): try again.
    gate_pending_ = true;
    gate_checked_ = std::chrono::steady_clock::now();
    spdlog::warn("config reload ({}) waits: {}; tried again in {} s", trigger, outcome.reason,
                 kGateRetry.count());
    co_return false;
  }
  spdlog::error(
      "config reload refused ({}): the fleet flip aborted ({}); every instance stays on the "
      "previous phases. Fix the cause and reload again (SIGHUP or an edit of the file)",
      trigger, outcome.reason);
  co_return false;
}

bool Server::apply_fleet_assignment(const config::PhaseAssignment& assignment) {
  {
    std::lock_guard lock(assignment_mutex_);
    if (!control_running_) {
      return apply_assignment_now(assignment);  // at start, before any reload can run
    }
  }
  // On the control thread, between reloads: a reload never interleaves with it. One that did not
  // run in time is called off, so that it cannot land after the agent gave up on it.
  struct Job {
    std::mutex mutex;
    bool called_off = false;
    std::promise<bool> done;
  };
  auto job = std::make_shared<Job>();
  auto future = job->done.get_future();
  asio::post(control_, [this, assignment, job] {
    std::lock_guard lock(job->mutex);
    job->done.set_value(!job->called_off && apply_assignment_now(assignment));
  });
  if (future.wait_for(kApplyTimeout) != std::future_status::ready) {
    std::lock_guard lock(job->mutex);
    job->called_off = true;
    // It may have finished between the wait and the lock: its answer counts then.
    if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
  }
  return future.get();
}

bool Server::apply_assignment_now(const config::PhaseAssignment& assignment) {
  const auto running = runtime_->config();
  config::Config config = running->config;
  config.migration = config::with_assignment(std::move(config.migration), assignment);
  std::string error;
  auto next = make_runtime_config(std::move(config), error);
  if (!next) {
    spdlog::error("fleet: cannot run the fleet's phases: {}", error);
    return false;
  }
  publish_phase(next->config.migration);
  runtime_->set_config(std::move(next));
  runtime_->catalogs().mark_all_stale();
  runtime_->cdc().config_changed();
  spdlog::info("fleet: running the fleet's phases (migration.phase {})",
               config::to_string(assignment.phase));
  return true;
}

}  // namespace pgdual::proxy
