#pragma once
// The journal gate of one pgdual instance (journal_service.hpp): while it is
// active for a database, that database's sessions journal their write
// transactions instead of sending them to the secondary, so the secondary
// receives this instance's transactions in the primary's order even while
// earlier ones still wait in the journal.
//
// One gate per key (JournalContext::gate_key: the database for the table
// store, one key for the file store, whose records form one sequence). A
// database that cannot be counted (missing, unreachable) keeps only its own
// gate open: the other databases' sessions keep writing the secondary
// directly (issue 12: one probe of a missing database turned sync into
// journaled async for the whole instance).
//
// A key's gate is active while any of:
//   (a) the store may hold entries of this instance not yet applied
//       ("pending": set by every append, outbox commit and new database;
//       cleared only by a count that saw none),
//   (b) a session has a journaled transaction open (enter/leave),
//   (c) an append is queued or being written.
//
// The race a count must not lose: the monitor's count query reads a snapshot;
// an entry that commits after the snapshot was taken is not in it. If such an
// append (or outbox commit) also finished before the count's result arrived,
// the monitor would see "0 pending, nothing in flight" and close the gate
// with an entry still waiting: the next direct write could then overtake it
// on the secondary. So every completion bumps an epoch, a count remembers the
// epoch it started at (begin_count, before the query is sent), and a zero
// count closes the gate only when the epoch has not moved since. A completion
// during the count leaves the gate open for the next poll.
//
// Thread safety: every member may be called from any thread; no I/O.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pgdual::journal {

class JournalGate {
 public:
  struct CountTicket {
    std::uint64_t epoch = 0;
  };

  bool active(std::string_view key) const;
  // The keys whose gate is active now (for the metric and the log).
  std::vector<std::string> active_keys() const;

  // (b): a session journals a transaction. leave() marks the store possibly
  // non-empty (the transaction may have committed an outbox entry).
  void enter(std::string_view key);
  void leave(std::string_view key);
  // (c): an append was queued / its write finished (stored or not).
  void append_queued(std::string_view key);
  void append_finished(std::string_view key);
  // (a): something may have been stored (an outbox commit, or a database or
  // a restart whose entries have not been counted yet).
  void mark_pending(std::string_view key);
  // A restart: every key seen so far may hold entries again.
  void mark_all_pending();
  // The key's database does not exist: nothing can be stored there, and
  // nothing journals there. Keeps the key while a session or an append holds it.
  void forget(std::string_view key);

  // Take before sending the key's count query; then report what it found.
  CountTicket begin_count(std::string_view key) const;
  // pending = entries of this instance the count saw. Returns active(key).
  bool finish_count(std::string_view key, CountTicket ticket, std::uint64_t pending);

  std::uint64_t journaled(std::string_view key) const;
  std::uint64_t in_flight(std::string_view key) const;

 private:
  struct State {
    bool pending = false;
    std::uint64_t journaled = 0;
    std::uint64_t in_flight = 0;
    std::uint64_t epoch = 0;
    bool active() const { return pending || journaled > 0 || in_flight > 0; }
  };
  State& state(std::string_view key);             // creates; mutex_ held
  const State* find(std::string_view key) const;  // mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, State, std::less<>> states_;
  // A key first seen after mark_all_pending() starts pending (nothing counted it yet).
  bool new_keys_pending_ = false;
};

}  // namespace pgdual::journal
