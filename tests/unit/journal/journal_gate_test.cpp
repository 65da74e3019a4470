// Tests of the journal gate (journal_gate.hpp): what opens and closes it, the
// epoch rule that keeps a count racing a completion from closing it, and
// concurrent use.

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "journal/gate.hpp"

using namespace pgdual;

using pgdual::journal::JournalGate;

TEST_CASE("closed at first, a zero count keeps it closed") {
  journal::JournalGate gate;
  CHECK_FALSE(gate.active());
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));
}

TEST_CASE("pending entries keep it open until a count sees none") {
  journal::JournalGate gate;
  gate.mark_pending();
  CHECK(gate.active());
  CHECK(gate.finish_count(gate.begin_count(), 3));
  CHECK(gate.active());
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));
}

TEST_CASE("journaled transactions and appends in flight hold it open") {
  journal::JournalGate gate;
  gate.enter();
  CHECK(gate.active());
  CHECK(gate.finish_count(gate.begin_count(), 0));  // a session is still journaling
  gate.leave();
  CHECK(gate.active());  // its outbox row may have committed: count again
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));

  gate.append_queued();
  CHECK(gate.active());
  CHECK(gate.finish_count(gate.begin_count(), 0));
  gate.append_finished();
  CHECK(gate.active());
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));
  CHECK(gate.in_flight() == 0);
  CHECK(gate.journaled() == 0);
}

TEST_CASE("a completion during the count keeps the gate open") {
  journal::JournalGate gate;
  gate.append_queued();
  const auto ticket = gate.begin_count();  // the count's snapshot misses the row...
  gate.append_finished();                  // ...which commits right after
  CHECK(gate.finish_count(ticket, 0));     // "0 pending" is stale: stays open
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));

  gate.enter();
  const auto ticket2 = gate.begin_count();
  gate.leave();  // an outbox commit during the count
  CHECK(gate.finish_count(ticket2, 0));
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));

  gate.mark_pending();
  const auto ticket3 = gate.begin_count();
  gate.mark_pending();
  CHECK(gate.finish_count(ticket3, 0));
}

TEST_CASE("unbalanced leave or finish does not underflow") {
  journal::JournalGate gate;
  gate.leave();
  gate.append_finished();
  CHECK(gate.journaled() == 0);
  CHECK(gate.in_flight() == 0);
  CHECK_FALSE(gate.finish_count(gate.begin_count(), 0));
}

TEST_CASE("concurrent sessions, appends and counts: the gate ends closed only when idle") {
  journal::JournalGate gate;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> stored{0}, applied{0};
  // A monitor that counts "pending = stored - applied" like the relay would.
  std::thread monitor([&] {
    while (!stop) {
      const auto ticket = gate.begin_count();
      const auto pending = stored.load() - applied.load();
      gate.finish_count(ticket, pending);
    }
  });
  std::thread relay([&] {
    while (!stop) {
      if (applied.load() < stored.load()) applied.fetch_add(1);
    }
  });
  std::vector<std::thread> sessions;
  std::atomic<int> violations{0};
  for (int s = 0; s < 4; ++s) {
    sessions.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        gate.append_queued();
        stored.fetch_add(1);  // the row commits...
        // ...and while its append is not finished the gate must be open.
        if (!gate.active()) violations.fetch_add(1);
        gate.append_finished();
        gate.enter();
        if (!gate.active()) violations.fetch_add(1);
        gate.leave();
      }
    });
  }
  for (auto& session : sessions) session.join();
  while (applied.load() < stored.load()) std::this_thread::yield();
  stop = true;
  relay.join();
  monitor.join();
  CHECK(violations == 0);
  CHECK(gate.journaled() == 0);
  CHECK(gate.in_flight() == 0);
  CHECK_FALSE(gate.finish_count(gate.begin_count(), stored.load() - applied.load()));
  CHECK_FALSE(gate.active());
}
