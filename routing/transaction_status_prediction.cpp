#include "routing/transaction_status_prediction.hpp"

namespace pgdual::routing {

protocol::TxnStatus predict_transaction_status(const UnitFacts& unit,
                                               const MirrorDecision& decision,
                                               protocol::TxnStatus before) {
  using protocol::TxnStatus;
  TxnStatus status = decision.ends_transaction ? TxnStatus::idle : before;
  // The last transaction statement of the unit wins ("COMMIT; BEGIN" leaves one open).
  for (const auto* statement : unit.statements) {
    if (statement->transaction == TransactionAction::begin) {
      status = TxnStatus::in_transaction;
    } else if (statement->transaction == TransactionAction::commit ||
               statement->transaction == TransactionAction::rollback ||
               statement->transaction == TransactionAction::prepare_transaction) {
      status = TxnStatus::idle;
    }
  }
  return status;
}

}  // namespace pgdual::routing
