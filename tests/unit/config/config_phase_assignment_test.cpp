// The phases a fleet agrees on travel as YAML through the control tables: what to_yaml writes,
// parse_phase_assignment reads back exactly, and nothing else passes for one.

#include <catch2/catch.hpp>

#include "config/phase_assignment.hpp"

using namespace pgdual::config;

namespace {

PhaseAssignment sample() {
  PhaseAssignment a;
  a.phase = Phase::shadow_read;
  a.keep_old_in_sync = false;
  a.tables["public.orders"] = Phase::cutover;
  a.tables["Sales.\"Big: Table\""] = Phase::dual_write;
  TenantRule by_database;
  by_database.match.database = "tenant_a";
  by_database.phase = Phase::cutover;
  TenantRule by_user;
  by_user.match.user = "report: user";
  by_user.match.application_name = "- dash";
  by_user.phase = Phase::prepare;
  a.tenants = {by_database, by_user};
  return a;
}

}  // namespace

TEST_CASE("a phase assignment survives its YAML round trip", "[config]") {
  const PhaseAssignment a = sample();
  std::string error;
  const auto back = parse_phase_assignment(to_yaml(a), error);
  REQUIRE(back);
  CHECK(error.empty());
  CHECK(*back == a);
  CHECK(back->tenants[1].match.user == "report: user");
  CHECK_FALSE(back->tenants[1].match.database);

  const PhaseAssignment empty;
  const auto none = parse_phase_assignment(to_yaml(empty), error);
  REQUIRE(none);
  CHECK(*none == empty);
}

TEST_CASE("a phase assignment differs when any scope's phase differs", "[config]") {
  PhaseAssignment a = sample(), b = sample();
  CHECK(a == b);
  b.tenants[0].phase = Phase::shadow_read;
  CHECK_FALSE(a == b);
  b = sample();
  b.tables.erase("public.orders");
  CHECK_FALSE(a == b);
  b = sample();
  b.keep_old_in_sync = true;
  CHECK_FALSE(a == b);
}

TEST_CASE("with_assignment replaces the phases and keeps every other key", "[config]") {
  MigrationConfig migration;
  migration.strategy = Strategy::cdc;
  migration.shadow_read.sample_rate = 0.25;
  migration.phase = Phase::dual_write;
  const MigrationConfig after = with_assignment(migration, sample());
  CHECK(after.phase == Phase::shadow_read);
  CHECK_FALSE(after.keep_old_in_sync);
  CHECK(after.tables.size() == 2);
  CHECK(after.tenants.size() == 2);
  CHECK(after.strategy == Strategy::cdc);
  CHECK(after.shadow_read.sample_rate == 0.25);
  CHECK(phase_assignment(after) == sample());
}

TEST_CASE("text that is not an assignment is refused with a reason", "[config]") {
  std::string error;
  CHECK_FALSE(parse_phase_assignment("phase: cutover\n", error));
  CHECK(error.find("not a phase assignment") != std::string::npos);
  error.clear();
  CHECK_FALSE(parse_phase_assignment(
      "phase: sideways\nkeep_old_in_sync: true\ntables: {}\ntenants: []\n", error));
  CHECK(error.find("sideways") != std::string::npos);
  error.clear();
  CHECK_FALSE(parse_phase_assignment("[unclosed", error));
  CHECK_FALSE(error.empty());
}
