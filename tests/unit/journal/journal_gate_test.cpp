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
  CHECK_FALSE(gate.active("db"));
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));
}

TEST_CASE("pending entries keep it open until a count sees none") {
  journal::JournalGate gate;
  gate.mark_pending("db");
  CHECK(gate.active("db"));
  CHECK(gate.finish_count("db", gate.begin_count("db"), 3));
  CHECK(gate.active("db"));
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));
}

TEST_CASE("journaled transactions and appends in flight hold it open") {
  journal::JournalGate gate;
  gate.enter("db");
  CHECK(gate.active("db"));
  CHECK(gate.finish_count("db", gate.begin_count("db"), 0));  // a session is still journaling
  gate.leave("db");
  CHECK(gate.active("db"));  // its outbox row may have committed: count again
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));

  gate.append_queued("db");
  CHECK(gate.active("db"));
  CHECK(gate.finish_count("db", gate.begin_count("db"), 0));
  gate.append_finished("db");
  CHECK(gate.active("db"));
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));
  CHECK(gate.in_flight("db") == 0);
  CHECK(gate.journaled("db") == 0);
}

TEST_CASE("a completion during the count keeps the gate open") {
  journal::JournalGate gate;
  gate.append_queued("db");
  const auto ticket = gate.begin_count("db");  // the count's snapshot misses the row...
  gate.append_finished("db");                  // ...which commits right after
  CHECK(gate.finish_count("db", ticket, 0));   // "0 pending" is stale: stays open
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));

  gate.enter("db");
  const auto ticket2 = gate.begin_count("db");
  gate.leave("db");  // an outbox commit during the count
  CHECK(gate.finish_count("db", ticket2, 0));
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));

  gate.mark_pending("db");
  const auto ticket3 = gate.begin_count("db");
  gate.mark_pending("db");
  CHECK(gate.finish_count("db", ticket3, 0));
}

TEST_CASE("unbalanced leave or finish does not underflow") {
  journal::JournalGate gate;
  gate.leave("db");
  gate.append_finished("db");
  CHECK(gate.journaled("db") == 0);
  CHECK(gate.in_flight("db") == 0);
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), 0));
}

TEST_CASE("concurrent sessions, appends and counts: the gate ends closed only when idle") {
  journal::JournalGate gate;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> stored{0}, applied{0};
  // A monitor that counts "pending = stored - applied" like the relay would.
  std::thread monitor([&] {
    while (!stop) {
      const auto ticket = gate.begin_count("db");
      const auto pending = stored.load() - applied.load();
      gate.finish_count("db", ticket, pending);
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
        gate.append_queued("db");
        stored.fetch_add(1);  // the row commits...
        // ...and while its append is not finished the gate must be open.
        if (!gate.active("db")) violations.fetch_add(1);
        gate.append_finished("db");
        gate.enter("db");
        if (!gate.active("db")) violations.fetch_add(1);
        gate.leave("db");
      }
    });
  }
  for (auto& session : sessions) session.join();
  while (applied.load() < stored.load()) std::this_thread::yield();
  stop = true;
  relay.join();
  monitor.join();
  CHECK(violations == 0);
  CHECK(gate.journaled("db") == 0);
  CHECK(gate.in_flight("db") == 0);
  CHECK_FALSE(gate.finish_count("db", gate.begin_count("db"), stored.load() - applied.load()));
  CHECK_FALSE(gate.active("db"));
}

TEST_CASE("each database has its own gate: one that cannot be counted leaves the others closed") {
  journal::JournalGate gate;
  gate.mark_pending("app");
  gate.mark_pending("root");  // a probe of a database the relay cannot count
  CHECK_FALSE(gate.finish_count("app", gate.begin_count("app"), 0));
  CHECK_FALSE(gate.active("app"));
  CHECK(gate.active("root"));
  CHECK(gate.active_keys() == std::vector<std::string>{"root"});
  gate.enter("root");
  CHECK_FALSE(gate.active("app"));
}

TEST_CASE("a forgotten database closes its gate unless a session or an append still holds it") {
  journal::JournalGate gate;
  gate.mark_pending("missing");
  gate.forget("missing");
  CHECK_FALSE(gate.active("missing"));

  gate.append_queued("busy");
  gate.forget("busy");
  CHECK(gate.active("busy"));
  gate.append_finished("busy");
  CHECK_FALSE(gate.finish_count("busy", gate.begin_count("busy"), 0));
}

TEST_CASE("after a restart every database starts pending until it was counted") {
  journal::JournalGate gate;
  CHECK_FALSE(gate.active("later"));
  gate.mark_all_pending();
  CHECK(gate.active("later"));  // never counted: may hold entries of the earlier run
  CHECK_FALSE(gate.finish_count("later", gate.begin_count("later"), 0));
  CHECK(gate.active("other"));
}
