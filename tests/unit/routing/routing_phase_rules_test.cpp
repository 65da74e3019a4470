#include <catch2/catch.hpp>

#include "classified_unit.hpp"
#include "routing/phase_rules.hpp"

using namespace pgdual::routing;
using pgdual::config::DdlPolicy;
using pgdual::config::MigrationConfig;
using pgdual::config::Phase;

namespace {

using Unit = testing::ClassifiedUnit;

}  // namespace

TEST_CASE("each phase has the spec's primary and secondary") {
  CHECK(roles_for(Phase::prepare, true).primary == Store::old_store);
  CHECK_FALSE(roles_for(Phase::prepare, true).secondary);
  for (auto phase : {Phase::dual_write, Phase::backfill, Phase::shadow_read}) {
    CHECK(roles_for(phase, true).primary == Store::old_store);
    CHECK(roles_for(phase, true).secondary == Store::new_store);
  }
  CHECK(roles_for(Phase::cutover, true).primary == Store::new_store);
  CHECK(roles_for(Phase::cutover, true).secondary == Store::old_store);
  CHECK_FALSE(roles_for(Phase::cutover, false).secondary);
  CHECK(roles_for(Phase::cleanup, true).primary == Store::new_store);
  CHECK_FALSE(roles_for(Phase::cleanup, true).secondary);
}

TEST_CASE("the first matching tenant rule decides the session's phase") {
  MigrationConfig migration;
  migration.phase = Phase::dual_write;
  migration.tenants.push_back(
      {{std::string("tenant_42"), std::nullopt, std::nullopt}, Phase::cutover});
  migration.tenants.push_back({{std::nullopt, std::string("batch"), std::nullopt}, Phase::prepare});
  CHECK(session_phase(migration, {"tenant_42", "app", ""}) == Phase::cutover);
  CHECK(session_phase(migration, {"tenant_42", "batch", ""}) == Phase::cutover);
  CHECK(session_phase(migration, {"other", "batch", ""}) == Phase::prepare);
  CHECK(session_phase(migration, {"other", "app", ""}) == Phase::dual_write);
}

TEST_CASE("table names are normalised as PostgreSQL folds them") {
  CHECK(normalize_table_name("orders") == "public.orders");
  CHECK(normalize_table_name("Sales.Orders") == "sales.orders");
  CHECK(normalize_table_name("\"Sales\".orders") == "Sales.orders");
  CHECK(normalize_table_name("\"My\"\"Table\"") == "public.My\"Table");  // "" is one quote
  CHECK(normalize_table_name("\"a,b\".\"x.y\"") == "a,b.x.y");
}

TEST_CASE("writes follow the primary, reads outside transactions stay on it") {
  MigrationConfig migration;
  migration.phase = Phase::dual_write;
  CHECK(decide_mirror(Unit("SELECT * FROM t").facts, 'I', migration, Phase::dual_write).mode ==
        MirrorMode::none);
  CHECK(decide_mirror(Unit("INSERT INTO t VALUES (1)").facts, 'I', migration, Phase::dual_write)
            .mode == MirrorMode::follow);
  CHECK(decide_mirror(Unit("SELECT * FROM t FOR UPDATE").facts, 'T', migration, Phase::dual_write)
            .mode == MirrorMode::follow);
  CHECK(
      decide_mirror(Unit("SET search_path = app").facts, 'I', migration, Phase::dual_write).mode ==
      MirrorMode::follow);
  CHECK(decide_mirror(Unit("LISTEN jobs").facts, 'I', migration, Phase::dual_write).mode ==
        MirrorMode::none);
  CHECK(decide_mirror(Unit("SELEC garbage").facts, 'I', migration, Phase::dual_write).mode ==
        MirrorMode::none);
}

TEST_CASE("a named Parse of a read is mirrored, so later writes can refer to statement state") {
  MigrationConfig migration;
  Unit unit("SELECT 1");
  unit.facts.changes_statement_state = true;
  CHECK(decide_mirror(unit.facts, 'I', migration, Phase::dual_write).mode == MirrorMode::follow);
}

TEST_CASE("COMMIT ends a transaction and is recognised as a lone commit") {
  MigrationConfig migration;
  auto commit = decide_mirror(Unit("COMMIT").facts, 'T', migration, Phase::dual_write);
  CHECK(commit.mode == MirrorMode::follow);
  CHECK(commit.ends_transaction);
  CHECK(commit.is_commit);
  auto multi = decide_mirror(Unit("INSERT INTO t VALUES (1); COMMIT").facts, 'T', migration,
                             Phase::dual_write);
  CHECK(multi.ends_transaction);
  CHECK_FALSE(multi.is_commit);
  CHECK_FALSE(
      decide_mirror(Unit("ROLLBACK").facts, 'T', migration, Phase::dual_write).ends_transaction);
}

TEST_CASE("the DDL policy decides where DDL goes") {
  MigrationConfig migration;
  Unit ddl("CREATE TABLE t (id int)");
  migration.ddl = DdlPolicy::mirror;
  CHECK(decide_mirror(ddl.facts, 'I', migration, Phase::dual_write).mode == MirrorMode::follow);
  migration.ddl = DdlPolicy::primary_only;
  CHECK(decide_mirror(ddl.facts, 'I', migration, Phase::dual_write).mode == MirrorMode::none);
  migration.ddl = DdlPolicy::reject;
  auto rejected = decide_mirror(ddl.facts, 'I', migration, Phase::dual_write);
  CHECK(rejected.mode == MirrorMode::reject);
  CHECK_FALSE(rejected.reject_reason.empty());
}

TEST_CASE("writes only to tables excluded by an override are not mirrored") {
  MigrationConfig migration;
  migration.phase = Phase::dual_write;
  migration.tables["public.audit_log"] = Phase::prepare;
  CHECK(decide_mirror(Unit("INSERT INTO audit_log VALUES (1)").facts, 'I', migration,
                      Phase::dual_write)
            .mode == MirrorMode::none);
  CHECK(
      decide_mirror(Unit("INSERT INTO orders VALUES (1)").facts, 'I', migration, Phase::dual_write)
          .mode == MirrorMode::follow);
}
