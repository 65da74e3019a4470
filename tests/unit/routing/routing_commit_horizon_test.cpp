#include <catch2/catch.hpp>
#include <thread>

#include "routing/commit_horizon.hpp"

using pgdual::routing::CommitHorizon;

TEST_CASE("a horizon is settled once every earlier ticket is closed") {
  CommitHorizon horizon;
  CHECK(horizon.settled_through(horizon.issued(), 0));
  const auto first = horizon.open();
  const auto second = horizon.open();
  CHECK(horizon.issued() == second);
  CHECK_FALSE(horizon.settled_through(first, 0));
  horizon.close(first);
  CHECK(horizon.settled_through(first, 0));
  CHECK_FALSE(horizon.settled_through(second, 0));
  // A later ticket is not in the way of an earlier horizon.
  const auto third = horizon.open();
  horizon.close(second);
  CHECK(horizon.settled_through(second, 0));
  CHECK_FALSE(horizon.settled_through(third, 0));
  CHECK(horizon.open_count() == 1);
}

TEST_CASE("a commit never waits for its own ticket") {
  CommitHorizon horizon;
  const auto other = horizon.open();
  const auto own = horizon.open();
  CHECK_FALSE(horizon.settled_through(own, own));  // the other one is still open
  horizon.close(other);
  CHECK(horizon.settled_through(own, own));
  CHECK_FALSE(horizon.settled_through(own, 0));
}

TEST_CASE("closing a ticket twice, or one never opened, changes nothing") {
  CommitHorizon horizon;
  const auto ticket = horizon.open();
  horizon.close(ticket);
  horizon.close(ticket);
  horizon.close(ticket + 40);
  CHECK(horizon.open_count() == 0);
}

TEST_CASE("waiters are woken when the last ticket in their way closes, not before") {
  CommitHorizon horizon;
  const auto first = horizon.open();
  const auto second = horizon.open();
  int woken = 0;
  horizon.notify_when_settled(second, 0, [&] { ++woken; });
  horizon.close(second);
  CHECK(woken == 0);
  horizon.close(first);
  CHECK(woken == 1);
  horizon.close(first);  // a waiter is woken once
  CHECK(woken == 1);
  // Already settled: woken at once.
  horizon.notify_when_settled(second, 0, [&] { ++woken; });
  CHECK(woken == 2);
}

TEST_CASE("tickets opened and closed from several threads all settle") {
  CommitHorizon horizon;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) horizon.close(horizon.open());
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(horizon.issued() == 4000);
  CHECK(horizon.open_count() == 0);
  CHECK(horizon.settled_through(horizon.issued(), 0));
}
