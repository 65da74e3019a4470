#include "routing/unit_settlement.hpp"

namespace pgdual::routing {

namespace {

bool answered_rollback(const std::vector<std::string>& command_tags) {
  return !command_tags.empty() && command_tags.back() == "ROLLBACK";
}

}  // namespace

Settlement settle_unit(const PrimaryResult& primary, const MirrorDecision& decision) {
  if (primary.error) {
    // Left open, the secondary's transaction would swallow the session's next writes and roll
    // them back with it.
    return primary.left_transaction ? Settlement::rollback_instead : Settlement::drop;
  }
  if (decision.is_commit && answered_rollback(primary.command_tags)) {
    return Settlement::rollback_instead;
  }
  return Settlement::release;
}

bool transaction_committed(bool primary_error, const std::vector<std::string>& command_tags) {
  return !primary_error && !answered_rollback(command_tags);
}

}  // namespace pgdual::routing
