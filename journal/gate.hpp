#pragma once
// The journal gate of one pgdual instance (journal_service.hpp): while it is
// active, sessions journal their write transactions instead of sending them
// to the secondary, so the secondary receives this instance's transactions in
// the primary's order even while earlier ones still wait in the journal.
//
// Active while any of:
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
#include <mutex>

namespace pgdual::journal {

class JournalGate {
 public:
  struct CountTicket {
    std::uint64_t epoch = 0;
  };

  bool active() const;

  // (b): a session journals a transaction. leave() marks the store possibly
  // non-empty (the transaction may have committed an outbox entry).
  void enter();
  void leave();
  // (c): an append was queued / its write finished (stored or not).
  void append_queued();
  void append_finished();
  // (a): something may have been stored (an outbox commit, or a database or
  // a restart whose entries have not been counted yet).
  void mark_pending();

  // Take before sending the count query; then report what it found.
  CountTicket begin_count() const;
  // pending = entries of this instance the count saw. Returns active().
  bool finish_count(CountTicket ticket, std::uint64_t pending);

  std::uint64_t journaled() const;
  std::uint64_t in_flight() const;

 private:
  mutable std::mutex mutex_;
  bool pending_ = false;
  std::uint64_t journaled_ = 0;
  std::uint64_t in_flight_ = 0;
  std::uint64_t epoch_ = 0;
};

}  // namespace pgdual::journal
