#include <catch2/catch.hpp>

#include "routing/transaction_status_prediction.hpp"

using namespace pgdual::routing;
using pgdual::protocol::TxnStatus;

namespace {

struct Unit {
  explicit Unit(std::string_view sql) : classification(classify(sql)) {
    for (const auto& statement : classification.statements) facts.statements.push_back(&statement);
  }
  Classification classification;
  UnitFacts facts;
};

TxnStatus after(std::string_view sql, TxnStatus before, MirrorDecision decision = {}) {
  Unit unit(sql);
  return predict_transaction_status(unit.facts, decision, before);
}

}  // namespace

TEST_CASE("BEGIN opens a transaction, COMMIT, ROLLBACK and PREPARE TRANSACTION close it") {
  CHECK(after("BEGIN", TxnStatus::idle) == TxnStatus::in_transaction);
  CHECK(after("START TRANSACTION", TxnStatus::idle) == TxnStatus::in_transaction);
  CHECK(after("COMMIT", TxnStatus::in_transaction) == TxnStatus::idle);
  CHECK(after("ROLLBACK", TxnStatus::in_transaction) == TxnStatus::idle);
  CHECK(after("PREPARE TRANSACTION 'x'", TxnStatus::in_transaction) == TxnStatus::idle);
}

TEST_CASE("other statements keep the status they found") {
  CHECK(after("UPDATE t SET a = 1", TxnStatus::idle) == TxnStatus::idle);
  CHECK(after("UPDATE t SET a = 1", TxnStatus::in_transaction) == TxnStatus::in_transaction);
  CHECK(after("SAVEPOINT s", TxnStatus::in_transaction) == TxnStatus::in_transaction);
  CHECK(after("RELEASE SAVEPOINT s", TxnStatus::in_transaction) == TxnStatus::in_transaction);
  CHECK(after("SELECT 1", TxnStatus::failed) == TxnStatus::failed);
}

TEST_CASE("the unit's last transaction statement wins") {
  CHECK(after("COMMIT; BEGIN", TxnStatus::in_transaction) == TxnStatus::in_transaction);
  CHECK(after("BEGIN; INSERT INTO t VALUES (1); COMMIT", TxnStatus::idle) == TxnStatus::idle);
}

TEST_CASE("a unit the decision says ends the transaction leaves the primary idle") {
  MirrorDecision ends;
  ends.ends_transaction = true;
  CHECK(after("SELECT 1", TxnStatus::in_transaction, ends) == TxnStatus::idle);
  CHECK(after("SELECT 1", TxnStatus::failed, ends) == TxnStatus::idle);
  // ... unless it opens another one afterwards.
  CHECK(after("COMMIT; BEGIN", TxnStatus::in_transaction, ends) == TxnStatus::in_transaction);
}

TEST_CASE("an empty unit (a lone Sync) changes nothing") {
  UnitFacts none;
  CHECK(predict_transaction_status(none, {}, TxnStatus::in_transaction) ==
        TxnStatus::in_transaction);
  CHECK(predict_transaction_status(none, {}, TxnStatus::idle) == TxnStatus::idle);
}
