// Tests of cdc/apply_watcher.hpp's pure part: reading the LSNs PostgreSQL prints.

#include <catch2/catch.hpp>

#include "cdc/apply_watcher.hpp"

using pgdual::cdc::parse_lsn;

TEST_CASE("LSNs parse as PostgreSQL prints them", "[cdc]") {
  CHECK(parse_lsn("0/0") == 0u);
  CHECK(parse_lsn("0/1923198") == 0x1923198u);
  CHECK(parse_lsn("16/B374D848") == ((std::uint64_t{0x16} << 32) | 0xB374D848u));
  CHECK(parse_lsn("FFFFFFFF/FFFFFFFF") == ~std::uint64_t{0});
  // Ordered as numbers, not as text.
  CHECK(*parse_lsn("0/A0000000") > *parse_lsn("0/9FFFFFFF"));
  CHECK(*parse_lsn("1/0") > *parse_lsn("0/FFFFFFFF"));
  for (const char* bad : {"", "/", "0/", "/1", "0-1", "x/1", "0/1 ", "100000000/0", "0/1/2"}) {
    INFO(bad);
    CHECK_FALSE(parse_lsn(bad));
  }
}
