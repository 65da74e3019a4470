#include <catch2/catch.hpp>

#include "proxy/backend/primary_leg.hpp"

using namespace pgdual;
using namespace pgdual::proxy;
using pgdual::protocol::TxnStatus;

namespace {

PrimaryUnit own_statement(UnitId id, UnitOrigin origin) {
  PrimaryUnit unit;
  unit.id = id;
  unit.origin = origin;
  return unit;
}

std::vector<UnitId> ids(const PrimaryLeg& leg) {
  std::vector<UnitId> out;
  for (const auto& unit : leg.units()) out.push_back(unit.id);
  return out;
}

}  // namespace

TEST_CASE("a new leg is idle and empty") {
  PrimaryLeg leg;
  CHECK(leg.empty());
  CHECK(leg.idle());
  CHECK(leg.status() == TxnStatus::idle);
  CHECK(leg.newest_id() == 0);
  CHECK_FALSE(leg.pending(1));
  CHECK(leg.find(1) == nullptr);
}

TEST_CASE("the primary's replies belong to the oldest unit, in the order sent") {
  PrimaryLeg leg;
  auto& first = leg.open_unit(1);
  CHECK(first.origin == UnitOrigin::client);
  leg.open_unit(2);
  CHECK(leg.oldest().id == 1);
  CHECK(leg.newest().id == 2);
  CHECK(leg.newest_id() == 2);
  CHECK_FALSE(leg.idle());

  auto finished = leg.finish_oldest(TxnStatus::in_transaction);
  CHECK(finished.id == 1);
  CHECK(leg.status() == TxnStatus::in_transaction);
  CHECK(leg.oldest().id == 2);
  leg.finish_oldest(TxnStatus::idle);
  CHECK(leg.idle());
}

TEST_CASE("pgdual's own statement goes before the open unit whose bytes wait behind it") {
  PrimaryLeg leg;
  leg.open_unit(1);
  leg.open_unit(2);
  leg.insert_before_newest(own_statement(3, UnitOrigin::values_query));
  CHECK(ids(leg) == std::vector<UnitId>{1, 3, 2});
  leg.append(own_statement(4, UnitOrigin::shadow_rerun));
  CHECK(ids(leg) == std::vector<UnitId>{1, 3, 2, 4});
  CHECK(leg.newest().origin == UnitOrigin::shadow_rerun);
}

TEST_CASE("dropping pgdual's own unit keeps the status of the client's last ReadyForQuery") {
  PrimaryLeg leg;
  leg.open_unit(1);
  leg.finish_oldest(TxnStatus::in_transaction);
  leg.append(own_statement(2, UnitOrigin::serialize_unlock));
  leg.drop_oldest();
  CHECK(leg.empty());
  CHECK(leg.status() == TxnStatus::in_transaction);
  CHECK_FALSE(leg.idle());
}

TEST_CASE("a unit is pending until its ReadyForQuery, and can be found by id") {
  PrimaryLeg leg;
  leg.open_unit(7);
  CHECK(leg.pending(7));
  auto* unit = leg.find(7);
  REQUIRE(unit != nullptr);
  unit->error = true;
  CHECK(leg.oldest().error);
  leg.finish_oldest(TxnStatus::idle);
  CHECK_FALSE(leg.pending(7));
  CHECK(leg.find(7) == nullptr);
}

TEST_CASE("only the client's units reach the client, journal INSERTs are told apart") {
  CHECK_FALSE(swallowed(UnitOrigin::client));
  CHECK_FALSE(swallowed(UnitOrigin::client_wrapped));
  for (auto origin :
       {UnitOrigin::wrapper_begin, UnitOrigin::wrapper_insert, UnitOrigin::wrapper_commit,
        UnitOrigin::journal_insert, UnitOrigin::values_query, UnitOrigin::shadow_rerun,
        UnitOrigin::abort_statement, UnitOrigin::serialize_unlock}) {
    CHECK(swallowed(origin));
  }
  CHECK(is_journal_insert(UnitOrigin::journal_insert));
  CHECK(is_journal_insert(UnitOrigin::wrapper_insert));
  CHECK_FALSE(is_journal_insert(UnitOrigin::wrapper_commit));
  CHECK_FALSE(is_journal_insert(UnitOrigin::client));
}
