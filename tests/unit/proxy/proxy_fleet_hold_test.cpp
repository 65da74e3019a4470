// The fleet hold: a session counts itself in before it starts a transaction and looks at the
// pause after; the agent pauses, then waits for the count to reach zero. Whatever the
// interleaving, the agent never sees zero while a session that passed the check is inside.

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "proxy/server/fleet_hold.hpp"

using pgdual::proxy::FleetHold;

TEST_CASE("a paused hold lets no transaction in and counts none", "[proxy]") {
  FleetHold hold;
  REQUIRE(hold.try_enter());
  CHECK(hold.busy() == 1);
  hold.set_paused(true);
  CHECK_FALSE(hold.try_enter());
  CHECK(hold.busy() == 1);  // the one inside stays counted until it leaves
  hold.leave();
  CHECK(hold.busy() == 0);
  hold.set_paused(false);
  CHECK(hold.try_enter());
  hold.leave();
}

TEST_CASE("the fenced reason is kept until lifted", "[proxy]") {
  FleetHold hold;
  CHECK(hold.fenced_reason().empty());
  hold.set_fenced("cannot read the control state");
  CHECK(hold.fenced_reason() == "cannot read the control state");
  hold.set_fenced(std::nullopt);
  CHECK(hold.fenced_reason().empty());
}

TEST_CASE("once drained under a pause, no session gets in", "[proxy]") {
  FleetHold hold;
  std::atomic<bool> stop{false};
  std::atomic<int> inside_after_drain{0};
  std::atomic<bool> drained{false};
  std::vector<std::thread> sessions;
  for (int i = 0; i < 4; ++i) {
    sessions.emplace_back([&] {
      while (!stop.load()) {
        if (!hold.try_enter()) continue;
        if (drained.load()) inside_after_drain.fetch_add(1);
        hold.leave();
      }
    });
  }
  for (int round = 0; round < 200; ++round) {
    hold.set_paused(true);
    while (hold.busy() != 0) std::this_thread::yield();
    drained.store(true);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    drained.store(false);
    hold.set_paused(false);
  }
  stop.store(true);
  for (auto& session : sessions) session.join();
  CHECK(inside_after_drain.load() == 0);
  CHECK(hold.busy() == 0);
}
