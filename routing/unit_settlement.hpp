#pragma once
// What the secondary gets of a mirrored unit once the primary has executed it. The secondary
// follows only what the primary accepted (invariants 5 and 7 in docs/architecture.md).

#include <string>
#include <vector>

#include "routing/phase_rules.hpp"

namespace pgdual::routing {

enum class Settlement {
  drop,  // the primary refused it: the secondary never sees it
  // The primary's transaction ended without committing: a COMMIT answered with ROLLBACK (a
  // failed transaction), or a COMMIT the primary refused. The secondary's ends the same way.
  rollback_instead,
  release,  // sent to the secondary as it is
};

// What the primary did with a unit the secondary is waiting to receive.
struct PrimaryResult {
  bool error = false;
  // The unit started inside a transaction and the primary is out of it afterwards: a COMMIT
  // the primary refused (a deferred constraint, a serialization failure at commit).
  bool left_transaction = false;
  std::vector<std::string> command_tags;  // its CommandComplete tags, in order
};

Settlement settle_unit(const PrimaryResult& primary, const MirrorDecision& decision);

// Whether a unit that ended the transaction on the primary committed it: no error, and its last
// tag is not ROLLBACK (a COMMIT of a failed transaction answers ROLLBACK).
bool transaction_committed(bool primary_error, const std::vector<std::string>& command_tags);

}  // namespace pgdual::routing
