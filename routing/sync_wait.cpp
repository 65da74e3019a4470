#include "routing/sync_wait.hpp"

namespace pgdual::routing {

namespace {
// Under cdc the secondary gets only DDL and what surrounds it (routing/cdc_rules.hpp), and the
// client hears of it only once the new store has it too, as under sync.
bool waits_for_secondary(config::Strategy strategy) {
  return strategy == config::Strategy::sync || strategy == config::Strategy::cdc;
}
}  // namespace

bool commit_waits_for_catch_up(config::Strategy strategy, const MirrorDecision& decision) {
  return decision.ends_transaction && waits_for_secondary(strategy);
}

bool ready_for_query_waits(config::Strategy strategy, bool mirrored, protocol::TxnStatus after,
                           bool secondary_usable) {
  return mirrored && waits_for_secondary(strategy) && after == protocol::TxnStatus::idle &&
         secondary_usable;
}

}  // namespace pgdual::routing
