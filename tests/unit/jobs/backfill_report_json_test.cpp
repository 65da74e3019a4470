#include <catch2/catch.hpp>

#include "jobs/backfill/backfill_job.hpp"

using namespace pgdual::jobs::backfill;

TEST_CASE("the JSON summary carries each table, the totals and the refusals", "[backfill]") {
  BackfillReport report;
  report.database = "app";
  TablePlan plan;
  plan.source = "public.orders_1";
  plan.target = "public.orders";
  plan.binary = true;
  report.plans.push_back(plan);
  TableStatus table;
  table.table = "public.orders_1";
  table.state = "done";
  table.rows_copied = 90;
  table.rows_skipped = 8;
  table.rows_overwritten = 2;
  table.bytes = 2000000;
  table.seconds = 2;
  table.note = "3 transactions were journaled";
  report.tables.push_back(table);
  report.refusals.push_back({"public.\"odd\"", "missing on the new store"});
  const std::string json = report_json(report);
  REQUIRE(json.find("\"database\": \"app\"") != std::string::npos);
  REQUIRE(json.find("\"ok\": false") != std::string::npos);  // a refusal
  REQUIRE(json.find("\"target\": \"public.orders\", \"format\": \"binary\"") != std::string::npos);
  REQUIRE(json.find("\"rows_overwritten\": 2") != std::string::npos);
  REQUIRE(json.find("\"rows_per_second\": 50.000, \"mb_per_second\": 1.000") != std::string::npos);
  REQUIRE(json.find("\"needs_reconciliation\": \"3 transactions were journaled\"") !=
          std::string::npos);
  REQUIRE(
      json.find("\"table\": \"public.\\\"odd\\\"\", \"reason\": \"missing on the new store\"") !=
      std::string::npos);
  REQUIRE(json.find("\"rows_copied\": 90, \"rows_skipped\": 8, \"bytes\": 2000000") !=
          std::string::npos);
  REQUIRE(json.back() == '\n');
}

TEST_CASE("a run is ok only when every table is done and the sequences moved", "[backfill]") {
  BackfillReport report;
  TableStatus table;
  table.state = "done";
  report.tables.push_back(table);
  REQUIRE(report.ok());
  report.tables[0].state = "paused";
  REQUIRE_FALSE(report.ok());
  report.tables[0].state = "done";
  report.sequences_run = true;
  report.sequences.lines.push_back({"public.s", "1", "1001", "permission denied"});
  REQUIRE_FALSE(report.ok());
  BackfillReport dry;
  dry.dry_run = true;
  dry.tables.push_back(TableStatus{});  // pending
  REQUIRE(dry.ok());
}
