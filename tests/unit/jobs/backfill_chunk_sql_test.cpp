#include <catch2/catch.hpp>

#include "jobs/backfill/chunk_sql.hpp"

using namespace pgdual::jobs::backfill;

namespace {
TablePlan orders() {
  TablePlan plan;
  plan.source = "public.orders_2024";
  plan.source_quoted = "public.orders_2024";
  plan.target = "public.orders";
  plan.target_quoted = "public.orders";
  plan.columns_quoted = {"id", "region", "\"Total\""};
  plan.key = {{"region", "text"}, {"id", "bigint"}};
  plan.binary = true;
  return plan;
}
}  // namespace

TEST_CASE("the chunk's end is the key N rows on, or the table's last key", "[backfill]") {
  // The text of the key is renamed: ORDER BY id must sort by the column, not by its text.
  const auto plan = orders();
  REQUIRE(next_chunk_end_sql(plan, {}, 500) ==
          "SELECT region::text AS key_0, id::text AS key_1 FROM ONLY public.orders_2024 ORDER BY "
          "region, id LIMIT 1 "
          "OFFSET 499");
  REQUIRE(next_chunk_end_sql(plan, {"it's", "42"}, 10)
              .find("WHERE (region, id) > ('it''s'::text, '42'::bigint) ORDER BY") !=
          std::string::npos);
  REQUIRE(chunk_end_of_table_sql(plan, {"eu", "7"}) ==
          "SELECT region::text AS key_0, id::text AS key_1 FROM ONLY public.orders_2024 WHERE "
          "(region, id) > "
          "('eu'::text, '7'::bigint) ORDER BY region DESC, id DESC LIMIT 1");
}

TEST_CASE("the COPY reads the locked range from the leaf, in binary when allowed", "[backfill]") {
  auto plan = orders();
  REQUIRE(copy_out_sql(plan, {"eu", "1"}, {"us", "9"}) ==
          "COPY (SELECT id, region, \"Total\" FROM ONLY public.orders_2024 WHERE (region, id) > "
          "('eu'::text, '1'::bigint) AND (region, id) <= ('us'::text, '9'::bigint) FOR SHARE) TO "
          "STDOUT (FORMAT binary)");
  plan.binary = false;
  plan.key = {{"id", "bigint"}};
  REQUIRE(copy_out_sql(plan, {}, {"9"}) ==
          "COPY (SELECT id, region, \"Total\" FROM ONLY public.orders_2024 WHERE id <= "
          "'9'::bigint FOR SHARE) TO STDOUT");
  // Strategy cdc's initial copy reads under the slot's snapshot: no row locks.
  REQUIRE(copy_out_sql(plan, {}, {"9"}, /*lock_rows=*/false) ==
          "COPY (SELECT id, region, \"Total\" FROM ONLY public.orders_2024 WHERE id <= "
          "'9'::bigint) TO STDOUT");
}

TEST_CASE("the merge inserts what is missing and overwrites only what differs", "[backfill]") {
  auto plan = orders();
  plan.update_columns_quoted = {"\"Total\""};
  REQUIRE(merge_stage_sql(plan) ==
          "INSERT INTO public.orders AS target (id, region, \"Total\") OVERRIDING SYSTEM VALUE "
          "SELECT id, region, \"Total\" FROM pg_temp.pgdual_backfill_stage ON CONFLICT (region, "
          "id) DO UPDATE SET \"Total\" = EXCLUDED.\"Total\" WHERE ROW(target.\"Total\")::text IS "
          "DISTINCT FROM ROW(EXCLUDED.\"Total\")::text");
  REQUIRE(count_present_sql(plan) ==
          "SELECT count(*) FROM pg_temp.pgdual_backfill_stage stage WHERE EXISTS (SELECT 1 FROM "
          "public.orders target WHERE target.region = stage.region AND target.id = stage.id)");
  plan.update_columns_quoted.clear();  // only key columns: nothing to overwrite
  REQUIRE(merge_stage_sql(plan).ends_with("ON CONFLICT (region, id) DO NOTHING"));
  REQUIRE(create_stage_sql(plan) ==
          "DROP TABLE IF EXISTS pg_temp.pgdual_backfill_stage; CREATE TEMP TABLE "
          "pgdual_backfill_stage ON COMMIT DELETE ROWS AS SELECT id, region, \"Total\" FROM "
          "public.orders WITH NO DATA");
  REQUIRE(copy_in_stage_sql(plan) ==
          "COPY pg_temp.pgdual_backfill_stage (id, region, \"Total\") FROM STDIN (FORMAT binary)");
}
