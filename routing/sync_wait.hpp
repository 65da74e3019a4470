#pragma once
// Strategy sync: a transaction the primary finished is acknowledged only once the secondary has
// it too. The two places the session waits, decided here once:
//   - before the primary commits: the secondary catches up with the transaction's units, so the
//     primary commits only what the secondary could apply (and may still refuse the COMMIT);
//   - the client's ReadyForQuery after the unit that left the primary idle (committed, rolled
//     back, or an autocommit write) waits until the secondary has answered that unit.
// Inside a transaction the client's replies never wait for the secondary.

#include "config/config.hpp"
#include "protocol/constants.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

// The unit ends a transaction the secondary follows: the secondary must catch up before the
// primary executes it. (Asked only for a unit sent to the secondary.)
bool commit_waits_for_catch_up(config::Strategy strategy, const MirrorDecision& decision);

// The ReadyForQuery that ends a mirrored unit with the primary in `after` waits for the
// secondary's answer to the unit (and then carries the status the session settled on).
bool ready_for_query_waits(config::Strategy strategy, bool mirrored, protocol::TxnStatus after,
                           bool secondary_usable);

}  // namespace pgdual::routing
