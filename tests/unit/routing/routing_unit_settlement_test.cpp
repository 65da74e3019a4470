#include <catch2/catch.hpp>

#include "routing/unit_settlement.hpp"

using namespace pgdual::routing;

namespace {

MirrorDecision commit_decision() {
  MirrorDecision decision;
  decision.mode = MirrorMode::follow;
  decision.ends_transaction = true;
  decision.is_commit = true;
  return decision;
}

}  // namespace

TEST_CASE("what the primary refused never reaches the secondary") {
  CHECK(settle_unit({true, false, {}}, {}) == Settlement::drop);
  CHECK(settle_unit({true, false, {"ROLLBACK"}}, commit_decision()) == Settlement::drop);
  CHECK(settle_unit({true, false, {"UPDATE 1"}}, {}) == Settlement::drop);
}

TEST_CASE("a COMMIT the primary refused ends the secondary's transaction with a ROLLBACK") {
  // A deferred foreign key or a serialization failure at COMMIT: error, and out of the block.
  CHECK(settle_unit({true, true, {}}, commit_decision()) == Settlement::rollback_instead);
  // An error inside the block leaves the primary in a failed transaction: nothing to send.
  CHECK(settle_unit({true, false, {}}, commit_decision()) == Settlement::drop);
}

TEST_CASE("a COMMIT the primary answered with ROLLBACK becomes a ROLLBACK") {
  CHECK(settle_unit({false, false, {"ROLLBACK"}}, commit_decision()) ==
        Settlement::rollback_instead);
  CHECK(settle_unit({false, false, {"COMMIT"}}, commit_decision()) == Settlement::release);
  CHECK(settle_unit({false, false, {}}, commit_decision()) == Settlement::release);
}

TEST_CASE("a ROLLBACK that is not a lone COMMIT is released as it is") {
  // The client's own ROLLBACK, or a multi-statement string ending in one.
  MirrorDecision not_commit;
  not_commit.mode = MirrorMode::follow;
  not_commit.ends_transaction = true;
  CHECK(settle_unit({false, false, {"ROLLBACK"}}, not_commit) == Settlement::release);
  CHECK(settle_unit({false, false, {"INSERT 0 1", "UPDATE 2"}}, {}) == Settlement::release);
}

TEST_CASE("a transaction committed unless the primary failed or answered ROLLBACK last") {
  CHECK(transaction_committed(false, {}));
  CHECK(transaction_committed(false, {"COMMIT"}));
  CHECK(transaction_committed(false, {"ROLLBACK", "INSERT 0 1"}));
  CHECK_FALSE(transaction_committed(false, {"INSERT 0 1", "ROLLBACK"}));
  CHECK_FALSE(transaction_committed(true, {"COMMIT"}));
}
