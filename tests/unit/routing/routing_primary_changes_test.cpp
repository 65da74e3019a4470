// Which configuration changes give some scope the other primary: under fleet coordination each
// is one flip of the whole fleet, and those towards the new store pass the cutover gate.

#include <catch2/catch.hpp>

#include "routing/primary_changes.hpp"

using namespace pgdual;
using config::Phase;
using routing::Store;

namespace {

config::MigrationConfig at(Phase phase) {
  config::MigrationConfig m;
  m.phase = phase;
  return m;
}

}  // namespace

TEST_CASE("the global phase: cutover and its rollback change the primary", "[routing]") {
  auto changes = routing::primary_changes(at(Phase::shadow_read), at(Phase::cutover));
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(changes[0].database);
  CHECK(changes[0].before == Store::old_store);
  CHECK(changes[0].after == Store::new_store);
  changes = routing::primary_changes(at(Phase::cutover), at(Phase::dual_write));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].after == Store::old_store);
  // cleanup straight from before cutover moves the primary too; from cutover it does not.
  CHECK(routing::primary_changes(at(Phase::dual_write), at(Phase::cleanup)).size() == 1);
  CHECK(routing::same_primaries(at(Phase::cutover), at(Phase::cleanup)));
}

TEST_CASE("phase changes that keep the primary are not flips", "[routing]") {
  CHECK(routing::same_primaries(at(Phase::prepare), at(Phase::dual_write)));
  CHECK(routing::same_primaries(at(Phase::dual_write), at(Phase::shadow_read)));
  CHECK(routing::same_primaries(at(Phase::shadow_read), at(Phase::backfill)));
  auto kept = at(Phase::cutover);
  kept.keep_old_in_sync = false;
  CHECK(routing::same_primaries(at(Phase::cutover), kept));
}

TEST_CASE("a table entry added, changed or removed changes its primary", "[routing]") {
  auto before = at(Phase::shadow_read);
  auto after = before;
  after.tables["public.orders"] = Phase::cutover;
  auto changes = routing::primary_changes(before, after);
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(changes[0].database);  // a table is in every database
  CHECK(changes[0].after == Store::new_store);
  // Removed: the table falls back to migration.phase (old primary).
  changes = routing::primary_changes(after, before);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].after == Store::old_store);
  // Moved between phases of the same primary: no flip.
  auto other = before;
  other.tables["public.orders"] = Phase::dual_write;
  CHECK(routing::same_primaries(before, other));
}

TEST_CASE("a tenant rule names its database", "[routing]") {
  auto before = at(Phase::shadow_read);
  auto after = before;
  config::TenantRule rule;
  rule.match.database = "tenant_a";
  rule.phase = Phase::cutover;
  after.tenants.push_back(rule);
  auto changes = routing::primary_changes(before, after);
  REQUIRE(changes.size() == 1);
  REQUIRE(changes[0].database);
  CHECK(*changes[0].database == "tenant_a");
  config::TenantRule by_user;
  by_user.match.user = "reports";
  by_user.phase = Phase::cutover;
  after.tenants = {by_user};
  changes = routing::primary_changes(before, after);
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(changes[0].database);
}
