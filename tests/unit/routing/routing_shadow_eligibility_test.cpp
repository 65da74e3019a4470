#include <catch2/catch.hpp>

#include "classified_unit.hpp"
#include "routing/shadow_eligibility.hpp"

using namespace pgdual::routing;
using pgdual::config::MigrationConfig;
using pgdual::config::Phase;
using pgdual::protocol::TxnStatus;

namespace {

using Unit = testing::ClassifiedUnit;

std::optional<ShadowCandidate> candidate(std::string_view sql, const MigrationConfig& migration,
                                         Phase phase = Phase::shadow_read,
                                         TxnStatus status = TxnStatus::idle) {
  Unit unit(sql);
  return shadow_candidate(unit.facts, MirrorDecision{}, status, migration, phase, NameContext{});
}

}  // namespace

TEST_CASE(
    "a read outside a transaction in the shadow_read phase is shadowed under its first table") {
  MigrationConfig migration;
  auto read = candidate("SELECT * FROM orders o JOIN items i ON i.order_id = o.id", migration);
  REQUIRE(read);
  CHECK(read->table == "public.orders");
  CHECK_FALSE(read->ordered);
  auto ordered = candidate("SELECT * FROM Sales.Orders ORDER BY id", migration);
  REQUIRE(ordered);
  CHECK(ordered->table == "sales.orders");
  CHECK(ordered->ordered);
  auto no_table = candidate("SELECT 1", migration);
  REQUIRE(no_table);
  CHECK(no_table->table == "(none)");
}

TEST_CASE("inside a transaction, writes, other phases and ignored tables are not shadowed") {
  MigrationConfig migration;
  CHECK_FALSE(
      candidate("SELECT * FROM orders", migration, Phase::shadow_read, TxnStatus::in_transaction));
  CHECK_FALSE(candidate("SELECT * FROM orders", migration, Phase::shadow_read, TxnStatus::failed));
  CHECK_FALSE(candidate("UPDATE orders SET n = 1", migration));
  CHECK_FALSE(candidate("SELECT 1; UPDATE orders SET n = 1", migration));
  CHECK_FALSE(candidate("SELECT * FROM orders", migration, Phase::dual_write));
  CHECK_FALSE(candidate("SELEC nonsense", migration));
  migration.shadow_read.ignore_tables = {"public.audit"};
  CHECK_FALSE(candidate("SELECT * FROM orders JOIN audit USING (id)", migration));
  CHECK(candidate("SELECT * FROM orders", migration));
}

TEST_CASE("a table's own phase decides, else the session's") {
  MigrationConfig migration;
  migration.tables["public.orders"] = Phase::shadow_read;
  migration.tables["public.items"] = Phase::dual_write;
  CHECK(candidate("SELECT * FROM orders", migration, Phase::dual_write));
  CHECK_FALSE(candidate("SELECT * FROM items", migration, Phase::shadow_read));
  CHECK_FALSE(
      candidate("SELECT * FROM orders JOIN items USING (id)", migration, Phase::shadow_read));
  // A read of no table follows the session's phase.
  CHECK_FALSE(candidate("SELECT 1", migration, Phase::dual_write));
}

TEST_CASE("a unit with a fastpath call or a statement-state change is not shadowed") {
  MigrationConfig migration;
  Unit unit("SELECT * FROM orders");
  unit.facts.has_function_call = true;
  CHECK_FALSE(shadow_candidate(unit.facts, MirrorDecision{}, TxnStatus::idle, migration,
                               Phase::shadow_read, NameContext{}));
  unit.facts.has_function_call = false;
  unit.facts.changes_statement_state = true;
  CHECK_FALSE(shadow_candidate(unit.facts, MirrorDecision{}, TxnStatus::idle, migration,
                               Phase::shadow_read, NameContext{}));
  MirrorDecision mirrored;
  mirrored.mode = MirrorMode::follow;
  unit.facts.changes_statement_state = false;
  CHECK_FALSE(shadow_candidate(unit.facts, mirrored, TxnStatus::idle, migration, Phase::shadow_read,
                               NameContext{}));
}
