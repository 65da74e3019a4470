// jobs/mapping: a mapped table resolved against both catalogs (resolved_mapping.hpp) and the SQL
// every consumer takes from it (mapping_ddl.hpp, the backfill's merge, the reconcile's round
// trip). The SQL runs against real servers in tests/integration/dual_write/test_schema_mapping.py.

#include <catch2/catch.hpp>

#include "jobs/mapping/mapping_ddl.hpp"
#include "jobs/mapping/resolved_mapping.hpp"

using namespace pgdual;
using namespace pgdual::jobs::mapping;

namespace {

TableFacts old_accounts() {
  TableFacts facts;
  facts.exists = true;
  facts.columns = {{"id", "integer", true, false, "nextval('accounts_id_seq'::regclass)"},
                   {"owner", "text", false, false, ""},
                   {"balance", "numeric(12,2)", true, false, "0"},
                   {"note", "text", false, false, ""},
                   {"legacy_flag", "boolean", false, false, "false"}};
  facts.keys = {{"id"}};
  return facts;
}

TableFacts new_account() {
  TableFacts facts;
  facts.exists = true;
  facts.columns = {{"id", "bigint", true, false, ""},
                   {"owner_name", "text", false, false, ""},
                   {"balance_cents", "bigint", true, false, ""},
                   {"note", "text", true, false, ""},
                   {"created_at", "timestamp with time zone", true, false, "now()"},
                   {"balance_eur", "numeric(12,2)", false, false, ""}};
  facts.keys = {{"id"}};
  return facts;
}

config::TableMapping accounts_mapping() {
  config::TableMapping mapping;
  mapping.to = "bank.account";
  mapping.columns["id"].cast = "bigint";
  mapping.columns["owner"].to = "owner_name";
  auto& balance = mapping.columns["balance"];
  balance.to = "balance_cents";
  balance.expr = "round(balance * 100)::bigint";
  balance.inverse = "balance_cents / 100.0";
  balance.lossless = true;
  mapping.columns["note"].if_null = "''";
  mapping.columns["legacy_flag"].drop = true;
  mapping.new_columns["created_at"] = {};
  mapping.new_columns["balance_eur"].expr = "round(balance * 0.92, 2)";
  return mapping;
}

Resolution resolve(const config::TableMapping& mapping,
                   const TableFacts& old_facts = old_accounts(),
                   const TableFacts& new_facts = new_account()) {
  return resolve_table("public.accounts", mapping, "pgdual_map", old_facts, new_facts);
}

bool has_error(const Resolution& r, const std::string& path, const std::string& fragment) {
  for (const auto& e : r.errors) {
    if (e.rfind(path + ": ", 0) == 0 && e.find(fragment) != std::string::npos) return true;
  }
  return false;
}

const std::string kPath = "migration.mapping.tables[\"public.accounts\"]";

}  // namespace

TEST_CASE("resolved mapping: the fixture's columns, keys and losses", "[mapping]") {
  const auto r = resolve(accounts_mapping());
  INFO(r.errors.size());
  REQUIRE(r.table);
  const auto& t = *r.table;
  CHECK(t.view_quoted() == "\"pgdual_map\".\"accounts\"");
  CHECK(t.new_table_quoted() == "\"bank\".\"account\"");
  REQUIRE(t.columns.size() == 5);
  // integer -> bigint reads the same: the view shows the new column itself (its index works).
  CHECK(t.columns[0].plain);
  CHECK(t.columns[0].inverse == "\"id\"");
  CHECK(t.columns[0].lossless);
  CHECK(t.columns[1].inverse == "\"owner_name\"");
  CHECK(t.columns[2].forward == "(round(balance * 100)::bigint)::bigint");
  CHECK(t.columns[2].inverse == "((balance_cents / 100.0))::numeric(12,2)");
  CHECK(t.columns[3].forward == "COALESCE((\"note\")::text, ('')::text)");
  CHECK(t.columns[4].dropped);
  CHECK(t.lossy_columns() == std::vector<std::string>{"note", "legacy_flag"});
  // What a rollback of cutover refuses: kept columns only (the old store keeps legacy_flag).
  CHECK(t.lossy_kept_columns() == std::vector<std::string>{"public.accounts.note"});
  CHECK(t.old_key == std::vector<std::string>{"id"});
  CHECK(t.new_key == std::vector<std::string>{"id"});
  // The old store's sequence default is not carried (the rewrite makes it explicit); a
  // constant default is, so that an INSERT leaving it out stores what the old store stores.
  CHECK(t.columns[0].view_default.empty());
  CHECK(t.columns[2].view_default == "0");
  const auto written = t.written_columns();
  REQUIRE(written.size() == 5);
  CHECK(written.back().first == "balance_eur");
}

TEST_CASE("resolved mapping: catalog mistakes name the key and the column", "[mapping]") {
  auto missing_target = accounts_mapping();
  missing_target.columns["owner"].to = "holder";
  CHECK(has_error(resolve(missing_target), kPath + ".columns.owner", "new column holder"));

  auto unmapped = accounts_mapping();
  unmapped.columns.erase("legacy_flag");
  CHECK(has_error(resolve(unmapped), kPath + ".columns.legacy_flag", "drop it"));

  auto wrong_cast = accounts_mapping();
  wrong_cast.columns["id"].cast = "int8";
  CHECK(has_error(resolve(wrong_cast), kPath + ".columns.id", "format_type()"));

  auto no_null_rule = accounts_mapping();
  no_null_rule.columns["note"].if_null.clear();
  CHECK(has_error(resolve(no_null_rule), kPath + ".columns.note", "give if_null"));

  // A default of the NOT NULL new column does not help: the trigger writes the NULL.
  auto with_default = new_account();
  with_default.columns[3].default_sql = "''::text";
  CHECK(has_error(resolve(no_null_rule, old_accounts(), with_default), kPath + ".columns.note",
                  "give if_null"));

  auto unlisted_new = accounts_mapping();
  unlisted_new.new_columns.erase("balance_eur");
  CHECK(has_error(resolve(unlisted_new), kPath + ".new_columns", "balance_eur exists only"));

  auto missing_old = accounts_mapping();
  missing_old.columns["nope"].to = "x";
  CHECK(has_error(resolve(missing_old), kPath + ".columns.nope", "does not exist on the old"));

  auto keyless = new_account();
  keyless.keys.clear();
  CHECK(has_error(resolve(accounts_mapping(), old_accounts(), keyless), kPath, "unique key"));

  TableFacts absent;
  CHECK(has_error(resolve(accounts_mapping(), old_accounts(), absent), kPath + ".to",
                  "does not exist on the new store"));
}

TEST_CASE("resolved mapping: widenings that keep the text form", "[mapping]") {
  CHECK(same_text_widening("integer", "bigint"));
  CHECK(same_text_widening("smallint", "numeric"));
  CHECK(same_text_widening("character varying(10)", "text"));
  CHECK(same_text_widening("numeric(12,2)", "numeric(14,2)"));
  CHECK_FALSE(same_text_widening("numeric(12,2)", "numeric(12,4)"));  // 1.50 -> 1.5000
  CHECK_FALSE(same_text_widening("real", "double precision"));
  CHECK_FALSE(same_text_widening("bigint", "integer"));
}

TEST_CASE("resolved mapping: the view, the trigger and the merge", "[mapping]") {
  const auto t = *resolve(accounts_mapping()).table;
  const auto ddl = install_statements(t);
  // The view, balance's default (a dropped column needs none: the trigger leaves it out), the
  // function and the trigger.
  REQUIRE(ddl.size() == 4);
  CHECK(ddl[0] ==
        "CREATE VIEW \"pgdual_map\".\"accounts\" AS SELECT \"id\" AS \"id\", \"owner_name\" AS "
        "\"owner\", ((balance_cents / 100.0))::numeric(12,2) AS \"balance\", \"note\" AS "
        "\"note\", NULL::boolean AS \"legacy_flag\" FROM \"bank\".\"account\"");
  CHECK_THAT(ddl[1], Catch::Contains("ALTER COLUMN \"balance\" SET DEFAULT 0"));
  CHECK_THAT(ddl[2], Catch::Contains("#variable_conflict use_column"));
  CHECK_THAT(ddl[2], Catch::Contains("\"id\" = (OLD.\"id\")::bigint"));
  // UPDATE and DELETE lock the row and read it again: a row changed since the statement read
  // it fails with 40001 instead of losing the other write.
  CHECK_THAT(ddl[2], Catch::Contains("FOR UPDATE"));
  CHECK_THAT(ddl[2], Catch::Contains("serialization_failure"));
  CHECK_THAT(ddl[2], Catch::Contains("::text IS DISTINCT FROM pgdual_old."));
  CHECK_THAT(ddl[3], Catch::StartsWith("CREATE TRIGGER pgdual_write INSTEAD OF INSERT OR UPDATE "
                                       "OR DELETE ON \"pgdual_map\".\"accounts\""));
  const auto merge = t.upsert_sql("stage AS pgdual_row");
  CHECK_THAT(merge,
             Catch::StartsWith(
                 "INSERT INTO \"bank\".\"account\" AS target (\"id\", "
                 "\"owner_name\", \"balance_cents\", \"note\", "
                 "\"balance_eur\") OVERRIDING SYSTEM VALUE SELECT (\"id\")::bigint AS \"id\""));
  CHECK_THAT(merge, Catch::Contains("ON CONFLICT (\"id\") DO UPDATE SET \"owner_name\" = "
                                    "EXCLUDED.\"owner_name\""));
  CHECK_THAT(merge, Catch::EndsWith("IS DISTINCT FROM ROW(EXCLUDED.\"owner_name\", "
                                    "EXCLUDED.\"balance_cents\", EXCLUDED.\"note\", "
                                    "EXCLUDED.\"balance_eur\")::text"));
}

TEST_CASE("resolved mapping: the old side of a comparison", "[mapping]") {
  auto lossless = accounts_mapping();
  lossless.columns["note"].if_null.clear();
  auto nullable = new_account();
  nullable.columns[3].not_null = false;
  const auto plain = *resolve(lossless, old_accounts(), nullable).table;
  CHECK(plain.old_side_relation() == "\"public\".\"accounts\"");  // nothing to take round

  const auto t = *resolve(accounts_mapping()).table;
  const auto relation = t.old_side_relation();
  // note is lossy (NULL becomes ''): compared as the view will show it.
  CHECK_THAT(relation, Catch::StartsWith("(SELECT pgdual_old_row.\"id\", pgdual_old_row.\"owner\", "
                                         "pgdual_old_row.\"balance\", pgdual_round_trip.\"note\" "
                                         "FROM ONLY \"public\".\"accounts\" AS pgdual_old_row, "
                                         "LATERAL (SELECT \"note\" AS \"note\" FROM (SELECT"));
  CHECK_THAT(relation,
             Catch::EndsWith(") AS pgdual_new_row) AS pgdual_round_trip) AS \"accounts\""));
}
