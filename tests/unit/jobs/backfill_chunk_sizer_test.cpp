#include <catch2/catch.hpp>

#include "jobs/backfill/chunk_sizer.hpp"

using pgdual::jobs::backfill::ChunkSizer;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("chunk sizer starts small and grows toward the target time, at most doubling",
          "[backfill]") {
  ChunkSizer sizer(milliseconds(500));
  REQUIRE(sizer.next_rows() == 1000);
  // 1000 rows in 10 ms: 100k rows/s, 50k rows would take 0.5 s, but growth is capped at 2x.
  sizer.record(1000, microseconds(10000));
  REQUIRE(sizer.next_rows() == 2000);
  for (int i = 0; i < 20; ++i)
    sizer.record(sizer.next_rows(), microseconds(sizer.next_rows() * 10));
  REQUIRE(sizer.next_rows() == 50000);
  REQUIRE(sizer.rows_per_second() == Approx(100000).epsilon(0.01));
}

TEST_CASE("chunk sizer shrinks after slow chunks and never leaves its bounds", "[backfill]") {
  ChunkSizer::Limits limits;
  limits.first = 10000;
  limits.min = 100;
  limits.max = 20000;
  ChunkSizer sizer(milliseconds(500), limits);
  sizer.record(10000, microseconds(500000));  // 20k rows/s: 10k rows per 0.5 s
  REQUIRE(sizer.next_rows() == 10000);
  sizer.record(10000, microseconds(5000000));  // ten times slower: the average falls
  REQUIRE(sizer.next_rows() < 10000);
  REQUIRE(sizer.next_rows() >= 100);
  for (int i = 0; i < 30; ++i) sizer.record(sizer.next_rows(), microseconds(1));
  REQUIRE(sizer.next_rows() == 20000);  // capped by max
  for (int i = 0; i < 30; ++i) sizer.back_off();
  REQUIRE(sizer.next_rows() == 100);  // floored by min
}

TEST_CASE("a short chunk (the end of the table) says nothing about the rate", "[backfill]") {
  ChunkSizer sizer(milliseconds(500));
  sizer.record(10, microseconds(1000000));
  REQUIRE(sizer.next_rows() == 1000);
  REQUIRE(sizer.rows_per_second() == 0);
}
