#pragma once
// The process: one io_context per worker thread for client sessions, and a
// control io_context on the calling thread for the acceptor, the admin HTTP
// server, signals and config reloads.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "config/phase_assignment.hpp"
#include "metrics/metrics.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/admin/backend_probe.hpp"
#include "proxy/server/runtime.hpp"

namespace pgdual::proxy {

class ClientSession;

class Server {
 public:
  // config_path may be empty (embedded config: reload by file is off).
  Server(config::Config config, std::string config_path);
  ~Server();

  // Runs until SIGTERM/SIGINT and the drain that follows. Returns the exit code.
  int run();

  // migration.mapping's columns without a lossless inverse, as the start-up check read them from
  // the catalogs (docs/schema-mapping.md); nullopt when it could not. Leaving cutover is refused
  // while there are some (or they are unknown) under rollback: refuse_if_lossy.
  void set_mapping_lossy_columns(std::optional<std::vector<std::string>> columns) {
    mapping_lossy_columns_ = std::move(columns);
  }

 private:
  using Executor = boost::asio::io_context::executor_type;

  bool start_listening();
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> watch_config_file();
  boost::asio::awaitable<void> drain_and_stop();
  boost::asio::awaitable<void> reload(const char* trigger);
  boost::asio::awaitable<void> reload_once(const char* trigger);
  // The admin console's RELOAD (the Runtime's reload hook, from any thread), and its run on the
  // control thread, which reports into `result`.
  std::shared_ptr<Runtime::ReloadResult> start_console_reload();
  boost::asio::awaitable<void> reload_for_console(std::shared_ptr<Runtime::ReloadResult> result);
  std::string last_reload_error_;  // of the last reload_once; "" when it applied
  std::optional<std::vector<std::string>> mapping_lossy_columns_;
  std::optional<std::string> mapping_rollback_refusal(const config::MigrationConfig& running,
                                                      const config::MigrationConfig& next) const;
  // Whether the gate lets a reload move scopes into cutover: logged and counted either way.
  boost::asio::awaitable<bool> cutover_gate_allows(const config::Config& running,
                                                   const config::Config& next, const char* trigger);
  // Why a reload that moves the primary to the other store must wait, if it must.
  std::optional<std::string> primary_switch_refusal(const config::MigrationConfig& running,
                                                    const config::MigrationConfig& next);
  void publish_phase(const config::MigrationConfig& migration);
  // Under fleet coordination, a reload that gives some scope another primary flips the whole
  // fleet first (cutover/fleet_flip.hpp): true when the reload may apply.
  boost::asio::awaitable<bool> fleet_flip_allows(const config::Config& running,
                                                 const config::Config& next, const char* trigger);
  // The fleet agent's hook: runs `assignment` on the control thread, like a reload of the
  // phases alone.
  bool apply_fleet_assignment(const config::PhaseAssignment& assignment);
  bool apply_assignment_now(const config::PhaseAssignment& assignment);
  std::mutex assignment_mutex_;   // the agent's apply before the control loop runs
  bool control_running_ = false;  // under assignment_mutex_
  void wait_for_signals();
  boost::asio::awaitable<void> signal_loop();
  // A reload the cutover gate refused is tried again every kGateRetry while the file stays.
  bool gate_pending_ = false;
  bool reloading_ = false;     // a reload is running (possibly suspended on the gate)
  bool reload_again_ = false;  // another was asked for meanwhile
  std::chrono::steady_clock::time_point gate_checked_{};
  void raise_open_files();  // proxy/server/file_limit.hpp
  void start_workers();
  void stop_workers();
  void track(const std::shared_ptr<ClientSession>& session, Executor executor);

  std::string config_path_;
  config::Config initial_config_;
  metrics::Metrics metrics_;
  std::unique_ptr<Runtime> runtime_;
  boost::asio::io_context control_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  std::vector<std::thread> worker_threads_;
  std::size_t next_worker_ = 0;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<BackendProbe> probe_;
  bool config_valid_ = true;
  bool stopping_ = false;
  bool drain_timed_out_ = false;  // sessions were cut off: the journal's stop is not clean

  std::mutex sessions_mutex_;
  std::list<std::pair<std::weak_ptr<ClientSession>, Executor>> sessions_;
};

}  // namespace pgdual::proxy
