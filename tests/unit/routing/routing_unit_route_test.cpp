#include <catch2/catch.hpp>

#include "routing/unit_route.hpp"

using namespace pgdual::routing;

TEST_CASE("only a unit the phase has follow the primary leaves the primary") {
  for (bool journaling : {false, true}) {
    for (bool usable : {false, true}) {
      CHECK(route_unit(MirrorMode::none, journaling, usable) == UnitRoute::primary_only);
      CHECK(route_unit(MirrorMode::reject, journaling, usable) == UnitRoute::primary_only);
    }
  }
}

TEST_CASE("a journaled transaction's unit goes to the journal even with a healthy secondary") {
  CHECK(route_unit(MirrorMode::follow, true, true) == UnitRoute::journaled);
  CHECK(route_unit(MirrorMode::follow, true, false) == UnitRoute::journaled);
}

TEST_CASE("otherwise a followed unit is mirrored when the secondary is usable") {
  CHECK(route_unit(MirrorMode::follow, false, true) == UnitRoute::mirrored);
  CHECK(route_unit(MirrorMode::follow, false, false) == UnitRoute::primary_only);
}
