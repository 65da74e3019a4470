#include "routing/sync_wait.hpp"

namespace pgdual::routing {

bool commit_waits_for_catch_up(config::Strategy strategy, const MirrorDecision& decision) {
  return decision.ends_transaction && strategy == config::Strategy::sync;
}

bool ready_for_query_waits(config::Strategy strategy, bool mirrored, protocol::TxnStatus after,
                           bool secondary_usable) {
  return mirrored && strategy == config::Strategy::sync && after == protocol::TxnStatus::idle &&
         secondary_usable;
}

}  // namespace pgdual::routing
