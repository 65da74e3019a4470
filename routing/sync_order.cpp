#include "routing/sync_order.hpp"

namespace pgdual::routing {

namespace {

// Statements that run unchanged inside a transaction block: reads and DML. DDL may refuse a
// block (CREATE INDEX CONCURRENTLY, VACUUM), session statements change meaning in one (SET
// LOCAL), transaction control would nest.
bool wrappable(const StatementInfo& statement) {
  if (statement.transaction != TransactionAction::none) return false;
  return statement.kind == StatementKind::write || statement.kind == StatementKind::read;
}

}  // namespace

AutocommitOrderDecision autocommit_order(const UnitFacts& facts, const AutocommitUnit& unit) {
  using protocol::TxnStatus;
  if (unit.strategy != config::Strategy::sync || !unit.mirrored || !unit.is_write ||
      unit.before != TxnStatus::idle) {
    return {};
  }
  bool commits_inside = false, wrappable_all = !facts.statements.empty() && !facts.parse_failed;
  for (const auto* statement : facts.statements) {
    if (statement->transaction == TransactionAction::commit ||
        statement->transaction == TransactionAction::commit_prepared) {
      commits_inside = true;
    }
    if (!wrappable(*statement)) wrappable_all = false;
  }
  if (unit.after != TxnStatus::idle) {
    // Opens a transaction (BEGIN; UPDATE ...): its COMMIT comes later and is held as usual.
    return {};
  }
  if (commits_inside) return {AutocommitOrder::unprotected, "commit_in_unit"};
  if (facts.has_function_call) return {AutocommitOrder::unprotected, "function_call"};
  if (unit.runs_copy) return {AutocommitOrder::unprotected, "copy"};
  if (unit.bytes_flushed) return {AutocommitOrder::unprotected, "unit_flushed"};
  if (!wrappable_all) return {AutocommitOrder::unprotected, "statement_kind"};
  return {AutocommitOrder::wrap, {}};
}

}  // namespace pgdual::routing
