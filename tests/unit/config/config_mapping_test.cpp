// migration.mapping: its shape and the errors that name the key and the column
// (config/mapping_parser.cpp). The catalogs' checks are jobs/mapping's (mapping_resolved_test).

#include <catch2/catch.hpp>

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

namespace {

const std::string kMapping = R"yaml(
migration:
  phase: dual_write
  mapping:
    tables:
      accounts:
        to: Bank.Account
        columns:
          id: {cast: bigint}
          owner: {to: owner_name}
          balance: {to: balance_cents, expr: "round(balance * 100)::bigint", inverse: "balance_cents / 100.0", lossless: true}
          note: {if_null: "''"}
          legacy_flag: {drop: true}
        new_columns:
          created_at: {default: server}
          balance_eur: {expr: "round(balance * 0.92, 2)"}
)yaml";

LoadResult load_mapping(const std::string& tables, const std::string& extra = "") {
  return load(kTrust + kBackends + "migration:\n  phase: dual_write\n" + extra +
              "  mapping:\n    tables:\n" + tables);
}

}  // namespace

TEST_CASE("mapping: a full table entry", "[config]") {
  const auto r = load(kTrust + kBackends + kMapping);
  REQUIRE(r.ok());
  const auto& mapping = r.config->migration.mapping;
  CHECK(mapping.schema == "pgdual_map");
  CHECK(mapping.rollback == MappingRollback::refuse_if_lossy);
  REQUIRE(mapping.tables.size() == 1);
  const auto& table = mapping.tables.at("public.accounts");  // normalised like migration.tables
  CHECK(table.to == "bank.account");
  CHECK(table.columns.at("id").cast == "bigint");
  CHECK(table.columns.at("owner").to == "owner_name");
  CHECK(table.columns.at("balance").lossless == true);
  CHECK(table.columns.at("note").if_null == "''");
  CHECK(table.columns.at("legacy_flag").drop);
  CHECK(table.new_columns.at("created_at").expr.empty());
  CHECK(table.new_columns.at("balance_eur").expr == "round(balance * 0.92, 2)");
}

TEST_CASE("mapping: a table without `to` keeps its name", "[config]") {
  const auto r =
      load_mapping("      orders:\n        columns:\n          total: {cast: numeric}\n");
  REQUIRE(r.ok());
  CHECK(r.config->migration.mapping.tables.at("public.orders").to == "public.orders");
}

TEST_CASE("mapping: each mistake names its key and column", "[config]") {
  const auto path = [](const std::string& rest) {
    return "migration.mapping.tables.accounts" + rest;
  };
  struct Case {
    std::string yaml, key, fragment;
  };
  const std::vector<Case> cases = {
      {"columns:\n          a: {drop: true, to: b}\n", ".columns.a.drop", "dropped column"},
      {"columns:\n          a: {cast: bigint, expr: \"a + 1\", inverse: a}\n", ".columns.a.cast",
       "either cast or expr"},
      {"columns:\n          a: {expr: \"a * 2\"}\n", ".columns.a.expr", "needs an inverse"},
      {"columns:\n          a: {inverse: a}\n", ".columns.a.inverse", "belongs to an expression"},
      {"columns:\n          a: {lossless: true}\n", ".columns.a.lossless", "a claim"},
      {"columns:\n          a: {to: c}\n          b: {to: c}\n", ".columns.b", "target of another"},
      {"new_columns:\n          c: {default: now}\n", ".new_columns.c.default", "server"},
      {"new_columns:\n          c: {}\n", ".new_columns.c", "default: server or an expr"},
      {"columns:\n          a: {to: c}\n        new_columns:\n          c: {default: server}\n",
       ".new_columns.c", "also the target"},
      {"to: \"a.b.c\"\n", ".to", "not a valid table name"},
      {"columns:\n          a: {colour: red}\n", ".columns.a.colour", ""},
  };
  for (const auto& c : cases) {
    const auto r = load_mapping("      accounts:\n        " + c.yaml);
    INFO(c.yaml << all_errors(r));
    CHECK_FALSE(r.ok());
    CHECK(has_error_at(r, path(c.key), c.fragment));
  }
}

TEST_CASE("mapping: views are named after the table alone and live in their own schema",
          "[config]") {
  const auto twice = load_mapping("      a.t: {to: x.t}\n      b.t: {to: y.t}\n");
  CHECK(has_error_at(twice, "migration.mapping.tables[\"b.t\"]", "same name as the view of a.t"));
  const auto inside = load_mapping("      t: {to: pgdual_map.t}\n");
  CHECK(has_error_at(inside, "migration.mapping.tables.t", "holds pgdual's views"));
  const auto bad_rollback =
      load(kTrust + kBackends + "migration:\n  mapping:\n    rollback: sometimes\n");
  CHECK(has_error_at(bad_rollback, "migration.mapping.rollback", "refuse_if_lossy, allow"));
}

TEST_CASE("mapping: strategy cdc cannot carry a mapping", "[config]") {
  const auto r = load_mapping("      accounts: {to: bank.account}\n", "  strategy: cdc\n");
  CHECK(has_error_at(r, "migration.mapping.tables", "strategy cdc replicates each table"));
}

TEST_CASE("mapping: a restart-only key", "[config]") {
  const auto running = load(kTrust + kBackends + kMapping);
  auto changed_yaml = kTrust + kBackends + kMapping;
  changed_yaml.replace(changed_yaml.find("owner_name"), 10, "owner_nm");
  const auto changed = load(changed_yaml);
  REQUIRE(running.ok());
  REQUIRE(changed.ok());
  const auto keys = keys_needing_restart(*running.config, *changed.config);
  CHECK(std::find(keys.begin(), keys.end(), "migration.mapping") != keys.end());
}

TEST_CASE("mapping: its rollback rule reloads live", "[config]") {
  const auto running = load(kTrust + kBackends + kMapping);
  const auto allowed = load(kTrust + kBackends + kMapping + "    rollback: allow\n");
  REQUIRE(running.ok());
  REQUIRE(allowed.ok());
  CHECK(allowed.config->migration.mapping.rollback == MappingRollback::allow);
  CHECK(keys_needing_restart(*running.config, *allowed.config).empty());
  const auto kept = keep_restart_only_keys(*running.config, *allowed.config);
  CHECK(kept.migration.mapping.rollback == MappingRollback::allow);
}
