// Tests of cdc/scope.hpp: the phase of a database and of a table (tenant rules, migration.tables
// overrides), which relations the forward publication lists and whose rows travel (partitioned
// roots and their leaves, unlogged and foreign tables skipped with a note), and the text[]
// literals the catalog queries take.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cdc/scope.hpp"

using namespace pgdual;
using cdc::CatalogRelation;
using cdc::TableName;
using config::Phase;

namespace {

TableName name(std::string schema, std::string table) {
  return {.schema = std::move(schema), .table = std::move(table)};
}

CatalogRelation table(std::string schema, std::string table_name, char relkind = 'r',
                      char persistence = 'p') {
  return {.name = name(std::move(schema), std::move(table_name)),
          .relkind = relkind,
          .persistence = persistence,
          .partition_root = std::nullopt};
}

CatalogRelation leaf(std::string schema, std::string table_name, TableName root) {
  CatalogRelation relation = table(std::move(schema), std::move(table_name));
  relation.partition_root = std::move(root);
  return relation;
}

config::TenantRule rule(std::optional<std::string> database, Phase phase,
                        std::optional<std::string> user = std::nullopt) {
  return {.match = {.database = std::move(database),
                    .user = std::move(user),
                    .application_name = std::nullopt},
          .phase = phase};
}

std::vector<std::string> displays(const std::vector<TableName>& tables) {
  std::vector<std::string> out;
  for (const auto& t : tables) out.push_back(t.display());
  return out;
}

}  // namespace

TEST_CASE("database phase: the first tenant rule on the database, else migration.phase") {
  config::MigrationConfig migration;
  migration.phase = Phase::prepare;
  CHECK(cdc::database_phase(migration, "app") == Phase::prepare);
  migration.tenants = {rule("other", Phase::cutover), rule("app", Phase::dual_write),
                       rule("app", Phase::shadow_read)};
  CHECK(cdc::database_phase(migration, "app") == Phase::dual_write);
  CHECK(cdc::database_phase(migration, "other") == Phase::cutover);
  CHECK(cdc::database_phase(migration, "third") == Phase::prepare);
}

TEST_CASE("database phase: rules on a user do not decide a whole database") {
  config::MigrationConfig migration;
  migration.phase = Phase::prepare;
  migration.tenants = {rule("app", Phase::cutover, "alice"), rule(std::nullopt, Phase::backfill)};
  // The user rule is skipped; a rule without conditions matches every database.
  CHECK(cdc::database_phase(migration, "app") == Phase::backfill);
}

TEST_CASE("table phase: migration.tables by the stored names, else the database's") {
  config::MigrationConfig migration;
  migration.tables = {{"public.orders", Phase::cutover}, {"Sales.Big", Phase::backfill}};
  CHECK(cdc::table_phase(migration, Phase::dual_write, name("public", "orders")) == Phase::cutover);
  CHECK(cdc::table_phase(migration, Phase::dual_write, name("Sales", "Big")) == Phase::backfill);
  CHECK(cdc::table_phase(migration, Phase::dual_write, name("sales", "big")) == Phase::dual_write);
  CHECK(cdc::table_phase(migration, Phase::prepare, name("public", "items")) == Phase::prepare);
}

TEST_CASE("published forward: dual_write, backfill and shadow_read only") {
  CHECK_FALSE(cdc::published_forward(Phase::prepare));
  CHECK(cdc::published_forward(Phase::dual_write));
  CHECK(cdc::published_forward(Phase::backfill));
  CHECK(cdc::published_forward(Phase::shadow_read));
  CHECK_FALSE(cdc::published_forward(Phase::cutover));
  CHECK_FALSE(cdc::published_forward(Phase::cleanup));
}

TEST_CASE("scope: tables follow their phase, nothing is published in prepare") {
  config::MigrationConfig migration;
  migration.phase = Phase::prepare;
  const std::vector<CatalogRelation> relations = {table("public", "b"), table("public", "a"),
                                                  table("s", "c")};
  CHECK(cdc::decide_scope(migration, "app", relations).published.empty());

  migration.phase = Phase::dual_write;
  migration.tables = {{"s.c", Phase::cutover}};
  const auto scope = cdc::decide_scope(migration, "app", relations);
  CHECK(displays(scope.published) == std::vector<std::string>{"public.a", "public.b"});
  CHECK(displays(scope.replicated) == std::vector<std::string>{"public.a", "public.b"});
  CHECK(scope.notes.empty());

  // A table in dual_write while the database is in prepare.
  migration.phase = Phase::prepare;
  migration.tables = {{"s.c", Phase::backfill}};
  CHECK(displays(cdc::decide_scope(migration, "app", relations).published) ==
        std::vector<std::string>{"s.c"});
}

TEST_CASE("scope: a partitioned table is published as its root, its leaves carry the rows") {
  config::MigrationConfig migration;
  migration.phase = Phase::dual_write;
  const TableName root = name("public", "events");
  const std::vector<CatalogRelation> relations = {
      leaf("public", "events_2025", root), table("public", "events", 'p'),
      leaf("public", "events_2026", root), table("public", "plain")};
  auto scope = cdc::decide_scope(migration, "app", relations);
  CHECK(displays(scope.published) == std::vector<std::string>{"public.events", "public.plain"});
  CHECK(displays(scope.replicated) ==
        std::vector<std::string>{"public.events_2025", "public.events_2026", "public.plain"});

  // The leaves follow the root's phase, not entries of their own.
  migration.tables = {{"public.events", Phase::cutover}, {"public.events_2025", Phase::dual_write}};
  scope = cdc::decide_scope(migration, "app", relations);
  CHECK(displays(scope.published) == std::vector<std::string>{"public.plain"});
  CHECK(displays(scope.replicated) == std::vector<std::string>{"public.plain"});
}

TEST_CASE("scope: unlogged and foreign tables are skipped with a note") {
  config::MigrationConfig migration;
  migration.phase = Phase::dual_write;
  const auto scope = cdc::decide_scope(
      migration, "app",
      {table("public", "cache", 'r', 'u'), table("public", "remote", 'f'), table("public", "t")});
  CHECK(displays(scope.published) == std::vector<std::string>{"public.t"});
  REQUIRE(scope.notes.size() == 2);
  CHECK(scope.notes[0].find("public.cache is unlogged") != std::string::npos);
  CHECK(scope.notes[1].find("public.remote is a foreign table") != std::string::npos);

  // Out of scope by phase: no note.
  migration.phase = Phase::cutover;
  CHECK(cdc::decide_scope(migration, "app", {table("public", "cache", 'r', 'u')}).notes.empty());
}

TEST_CASE("names: quoted for SQL, displayed as stored") {
  CHECK(name("public", "orders").quoted() == R"("public"."orders")");
  CHECK(name("My Schema", R"(we"ird)").quoted() == R"("My Schema"."we""ird")");
  CHECK(name("Sales", "Big").display() == "Sales.Big");
  CHECK(cdc::list_names({name("a", "b"), name("c", "d")}) == "a.b, c.d");
}

TEST_CASE("text[] literals quote every element") {
  CHECK(cdc::text_array({}) == "{}");
  CHECK(cdc::text_array({"public", "a b"}) == R"({"public","a b"})");
  CHECK(cdc::text_array({R"(q"uote)", R"(back\slash)", "a,b", "{x}"}) ==
        R"({"q\"uote","back\\slash","a,b","{x}"})");
  CHECK(cdc::name_arrays({name("s", "t"), name("u", "v")}) ==
        std::vector<std::string>{R"({"s","u"})", R"({"t","v"})"});
}
