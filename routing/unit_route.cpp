#include "routing/unit_route.hpp"

namespace pgdual::routing {

UnitRoute route_unit(MirrorMode mode, bool journaling, bool secondary_usable) {
  if (mode != MirrorMode::follow) return UnitRoute::primary_only;
  if (journaling) return UnitRoute::journaled;
  return secondary_usable ? UnitRoute::mirrored : UnitRoute::primary_only;
}

}  // namespace pgdual::routing
