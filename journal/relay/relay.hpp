#pragma once
// The relay and monitor thread of JournalService.
//
// Every poll_interval (sooner when woken by an append) it looks at every
// known database:
//   table store: keeps a connection to the primary, creates the schema,
//     tries pg_try_advisory_lock (session level, journal_table.hpp): only
//     the holder replays that database's journal; every instance counts the
//     pending entries (depth metrics, and its own entries for the gate).
//   file store: replays this instance's FileJournal.
// Entries are applied strictly in id order to the secondary of the global
// phase (journal_replayer.hpp). A retryable failure backs off on the same
// entry (the secondary is probed meanwhile); a permanent one, once it has
// failed max_attempts times, goes to the dead letter and the relay moves on.
// With no secondary in the phase (prepare, cleanup, cutover without
// keep_old_in_sync) the relay pauses and keeps the journal.
//
// Losing the primary connection releases the lock (the server drops it with
// the session); another instance takes over at its next poll.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "journal/context.hpp"
#include "libpq/connection.hpp"

namespace pgdual::journal {

class JournalRelay {
 public:
  explicit JournalRelay(JournalContext& context);
  ~JournalRelay() { stop(); }

  void start();
  void stop();  // context.stopping must be set first
  JournalService::Status status() const;

 private:
  using Clock = std::chrono::steady_clock;

  struct Look {  // one database's (or the file's) journal, as last counted
    bool ok = false;
    bool missing = false;  // the database does not exist on the primary
    std::uint64_t records = 0, bytes = 0, mine = 0, dead = 0;
    double oldest_age_seconds = 0;
  };
  struct Backoff {
    bool active = false;
    std::uint64_t id = 0;
    std::string database;
    Clock::time_point until{};
  };
  struct Primary {
    pg::Link link;
    bool schema_ready = false;
    bool instance_checked = false;  // <schema>.instances looked at and marked started
    bool holder = false;
    bool down_logged = false;
    Backoff backoff;
  };
  struct Secondary {
    pg::Link link;
    bool applied_ready = false;
    Clock::time_point last_prune{};
  };
  enum class Verdict { done, retry, dead, paused };
  struct Attempt {
    Verdict verdict = Verdict::paused;
    std::string sqlstate, error;
    std::uint32_t attempts = 0;  // failed attempts including this one
    std::chrono::milliseconds delay{0};
  };

  void run();
  // One look at everything; true when a full batch was applied (more to do).
  bool pass();
  void forget_missing(const config::JournalConfig& journal, const std::string& database);
  Look table_pass(const config::Config& settings, const std::string& database, Primary& primary,
                  bool can_replay, bool& more);
  bool table_replay(const config::Config& settings, const std::string& database, Primary& primary);
  Look file_pass(const config::Config& settings, bool can_replay, bool& more);

  // Secondary side (journal_relay_secondary.cpp).
  // Once per database and process: did this instance stop cleanly last time? (journal_table.hpp)
  void check_instance(const std::string& database, Primary& primary);
  Attempt replay_one(const config::Config& settings, const std::string& database,
                     const JournalRecord& record, const std::string& key);
  Attempt failure(const config::Config& settings, const JournalRecord& record,
                  const std::string& database, std::string sqlstate, std::string error);
  void probe(const config::Config& settings, const std::string& database);
  void maybe_prune(const config::Config& settings, const std::string& database, const Look& look);
  void log_dead(const std::string& database, const JournalRecord& record, const Attempt& attempt);

  bool backing_off(const Backoff& backoff) const;
  std::chrono::milliseconds next_wait(std::chrono::milliseconds poll) const;
  bool cancelled() const { return context_.stopping.load(); }

  JournalContext& context_;
  pg::Cancelled cancelled_;
  std::thread thread_;
  std::map<std::string, Primary> primaries_;      // table store, by database
  std::map<std::string, Secondary> secondaries_;  // by database
  Backoff file_backoff_;
  bool paused_logged_ = false;
  std::uint64_t file_dead_letters_ = 0;
  std::mt19937_64 random_;

  mutable std::mutex status_mutex_;
  JournalService::Status status_;
};

}  // namespace pgdual::journal
