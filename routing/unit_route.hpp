#pragma once
// Where a unit the phase wants on the secondary actually goes: to the secondary (mirrored), to
// the replay journal instead, or nowhere but the primary (no secondary in the phase, not a
// mirrored unit, or the secondary is unreachable).

#include "routing/phase_rules.hpp"

namespace pgdual::routing {

enum class UnitRoute {
  primary_only,
  mirrored,   // the secondary gets it once the primary accepted it
  journaled,  // its transaction goes to the journal; the relay replays it on the secondary
};

// `journaling`: the unit's transaction goes to the journal (the session's journal capture
// decided it). `secondary_usable`: the session has a healthy secondary connection.
UnitRoute route_unit(MirrorMode mode, bool journaling, bool secondary_usable);

}  // namespace pgdual::routing
