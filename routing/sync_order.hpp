#pragma once
// Strategy sync keeps the primary's order across sessions (issue 12). An explicit transaction
// already does: its statements reach the secondary only after the primary executed them, and
// its COMMIT reaches the primary only after the secondary caught up, so the primary's row locks
// are held until the secondary holds them too; a conflicting transaction of another session
// (or another pgdual instance) waits on the primary, and therefore reaches the secondary later.
//
// An autocommit write releases its locks the moment the primary executed it: a conflicting
// write of another session could then reach the secondary first (last-writer-wins rows ended
// different on the two stores). So pgdual runs such a unit on the primary inside its own
// BEGIN ... COMMIT and sends that COMMIT only once the secondary has answered the unit: the
// same rule as an explicit transaction's. The client still hears an autocommit statement.
//
// What cannot be wrapped is let through, counted (pgdual_drift_risk_total) and logged.

#include <string_view>

#include "config/config.hpp"
#include "protocol/constants.hpp"
#include "routing/phase_rules.hpp"

namespace pgdual::routing {

enum class AutocommitOrder {
  not_needed,   // not a mirrored autocommit write under sync
  wrap,         // run inside pgdual's BEGIN ... COMMIT
  unprotected,  // a mirrored autocommit write that cannot be wrapped: let through, counted
};

struct AutocommitUnit {
  config::Strategy strategy = config::Strategy::sync;
  bool mirrored = false;  // sent to the secondary as well
  bool is_write = false;
  protocol::TxnStatus before = protocol::TxnStatus::idle;  // predicted, before the unit
  protocol::TxnStatus after = protocol::TxnStatus::idle;   // predicted, after it
  bool runs_copy = false;      // COPY FROM STDIN: its data follows the unit
  bool bytes_flushed = false;  // part of the unit went to the primary already
};

struct AutocommitOrderDecision {
  AutocommitOrder order = AutocommitOrder::not_needed;
  std::string_view reason;  // for unprotected: the metric's reason label
};

AutocommitOrderDecision autocommit_order(const UnitFacts& facts, const AutocommitUnit& unit);

}  // namespace pgdual::routing
