#include <catch2/catch.hpp>

#include "jobs/backfill/progress_view.hpp"

using namespace pgdual::jobs::backfill;

TEST_CASE("numbers and durations read well", "[backfill]") {
  REQUIRE(group_thousands(0) == "0");
  REQUIRE(group_thousands(999) == "999");
  REQUIRE(group_thousands(1234567) == "1,234,567");
  REQUIRE(format_duration(4.4) == "4s");
  REQUIRE(format_duration(125) == "2m05s");
  REQUIRE(format_duration(3720) == "1h02m");
}

TEST_CASE("a running table shows estimate-based share and ETA marked with ~", "[backfill]") {
  TableStatus status;
  status.table = "public.orders";
  status.state = "copying";
  status.estimated_rows = 200000;
  status.rows_copied = 100000;
  status.rows_per_second = 10000;
  const auto line = format_progress_line(status, 16);
  REQUIRE(line ==
          "public.orders    [##########----------] ~ 50%  100,000 / ~200,000 rows  "
          "10,000 rows/s  ETA ~10s");
}

TEST_CASE("a finished table shows its exact count, an unknown total says so", "[backfill]") {
  TableStatus done;
  done.table = "t";
  done.state = "done";
  done.rows_copied = 90;
  done.rows_skipped = 10;
  done.seconds = 3;
  REQUIRE(format_progress_line(done, 1) ==
          "t [####################]  100%  100 rows (10 already there)  done in 3s");
  TableStatus unknown;
  unknown.table = "t";
  unknown.state = "copying";
  unknown.rows_copied = 5;
  unknown.rows_per_second = 1;
  REQUIRE(format_progress_line(unknown, 1) ==
          "t [--------------------]     ?  5 rows (total unknown)  1 rows/s");
}
