#pragma once
// What the secondary gets of a mirrored unit once the primary has executed it. The secondary
// follows only what the primary accepted (invariants 5 and 7 in docs/architecture.md).

#include <string>
#include <vector>

#include "routing/phase_rules.hpp"

namespace pgdual::routing {

enum class Settlement {
  drop,              // the primary refused it: the secondary never sees it
  rollback_instead,  // a COMMIT the primary answered with ROLLBACK (a failed transaction)
  release,           // sent to the secondary as it is
};

// `command_tags`: the primary's CommandComplete tags of the unit, in order.
Settlement settle_unit(bool primary_error, const MirrorDecision& decision,
                       const std::vector<std::string>& command_tags);

// Whether a unit that ended the transaction on the primary committed it: no error, and its last
// tag is not ROLLBACK (a COMMIT of a failed transaction answers ROLLBACK).
bool transaction_committed(bool primary_error, const std::vector<std::string>& command_tags);

}  // namespace pgdual::routing
