// Tests for config/value_parsers.hpp.

#include <catch2/catch.hpp>

#include "config/value_parsers.hpp"

using namespace pgdual::config;

TEST_CASE("parse_host_port", "[parsers]") {
  auto hp = parse_host_port("127.0.0.1:6432");
  REQUIRE(hp);
  CHECK(hp->host == "127.0.0.1");
  CHECK(hp->port == 6432);
  hp = parse_host_port("[::1]:6432");
  REQUIRE(hp);
  CHECK(hp->host == "::1");
  hp = parse_host_port("db.example.com:0");
  REQUIRE(hp);
  CHECK(hp->port == 0);
  hp = parse_host_port("[fe80::1%eth0]:5432");
  REQUIRE(hp);
  CHECK(hp->host == "fe80::1%eth0");
  for (const char* bad : {"", "6432", ":6432", "host:", "host:65536", "host:-1", "host:12a",
                          "::1:6432", "[::1]6432", "[::1]", "[]:5432", "a b:1", "/tmp:5432"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_port(bad));
  }
}

TEST_CASE("parse_unsigned is strict", "[parsers]") {
  CHECK(parse_unsigned("0") == 0u);
  CHECK(parse_unsigned("18446744073709551615") == 18446744073709551615u);
  for (const char* bad :
       {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "18446744073709551616"}) {
    INFO(bad);
    CHECK_FALSE(parse_unsigned(bad));
  }
}

TEST_CASE("parse_bool", "[parsers]") {
  for (const char* t : {"true", "True", "TRUE", "yes", "on"}) CHECK(parse_bool(t) == true);
  for (const char* f : {"false", "False", "no", "off"}) CHECK(parse_bool(f) == false);
  for (const char* bad : {"", "1", "0", "y", "maybe"}) CHECK_FALSE(parse_bool(bad));
}

TEST_CASE("parse_byte_size", "[parsers]") {
  CHECK(parse_byte_size("4096") == 4096u);
  CHECK(parse_byte_size("10B") == 10u);
  CHECK(parse_byte_size("64kB") == 64u * 1024);
  CHECK(parse_byte_size("64KB") == 64u * 1024);
  CHECK(parse_byte_size("64 MB") == 64u << 20);
  CHECK(parse_byte_size("256MiB") == 256u << 20);
  CHECK(parse_byte_size("1GB") == 1u << 30);
  for (const char* bad : {"", "MB", "1.5MB", "10 TB", "-1", "1 M B", "99999999999999999999GB"}) {
    INFO(bad);
    CHECK_FALSE(parse_byte_size(bad));
  }
}

TEST_CASE("table and function names follow SQL identifier rules", "[parsers]") {
  CHECK(normalise_table_name("orders") == std::string("public.orders"));
  CHECK(normalise_table_name("Orders") == std::string("public.orders"));
  CHECK(normalise_table_name("sales.Orders") == std::string("sales.orders"));
  CHECK(normalise_table_name("\"Sales\".\"Orders\"") == std::string("Sales.Orders"));
  CHECK(normalise_table_name("\"My\"\"Table\"") == std::string("public.My\"Table"));
  CHECK(normalise_table_name("\"a.b\"") == std::string("public.a.b"));
  CHECK(normalise_table_name("_t$1") == std::string("public._t$1"));
  for (const char* bad : {"", ".", "a.", ".a", "a.b.c", "1abc", "a b", "\"\"", "\"open", "a-b"}) {
    INFO(bad);
    CHECK_FALSE(normalise_table_name(bad));
  }
  CHECK(normalise_qualified_name("NextVal", 2) == std::string("nextval"));
  CHECK(normalise_qualified_name("pg_catalog.setval", 2) == std::string("pg_catalog.setval"));
  CHECK_FALSE(normalise_qualified_name("f(int)", 2));
}

TEST_CASE("valid_scram_verifier", "[parsers]") {
  const std::string good =
      "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$nQpbZ77WudtqufPwikHXGRt6g2QJ4zns8bZLw273DRM=:"
      "jn2amWP1q1h+jgjy0YTO14S6/F02SV7taipOeB7ef20=";
  CHECK(valid_scram_verifier(good));
  CHECK_FALSE(valid_scram_verifier("SCRAM-SHA-256$0:MDEy$a:b"));
  CHECK_FALSE(valid_scram_verifier("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$short=:short="));
  CHECK_FALSE(valid_scram_verifier("md5abcdef"));
  std::string bad_char = good;
  bad_char[good.size() - 5] = '!';
  CHECK_FALSE(valid_scram_verifier(bad_char));
}

TEST_CASE("quote_for_message escapes and truncates", "[parsers]") {
  CHECK(quote_for_message("abc") == "\"abc\"");
  CHECK(quote_for_message("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(quote_for_message(std::string("a\nb\0", 4)) == "\"a\\x0ab\\x00\"");
  const std::string long_text(100, 'x');
  CHECK(quote_for_message(long_text) == "\"" + std::string(64, 'x') + "...\"");
}
