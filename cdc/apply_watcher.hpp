#pragma once
// Strategy cdc inside `pgdual run`: one thread per database the sessions use, which
//   - keeps the replication objects in place (cdc.manage: the `ensure` hook, on a thread of its
//     own, at start, after a reload or committed DDL, and every kEnsureInterval while they are
//     not ready);
//   - reads both servers' health every cdc.health_interval_ms into metrics::CdcMetrics and
//     decides whether the database is ready (every object exists, every table is in state r);
//   - answers cdc.wait: commit (docs/cdc.md, "Waiting for the new store at COMMIT").
//
// The commit wait. A session whose COMMIT (or autocommit write) the old store has just
// acknowledged calls wait_applied(). The thread then reads the old store's WAL insert position
// X on its own connection: the session's commit record was inserted before the server
// answered, so X is at or past its end. The wait ends when the subscription's walsender
// reports an apply position (pg_stat_replication.replay_lsn) at or past X: the apply worker
// reports a position only once every transaction before it is committed on the new store. One
// query per poll serves every waiter of the database; X may cover other sessions' WAL too,
// which costs time, never correctness. While some table is still in its initial copy the
// apply position does not cover it: the waiter hears not_ready at once.
//
// Blocking libpq on this layer's own threads; the proxy gets its answers through callbacks.
// Thread safety: every public member may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "libpq/connection.hpp"
#include "metrics/cdc_metrics.hpp"

namespace pgdual::cdc {

class DatabaseWatcher;

// "16/B374D848" -> its 64-bit position; nullopt when the text is not an LSN.
std::optional<std::uint64_t> parse_lsn(std::string_view text);

class ApplyWatcher {
 public:
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
  // Creates or updates the objects for one database; returns "" or why it failed.
  using Ensure = std::function<std::string(const config::Config&, const std::string& database,
                                           const pg::Cancelled& cancelled)>;
  using Done = std::function<void(metrics::CdcWaitOutcome)>;

  static constexpr std::chrono::seconds kEnsureInterval{30};
  static constexpr std::chrono::seconds kConnectTimeout{5};

  ApplyWatcher(metrics::CdcMetrics& metrics, ConfigSource config, Ensure ensure);
  ~ApplyWatcher();
  ApplyWatcher(const ApplyWatcher&) = delete;
  ApplyWatcher& operator=(const ApplyWatcher&) = delete;

  // A database a session uses: its thread starts (once).
  void note_database(const std::string& database);
  // A reload: every database runs its ensure step again at once.
  void config_changed();
  // Reads every watched database's health now, and waits (bounded) until each pass after this
  // call found it ready: true when all are. A fleet flip under cdc resumes the sessions only
  // then, so that no write is refused for a readiness read before the replication turned.
  bool recheck_ready(std::chrono::milliseconds timeout);
  // DDL committed through pgdual in `database`: a new table may join the publication.
  void request_upkeep(const std::string& database);
  // `done` is called exactly once, on the database's thread, unless cancel(id) returned true.
  std::uint64_t wait_applied(const std::string& database, Done done);
  // True when the waiter was still pending (its `done` will not be called).
  bool cancel(const std::string& database, std::uint64_t id);
  // Whether the database's replication is known to be complete (see above), in the direction
  // its phase wants: old -> new before cutover, new -> old from cutover on.
  bool ready(const std::string& database);
  // Whether its health was read at least once (ready() means something).
  bool known(const std::string& database);
  // Stops every thread within libpq's poll slice.
  void stop();

 private:
  DatabaseWatcher& watcher(const std::string& database);

  metrics::CdcMetrics& metrics_;
  ConfigSource config_;
  Ensure ensure_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<DatabaseWatcher>> watchers_;
  bool stopped_ = false;
};

}  // namespace pgdual::cdc
