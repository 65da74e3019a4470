#include <catch2/catch.hpp>

#include "routing/classify/catalog_facts.hpp"
#include "routing/phase_rules.hpp"

using namespace pgdual::routing;
using pgdual::config::MigrationConfig;
using pgdual::config::Phase;

namespace {

TextRow row(const char* kind, std::optional<std::string> schema, std::optional<std::string> name,
            std::optional<std::string> extra, std::optional<std::string> identity = std::nullopt,
            std::optional<std::string> position = std::nullopt,
            std::optional<std::string> expression = std::nullopt,
            std::optional<std::string> sequence = std::nullopt,
            std::optional<std::string> not_immutable = std::string("false")) {
  return {std::string(kind),     std::move(schema),   std::move(name),
          std::move(extra),      std::move(identity), std::move(position),
          std::move(expression), std::move(sequence), std::move(not_immutable)};
}

CatalogFacts sample_facts() {
  return catalog_facts_from_rows({
      row("f", "public", "bump_counter", std::nullopt),
      row("f", "app", "audit", std::nullopt),
      row("r", "public", "orders", "16400"),
      row("r", "app", "orders", "16410"),
      row("r", "app", "items", "16420"),
      row("k", std::nullopt, "16400", "1 3"),
      row("x", "ignored", "row", std::nullopt),
      row("d", "public", "orders", "id", "", "1", "nextval('orders_id_seq'::regclass)",
          "public.orders_id_seq"),
      row("d", "public", "orders", "created", "", "3", "now()", std::nullopt),
      row("d", "public", "orders", "ref", "", "4", "gen_random_uuid()", std::nullopt),
      row("d", "public", "orders", "note", "", "5", "'none'::text", std::nullopt),
      // Not immutable by the catalog's own volatility, whatever the function is called.
      row("d", "public", "events", "at", "", "2", "timezone('utc'::text, now())", std::nullopt,
          "true"),
      row("d", "public", "events", "score", "", "3", "random()", std::nullopt, "true"),
      row("d", "public", "events", "tag", "", "4", "lower('X'::text)", std::nullopt, "false"),
      row("d", "app", "orders", "id", "a", "1", std::nullopt, "app.orders_id_seq"),
      row("d", "app", "items", "n", "", "2", "nextval('shared_seq'::regclass)", std::nullopt),
      {std::string("f")},  // malformed: skipped
  });
}

struct Unit {
  explicit Unit(std::string_view sql) : classification(classify(sql)) {
    for (const auto& statement : classification.statements) facts.statements.push_back(&statement);
  }
  Classification classification;
  UnitFacts facts;
};

}  // namespace

TEST_CASE("catalog rows become facts") {
  const auto facts = sample_facts();
  CHECK(facts.is_volatile_user_function("bump_counter"));
  CHECK(facts.is_volatile_user_function("public.bump_counter"));
  CHECK(facts.is_volatile_user_function("app.audit"));
  CHECK(facts.is_volatile_user_function("audit"));
  CHECK_FALSE(facts.is_volatile_user_function("other.audit"));
  CHECK_FALSE(facts.is_volatile_user_function("now"));
  CHECK(facts.relation_names.at(16410) == "app.orders");
  CHECK(facts.primary_keys.at(16400) == std::vector<int>{1, 3});
  CHECK(facts.relation_schemas.at("orders").size() == 2);
}

TEST_CASE("a default that calls anything not immutable is opaque: pgdual cannot make it literal") {
  const auto facts = sample_facts();
  const auto& events = facts.column_defaults.at("public.events");
  REQUIRE(events.size() == 2);  // lower('X') is immutable: the same on both stores
  CHECK(events[0].column == "at");
  CHECK(events[0].kind == DefaultKind::opaque);
  CHECK(events[0].expression == "timezone('utc'::text, now())");
  CHECK(events[1].kind == DefaultKind::opaque);
}

TEST_CASE("volatile column defaults are classified for the rewrite") {
  const auto facts = sample_facts();
  const auto& orders = facts.column_defaults.at("public.orders");
  REQUIRE(orders.size() == 3);  // the constant default is not volatile
  CHECK(orders[0].column == "id");
  CHECK(orders[0].kind == DefaultKind::sequence);
  CHECK(orders[0].sequence == "public.orders_id_seq");
  CHECK(orders[0].position == 1);
  CHECK(orders[1].kind == DefaultKind::time);
  CHECK(orders[2].kind == DefaultKind::uuid);
  const auto& app = facts.column_defaults.at("app.orders");
  CHECK(app[0].identity == Identity::always);
  CHECK(app[0].sequence == "app.orders_id_seq");
  CHECK(facts.column_defaults.at("app.items")[0].sequence == "shared_seq");
  // The bare name is the table the search_path selects.
  const std::vector<std::string> app_first{"app", "public"};
  const std::vector<std::string> default_path{"$user", "public"};
  CHECK(defaults_for_session(facts, app_first, "u").at("orders")[0].identity == Identity::always);
  CHECK(defaults_for_session(facts, default_path, "u").at("orders").size() == 3);
  CHECK_FALSE(defaults_for_session(facts, default_path, "u").contains("items"));
}

TEST_CASE("extensions' volatile functions and every function name are kept for the writes") {
  const auto facts = catalog_facts_from_rows({
      row("f", "public", "bump_counter", std::nullopt),
      row("e", "public", "gen_random_bytes", std::nullopt),
      row("e", "ext", "uuid_generate_v1", std::nullopt),
      row("n", "pg_catalog", "\"RI_FKey_check_ins\",lower,now", std::nullopt),
      row("n", "public", "bump_counter,gen_random_bytes,\"Odd, Name\"", std::nullopt),
      row("n", "ext", "uuid_generate_v1", std::nullopt),
  });
  const FunctionCatalog& functions = facts.functions;
  CHECK(functions.is_extension_volatile("gen_random_bytes"));
  CHECK(functions.is_extension_volatile("public.gen_random_bytes"));
  CHECK(functions.is_extension_volatile("ext.uuid_generate_v1"));
  CHECK_FALSE(functions.is_extension_volatile("bump_counter"));
  // Read routing is unchanged: an extension's function does not make a read a write.
  CHECK_FALSE(facts.is_volatile_user_function("gen_random_bytes"));
  CHECK(facts.is_volatile_user_function("bump_counter"));
  for (const char* known : {"now", "pg_catalog.now", "lower", "RI_FKey_check_ins", "Odd, Name",
                            "public.Odd, Name", "ext.uuid_generate_v1", "bump_counter"}) {
    INFO(known);
    CHECK(functions.knows(known));
  }
  CHECK_FALSE(functions.knows("brand_new"));
  CHECK_FALSE(functions.knows("public.now"));
  CHECK_FALSE(functions.knows("ri_fkey_check_ins"));
  CHECK(functions.knows("db.public.anything"));  // PostgreSQL refuses it itself
  // Without the names (an older catalog row set) nothing is unknown.
  CHECK(sample_facts().functions.knows("brand_new"));
}

TEST_CASE("search_path text is split like PostgreSQL reports it") {
  CHECK(parse_search_path("\"$user\", public") == std::vector<std::string>{"$user", "public"});
  CHECK(parse_search_path("App,\"My Schema\" ,x") ==
        std::vector<std::string>{"app", "My Schema", "x"});
  CHECK(parse_search_path("\"a\"\"b\"") == std::vector<std::string>{"a\"b"});
  CHECK(parse_search_path("").empty());
}

TEST_CASE("SET search_path statements give the new path") {
  CHECK(search_path_from_set("SET search_path TO app, public") ==
        std::vector<std::string>{"app", "public"});
  CHECK(search_path_from_set("set search_path = App, \"Mixed\"") ==
        std::vector<std::string>{"app", "Mixed"});
  CHECK(search_path_from_set("SET SESSION search_path TO 'x'") == std::vector<std::string>{"x"});
  CHECK(search_path_from_set("SET search_path TO DEFAULT") == std::vector<std::string>{});
  CHECK_FALSE(search_path_from_set("SET work_mem = '64MB'"));
  CHECK_FALSE(search_path_from_set("SELECT 1"));
  CHECK_FALSE(search_path_from_set("SET search_path TO a; SET search_path TO b"));
}

TEST_CASE("unqualified tables resolve through the search_path") {
  const auto facts = sample_facts();
  const std::vector<std::string> app_first{"app", "public"};
  const std::vector<std::string> default_path{"$user", "public"};
  CHECK(resolve_table("orders", app_first, "u", &facts) == "app.orders");
  CHECK(resolve_table("orders", default_path, "u", &facts) == "public.orders");
  CHECK(resolve_table("orders", default_path, "app", &facts) == "app.orders");  // "$user"
  CHECK(resolve_table("items", default_path, "u", &facts) == "public.items");   // not on the path
  CHECK(resolve_table("items", app_first, "u", &facts) == "app.items");
  CHECK(resolve_table("new_table", app_first, "u", &facts) == "app.new_table");
  CHECK(resolve_table("new_table", default_path, "u", nullptr) == "public.new_table");
  CHECK(resolve_table("x.orders", app_first, "u", &facts) == "x.orders");
}

TEST_CASE("a read calling a volatile user function is mirrored as a write") {
  MigrationConfig migration;
  migration.phase = Phase::dual_write;
  const auto facts = sample_facts();
  NameContext names{&facts, nullptr, "u"};
  auto decision =
      decide_mirror(Unit("SELECT bump_counter()").facts, 'I', migration, Phase::dual_write, names);
  CHECK(decision.mode == MirrorMode::follow);
  CHECK(decision.write_by_function);
  // Without the catalog, or with the function declared read-only, it stays on the primary.
  CHECK(
      decide_mirror(Unit("SELECT bump_counter()").facts, 'I', migration, Phase::dual_write).mode ==
      MirrorMode::none);
  migration.read_only_functions = {"bump_counter"};
  CHECK(decide_mirror(Unit("SELECT bump_counter()").facts, 'I', migration, Phase::dual_write, names)
            .mode == MirrorMode::none);
  CHECK(decide_mirror(Unit("SELECT lower('x')").facts, 'I', migration, Phase::dual_write, names)
            .mode == MirrorMode::none);
  CHECK(decide_mirror(Unit("SELECT * FROM t WHERE x = app.audit()").facts, 'I', migration,
                      Phase::dual_write, names)
            .mode == MirrorMode::follow);
}

TEST_CASE("table overrides apply to the table the search_path selects") {
  MigrationConfig migration;
  migration.phase = Phase::dual_write;
  migration.tables["app.orders"] = Phase::prepare;
  const auto facts = sample_facts();
  const std::vector<std::string> app_first{"app", "public"};
  NameContext app_names{&facts, &app_first, "u"};
  NameContext default_names{&facts, nullptr, "u"};
  Unit insert("INSERT INTO orders VALUES (1)");
  CHECK(decide_mirror(insert.facts, 'I', migration, Phase::dual_write, app_names).mode ==
        MirrorMode::none);
  CHECK(decide_mirror(insert.facts, 'I', migration, Phase::dual_write, default_names).mode ==
        MirrorMode::follow);
  CHECK(qualified_table("orders", app_names) == "app.orders");
  CHECK(qualified_table("orders", default_names) == "public.orders");
}
