#pragma once
// The primary's transaction status after a unit, predicted when the unit is sent, before the
// primary answers: the session decides the next unit's routing (and whether it may take a new
// configuration) from it. The primary's ReadyForQuery corrects it once the queue drains.

#include "protocol/constants.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

// `before`: the prediction before the unit. A failed transaction ('E') is never predicted:
// only the primary knows that a statement failed.
protocol::TxnStatus predict_transaction_status(const UnitFacts& unit,
                                               const MirrorDecision& decision,
                                               protocol::TxnStatus before);

}  // namespace pgdual::routing
