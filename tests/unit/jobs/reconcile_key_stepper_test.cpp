// jobs/reconcile/key_stepper: chunk ends by key value for integer keys.

#include <catch2/catch.hpp>

#include "jobs/reconcile/key_stepper.hpp"

using pgdual::jobs::reconcile::KeyStepper;

TEST_CASE("a dense key is stepped by the rows asked for, the last chunk left open",
          "[reconcile][key_stepper]") {
  KeyStepper stepper(1, 100);
  CHECK(stepper.start() == 0);
  CHECK(stepper.next_end(0, 30) == 30);
  CHECK(stepper.next_end(30, 30) == 60);
  CHECK(stepper.next_end(60, 30) == 90);
  CHECK_FALSE(stepper.next_end(90, 30).has_value());  // 10 keys left: the rest, open
  CHECK_FALSE(stepper.next_end(100, 30).has_value());
  CHECK_FALSE(stepper.next_end(150, 30).has_value());  // beyond the largest key seen
}

TEST_CASE("the step follows the rows per key value measured", "[reconcile][key_stepper]") {
  KeyStepper stepper(1, 1000000);
  stepper.record(1000, 100);  // every tenth key
  CHECK(stepper.rows_per_key() == Approx(0.1));
  CHECK(stepper.next_end(1000, 100) == 2000);
  stepper.record(10, 40);  // four rows per key cannot happen with a unique key, but is honoured
  CHECK(stepper.next_end(2000, 100) == 2025);
}

TEST_CASE("a gap widens the step fourfold, never to the whole table at once",
          "[reconcile][key_stepper]") {
  KeyStepper stepper(1, 1000000000);
  stepper.record(100, 0);
  CHECK(stepper.rows_per_key() == Approx(0.25));
  CHECK(stepper.next_end(100, 100) == 500);
  stepper.record(400, 0);
  CHECK(stepper.next_end(500, 100) == 2100);
  stepper.record(0, 50);  // an empty span says nothing
  CHECK(stepper.rows_per_key() == Approx(0.0625));
}

TEST_CASE("a step is at least one key, and negative keys work", "[reconcile][key_stepper]") {
  KeyStepper stepper(-50, 50);
  CHECK(stepper.start() == -51);
  stepper.record(1, 1000);  // denser than one row per key: still one key per step at least
  CHECK(stepper.next_end(-51, 10) == -50);
  CHECK(KeyStepper::steps("integer"));
  CHECK(KeyStepper::steps("bigint"));
  CHECK(KeyStepper::steps("smallint"));
  CHECK_FALSE(KeyStepper::steps("numeric"));
  CHECK_FALSE(KeyStepper::steps("text"));
}
