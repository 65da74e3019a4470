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

TEST_CASE("the lock statement locks the next keys FOR SHARE and returns the last one",
          "[backfill]") {
  const auto plan = orders();
  REQUIRE(lock_next_chunk_sql(plan, {}, 500) ==
          "WITH locked AS MATERIALIZED (SELECT region, id FROM ONLY public.orders_2024 ORDER BY "
          "region, id LIMIT 500 FOR SHARE) SELECT n, region::text, id::text FROM (SELECT region, "
          "id, count(*) OVER () AS n, row_number() OVER (ORDER BY region DESC, id DESC) AS "
          "position FROM locked) chunk WHERE position = 1");
  const auto after = lock_next_chunk_sql(plan, {"it's", "42"}, 10);
  REQUIRE(after.find("WHERE (region, id) > ('it''s'::text, '42'::bigint) ORDER BY") !=
          std::string::npos);
}

TEST_CASE("the COPY reads the locked range from the leaf, in binary when allowed", "[backfill]") {
  auto plan = orders();
  REQUIRE(copy_out_sql(plan, {"eu", "1"}, {"us", "9"}) ==
          "COPY (SELECT id, region, \"Total\" FROM ONLY public.orders_2024 WHERE (region, id) > "
          "('eu'::text, '1'::bigint) AND (region, id) <= ('us'::text, '9'::bigint)) TO STDOUT "
          "(FORMAT binary)");
  plan.binary = false;
  plan.key = {{"id", "bigint"}};
  REQUIRE(copy_out_sql(plan, {}, {"9"}) ==
          "COPY (SELECT id, region, \"Total\" FROM ONLY public.orders_2024 WHERE id <= "
          "'9'::bigint) TO STDOUT");
}

TEST_CASE("the merge inserts into the target (the root) only what is absent", "[backfill]") {
  const auto plan = orders();
  REQUIRE(merge_stage_sql(plan) ==
          "INSERT INTO public.orders (id, region, \"Total\") OVERRIDING SYSTEM VALUE SELECT id, "
          "region, \"Total\" FROM pg_temp.pgdual_backfill_stage ON CONFLICT DO NOTHING");
  REQUIRE(create_stage_sql(plan) ==
          "DROP TABLE IF EXISTS pg_temp.pgdual_backfill_stage; CREATE TEMP TABLE "
          "pgdual_backfill_stage ON COMMIT DELETE ROWS AS SELECT id, region, \"Total\" FROM "
          "public.orders WITH NO DATA");
  REQUIRE(copy_in_stage_sql(plan) ==
          "COPY pg_temp.pgdual_backfill_stage (id, region, \"Total\") FROM STDIN (FORMAT binary)");
}
