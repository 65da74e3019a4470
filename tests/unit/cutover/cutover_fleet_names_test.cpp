// The words the control tables store for a flip's state, and the outcomes the coordinator
// counts: each reads back as itself, anything else as nothing.

#include <catch2/catch.hpp>

#include "cutover/fleet_control.hpp"
#include "cutover/fleet_flip.hpp"

using namespace pgdual::cutover;

TEST_CASE("flip states read back as written", "[cutover]") {
  for (auto state :
       {FlipState::pausing, FlipState::flipping, FlipState::done, FlipState::aborted}) {
    const auto parsed = parse_flip_state(to_string(state));
    REQUIRE(parsed);
    CHECK(*parsed == state);
  }
  CHECK_FALSE(parse_flip_state("Done"));
  CHECK_FALSE(parse_flip_state(""));
}

TEST_CASE("flip outcomes have distinct names for the metric", "[cutover]") {
  using Result = FlipOutcome::Result;
  CHECK(to_string(Result::done) == "done");
  CHECK(to_string(Result::already) == "already");
  CHECK(to_string(Result::busy) == "busy");
  CHECK(to_string(Result::aborted) == "aborted");
}
