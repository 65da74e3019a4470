// The new store's copy of a statement under migration.mapping (routing/mapping/
// statement_mapping.hpp): mapped tables point at pgdual's views, everything else keeps its
// bytes, and what the views cannot answer exactly is reported, never sent silently.

#include <catch2/catch.hpp>

#include "routing/mapping/statement_mapping.hpp"

using namespace pgdual;
using routing::MappingUse;

namespace {

routing::SchemaMapping fixture() {
  config::MappingConfig config;
  config::TableMapping accounts;
  accounts.to = "bank.account";
  accounts.columns["owner"].to = "owner_name";
  accounts.columns["legacy_flag"].drop = true;
  accounts.columns["note"].if_null = "''";  // lossy: NULL comes back as ''
  accounts.columns["balance"].expr = "round(balance * 100)::bigint";
  accounts.columns["balance"].inverse = "balance_cents / 100.0";
  accounts.columns["balance"].lossless = true;
  config.tables["public.accounts"] = accounts;
  config::TableMapping orders;
  orders.to = "sales.orders";
  config.tables["sales.orders"] = orders;
  return routing::SchemaMapping(config);
}

// Unqualified names resolve to public, as the default search_path does.
std::string resolve(std::string_view written) {
  return written.find('.') == std::string_view::npos ? "public." + std::string(written)
                                                     : std::string(written);
}

routing::MappedStatement map(const std::string& sql, MappingUse use = MappingUse::mirrored) {
  static const auto mapping = fixture();
  return routing::map_statement_text(sql, mapping, resolve, use);
}

std::string mapped_sql(const std::string& sql, MappingUse use = MappingUse::mirrored) {
  const auto result = map(sql, use);
  INFO(sql << " -> " << result.error);
  REQUIRE(result.ok);
  return result.sql;
}

}  // namespace

TEST_CASE("mapping: statements naming no mapped table keep their bytes", "[mapping]") {
  for (const std::string sql :
       {"SELECT 1", "UPDATE history SET delta = 0  WHERE id = 1", "select * from account",
        "INSERT INTO public.accountsx VALUES (1)", "not even sql accounts"}) {
    const auto result = map(sql);
    INFO(sql);
    CHECK(result.ok);
    CHECK_FALSE(result.changed);
    CHECK(result.sql == sql);
  }
}

TEST_CASE("mapping: every reference to a mapped table points at its view", "[mapping]") {
  CHECK(mapped_sql("INSERT INTO accounts (id, owner) VALUES (1, 'a') RETURNING id") ==
        "INSERT INTO \"pgdual_map\".\"accounts\" (id, owner) VALUES (1, 'a') RETURNING id");
  CHECK(mapped_sql("UPDATE public.accounts SET owner = 'b' WHERE id = $1") ==
        "UPDATE \"pgdual_map\".\"accounts\" SET owner = 'b' WHERE id = $1");
  CHECK(mapped_sql("DELETE FROM accounts a USING history h WHERE h.account_id = a.id") ==
        "DELETE FROM \"pgdual_map\".\"accounts\" a USING history h WHERE h.account_id = a.id");
  // `t.column` still resolves: the view has the table's own name.
  CHECK(
      mapped_sql("SELECT accounts.owner FROM accounts JOIN sales.orders o ON o.id = accounts.id") ==
      "SELECT accounts.owner FROM \"pgdual_map\".\"accounts\" JOIN \"pgdual_map\".\"orders\" o ON "
      "o.id = "
      "accounts.id");
  // A schema-qualified column reference follows its table.
  CHECK(mapped_sql("SELECT public.accounts.id FROM public.accounts") ==
        "SELECT \"pgdual_map\".accounts.id FROM \"pgdual_map\".\"accounts\"");
  // Subqueries, CTEs, COPY FROM and PREPARE bodies too.
  CHECK(mapped_sql("WITH x AS (SELECT id FROM accounts) INSERT INTO history (account_id) "
                   "SELECT id FROM x") ==
        "WITH x AS (SELECT id FROM \"pgdual_map\".\"accounts\") INSERT INTO history (account_id) "
        "SELECT id FROM x");
  CHECK(mapped_sql("COPY accounts (id, owner) FROM STDIN") ==
        "COPY \"pgdual_map\".\"accounts\" (id, owner) FROM STDIN");
  CHECK(mapped_sql("PREPARE p AS UPDATE accounts SET owner = $1") ==
        "PREPARE p AS UPDATE \"pgdual_map\".\"accounts\" SET owner = $1");
}

TEST_CASE("mapping: only the statements that name a mapped table are rewritten", "[mapping]") {
  const auto result = map("SELECT 1;  UPDATE accounts SET owner = 'x';SELECT  2");
  REQUIRE(result.ok);
  CHECK(result.changed);
  CHECK(result.table == "public.accounts");
  CHECK(result.sql == "SELECT 1;  UPDATE \"pgdual_map\".\"accounts\" SET owner = 'x';SELECT  2");
}

TEST_CASE("mapping: untranslatable statements say why, and still get the closest text",
          "[mapping]") {
  struct Case {
    std::string sql, why;
  };
  const std::vector<Case> cases = {
      {"INSERT INTO accounts (id) VALUES (1) ON CONFLICT (id) DO NOTHING", "ON CONFLICT"},
      {"UPDATE accounts SET owner = 'x' WHERE legacy_flag", "reads column legacy_flag"},
      {"INSERT INTO history (account_id) SELECT id FROM accounts WHERE legacy_flag",
       "reads column legacy_flag"},
      {"INSERT INTO archive SELECT * FROM accounts", "* over mapped table public.accounts"},
      {"ALTER TABLE accounts ADD COLUMN x int", "apply it to each store"},
      {"TRUNCATE accounts", "apply it to each store"},
      {"COPY accounts TO STDOUT", "COPY ... TO"},
      {"WITH accounts AS (SELECT 1 AS id) SELECT * FROM accounts", "WITH query is named like"},
      {"INSERT INTO accounts (id) VALUES (nextval('accounts_id_seq'))",
       "inside a string ('accounts_id_seq')"},
      {"UPDATE accounts SET owner = 'x' WHERE pg_relation_size('public.accounts') > 0",
       "inside a string ('public.accounts')"},
  };
  for (const auto& c : cases) {
    const auto result = map(c.sql);
    INFO(c.sql);
    CHECK_FALSE(result.ok);
    CHECK_THAT(result.error, Catch::Contains(c.why));
    CHECK(result.table == "public.accounts");
  }
  // DDL is migration.ddl's to decide; TRUNCATE is a write every policy mirrors.
  CHECK(map("ALTER TABLE accounts ADD COLUMN x int").ddl);
  CHECK_FALSE(map("TRUNCATE accounts").ddl);
  CHECK_FALSE(map("INSERT INTO accounts (id) VALUES (1) ON CONFLICT DO NOTHING").ddl);
  const auto closest = map("UPDATE accounts SET owner = 'x' WHERE legacy_flag");
  CHECK(closest.sql == "UPDATE \"pgdual_map\".\"accounts\" SET owner = 'x' WHERE legacy_flag");
}

TEST_CASE("mapping: a string that merely holds the name is data", "[mapping]") {
  CHECK(map("INSERT INTO accounts (id, owner) VALUES (1, 'accounts')").ok);
  CHECK(map("UPDATE accounts SET owner = 'accounts_id_seq'").ok);
  // Read as a relation, the string names the old table, which the new store does not have.
  const auto read = map("SELECT 'accounts'::regclass, id FROM accounts");
  CHECK_FALSE(read.ok);
  CHECK_THAT(read.error, Catch::Contains("inside a string"));
}

TEST_CASE("mapping: a dropped column read where no row is compared is fine", "[mapping]") {
  // The secondary's rows of a plain SELECT and of a top-level RETURNING are never compared
  // before cutover; they are marked unreadable so that no shadow read compares them.
  const auto select = map("SELECT legacy_flag FROM accounts WHERE id = 1");
  CHECK(select.ok);
  CHECK_THAT(select.unreadable, Catch::Contains("legacy_flag"));
  const auto returning = map("UPDATE accounts SET owner = 'x' RETURNING *");
  CHECK(returning.ok);
  CHECK_FALSE(returning.unreadable.empty());
  // Writing the dropped column is fine: the view's trigger leaves it out.
  const auto write = map("INSERT INTO accounts (id, legacy_flag) VALUES (1, true)");
  CHECK(write.ok);
  CHECK(write.unreadable.empty());
  // Where rows are compared (a shadow read, the primary after cutover) they are refused.
  const auto compared = map("SELECT * FROM accounts", MappingUse::compared);
  CHECK_FALSE(compared.ok);
  CHECK(map("SELECT id, owner FROM accounts", MappingUse::compared).ok);
}

TEST_CASE("mapping: the translation edits names only, and is a fixed point", "[mapping]") {
  // Only the names' spans change: every other byte of the client's text is kept (a string
  // literal under standard_conforming_strings = off, comments, spacing).
  CHECK(mapped_sql("UPDATE  public . accounts /* c */ SET owner = 'C:\\new' WHERE id = 1") ==
        "UPDATE  \"pgdual_map\".\"accounts\" /* c */ SET owner = 'C:\\new' WHERE id = 1");
  CHECK(mapped_sql("SELECT id FROM \"accounts\" WHERE id = 1 FOR UPDATE OF accounts") ==
        "SELECT id FROM \"pgdual_map\".\"accounts\" WHERE id = 1 FOR UPDATE OF accounts");
  for (const std::string sql :
       {"INSERT INTO accounts (id, owner) SELECT g, 'o' || g FROM generate_series(1, 3) g",
        "UPDATE accounts AS a SET owner = upper(a.owner) FROM history h WHERE h.account_id = a.id "
        "RETURNING a.id, h.delta",
        "SELECT count(*) FILTER (WHERE owner IS NULL) FROM accounts GROUP BY id HAVING id > 1"}) {
    const std::string once = mapped_sql(sql);
    CHECK_FALSE(map(once).changed);  // pgdual_map.accounts is not a mapped table
    CHECK_THAT(once, Catch::Contains("\"pgdual_map\".\"accounts\""));
  }
}

TEST_CASE("mapping: a lossy column read where it feeds a write is untranslatable", "[mapping]") {
  const auto write = map("UPDATE accounts SET owner = note WHERE id = 1");
  CHECK_FALSE(write.ok);
  CHECK_THAT(write.error, Catch::Contains("reads column note"));
  CHECK_THAT(write.error, Catch::Contains("lossy inverse"));
  // A lossless expression reads back exactly.
  CHECK(map("UPDATE accounts SET balance = balance + 1 WHERE id = 1").ok);
  // Before cutover a plain read is only not compared; after, the new store's value is the truth.
  const auto read = map("SELECT note FROM accounts WHERE id = 1");
  CHECK(read.ok);
  CHECK_FALSE(read.unreadable.empty());
  CHECK(map("SELECT note FROM accounts WHERE id = 1", MappingUse::compared).ok);
  CHECK_FALSE(map("SELECT legacy_flag FROM accounts", MappingUse::compared).ok);
}

TEST_CASE("mapping: a string naming a mapped table's sequence is reported alone too", "[mapping]") {
  const auto setval = map("SELECT setval('accounts_id_seq', 5000)");
  CHECK_FALSE(setval.ok);
  CHECK(setval.table == "public.accounts");
  CHECK_THAT(setval.error, Catch::Contains("inside a string ('accounts_id_seq')"));
  CHECK(map("SELECT setval('orders_id_seq2', 5)").ok);  // not a sequence named after it
}
