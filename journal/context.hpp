#pragma once
// What JournalService's threads share (journal_service.hpp): the settings
// fixed at construction, the gate, the known databases, the relay's wake-up
// and the shutdown flags. Also where a database of a store is reached.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "journal/gate.hpp"
#include "journal/service.hpp"
#include "journal/store/file_journal.hpp"
#include "metrics/journal_metrics.hpp"

namespace pgdual::journal {

inline constexpr std::string_view kRelayApplicationName = "pgdual journal relay";
inline constexpr std::string_view kAppenderApplicationName = "pgdual journal";

// How to reach one database of one store.
struct StoreTarget {
  std::string conninfo;  // holds the password: never log it
  std::chrono::milliseconds connect_timeout{5000};
  std::string dbname;  // the database the conninfo names
};

// The primary (primary = true) or the secondary of the global migration.phase
// for `database` (the backend's dbname wins when set); nullopt when the phase
// has no secondary.
std::optional<StoreTarget> store_target(const config::Config& settings, const std::string& database,
                                        bool primary, std::string_view application_name);

struct JournalContext {
  JournalContext(metrics::JournalMetrics& metrics_in, JournalService::ConfigSource config_in)
      : metrics(metrics_in), config(std::move(config_in)) {}

  metrics::JournalMetrics& metrics;
  const JournalService::ConfigSource config;
  JournalGate gate;

  // Fixed at construction: changing them needs a restart (a journal cannot
  // move between stores or schemas while entries wait in it).
  std::string instance;
  config::JournalStore store = config::JournalStore::table;
  std::string schema;
  std::string directory;
  std::unique_ptr<FileJournal> file;  // store file, opened by start(); null if that failed
  std::string file_error;

  // The relay gives up its I/O at once; the appender drains its queue, but
  // abandons I/O still running after abandon_at (steady clock, ns).
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> abandon_at{INT64_MAX};
  bool past_abandon() const;

  // The gate (JournalGate) of a database: the database itself for the table
  // store; one shared key for the file store, whose records form one sequence.
  std::string gate_key(const std::string& database) const;

  // Databases sessions write (note_database) plus migration.journal.databases.
  std::vector<std::string> known_databases(const config::JournalConfig& journal) const;
  // True when it was new.
  bool add_database(const std::string& database);
  // The database does not exist on the primary: the relay stops serving it
  // (migration.journal.databases still lists the configured ones).
  void forget_database(const std::string& database);

  // Databases a complete pass of the relay has counted (sessions wait for that once).
  void mark_looked(const std::vector<std::string>& databases);
  bool looked_at(const std::string& database) const;

  // Wakes the relay before its poll interval ends.
  void wake_relay();
  // Sleeps up to `timeout` or until woken or stopping.
  void wait_for_wake(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::set<std::string> databases_;
  std::set<std::string> looked_;
};

}  // namespace pgdual::journal
