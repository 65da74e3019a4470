#pragma once
// The order of commits across the sessions of one database in this pgdual instance (issue 12,
// class 2). The primary commits a transaction before the secondary does; in between, another
// session can already see its rows on the primary and act on them (insert a child of a new
// parent, update a new row). Sent to the secondary at once, that later statement would find
// the rows missing there: a foreign-key error, or "UPDATE 0" where the primary said "UPDATE 1".
//
// So every commit whose secondary commit follows the primary's takes a ticket before it goes to
// the primary, and gives it back once the secondary has answered it (or never will). A unit the
// primary has finished may reach the secondary only when every ticket handed out before that
// moment is back: whatever it could have observed on the primary is on the secondary too.
// Tickets are taken in dispatch order, so the waits only ever point to earlier commits, and
// cannot form a cycle. Shared by the sessions of every worker thread; no I/O.

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

namespace pgdual::routing {

class CommitHorizon {
 public:
  using Ticket = std::uint64_t;  // 0: none

  // A commit about to go to the primary, whose secondary commit comes after it.
  Ticket open();
  // Its secondary commit is done (or will never happen: the secondary broke, the session
  // ended). Wakes the waiters whose horizon is now settled.
  void close(Ticket ticket);
  // The newest ticket handed out: the horizon of a unit the primary just finished.
  Ticket issued() const;
  // Every ticket up to `horizon` is closed, except the caller's own (`own`, 0 for none).
  bool settled_through(Ticket horizon, Ticket own) const;
  std::size_t open_count() const;
  // Calls `wake` once settled_through(horizon, own) holds: at once (on this thread) when it
  // does already, otherwise on the thread that closes the last ticket in the way.
  void notify_when_settled(Ticket horizon, Ticket own, std::function<void()> wake);

 private:
  struct Waiter {
    Ticket horizon, own;
    std::function<void()> wake;
  };
  bool settled_locked(Ticket horizon, Ticket own) const;

  mutable std::mutex mutex_;
  Ticket issued_ = 0;
  std::set<Ticket> open_;
  std::vector<Waiter> waiters_;
};

}  // namespace pgdual::routing
