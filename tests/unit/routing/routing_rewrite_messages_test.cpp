// Tests for routing/rewrite/messages.hpp and routing/rewrite/values.hpp: the wire edits and values
// of the deterministic rewrite.

#include <catch2/catch.hpp>
#include <regex>

#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"
#include "routing/rewrite/messages.hpp"
#include "routing/rewrite/values.hpp"

using namespace pgdual;
using namespace pgdual::routing;

namespace {

// The payload of a whole frame built by a protocol::append_* function.
std::span<const std::uint8_t> payload_of(const std::string& frame) {
  return {reinterpret_cast<const std::uint8_t*>(frame.data()) + 5, frame.size() - 5};
}

protocol::BindMessage parsed_bind(const std::string& frame) {
  auto bind = protocol::parse_bind(payload_of(frame));
  REQUIRE(bind);
  return *bind;
}

}  // namespace

TEST_CASE("a Bind gets the added parameters as text, with one format code per parameter") {
  std::string frame;
  protocol::append_bind(frame, "", "ins", {1}, {std::string("\x00\x00\x00\x05", 4), std::nullopt},
                        {1});
  const auto bind = parsed_bind(frame);
  auto bytes = routing::bind_with_extra_parameters(
      bind, 2, {std::string("2026-01-01 00:00:00+00"), std::nullopt});
  REQUIRE(bytes);
  const auto extended = parsed_bind(*bytes);
  CHECK(extended.statement == "ins");
  CHECK(extended.param_formats == std::vector<std::int16_t>{1, 1, 0, 0});
  REQUIRE(extended.params.size() == 4);
  CHECK_FALSE(extended.params[1]);
  CHECK(std::string(reinterpret_cast<const char*>(extended.params[2]->data()),
                    extended.params[2]->size()) == "2026-01-01 00:00:00+00");
  CHECK_FALSE(extended.params[3]);
  CHECK(extended.result_formats == std::vector<std::int16_t>{1});
  // No format codes at all (every value text) stays valid.
  std::string text_only;
  protocol::append_bind(text_only, "", "ins", {}, {std::string("5")}, {});
  const auto plain =
      parsed_bind(*routing::bind_with_extra_parameters(parsed_bind(text_only), 1, {"x"}));
  CHECK(plain.param_formats == std::vector<std::int16_t>{0, 0});
  // A Bind with the wrong number of values is left to the server to refuse.
  CHECK_FALSE(routing::bind_with_extra_parameters(parsed_bind(text_only), 2, {"x"}));
}

TEST_CASE("a ParameterDescription shows the client only its own parameters") {
  const std::string payload("\x00\x03\x00\x00\x00\x17\x00\x00\x04\xa0\x00\x00\x00\x14", 14);
  auto trimmed = routing::trimmed_parameter_description(
      {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, 1);
  REQUIRE(trimmed);
  CHECK(*trimmed == std::string("t\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x17", 11));
  CHECK_FALSE(routing::trimmed_parameter_description(
      {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, 4));
  CHECK_FALSE(routing::trimmed_parameter_description(
      {reinterpret_cast<const std::uint8_t*>(payload.data()), 5}, 1));  // truncated
}

TEST_CASE("the Parse's parameter types: the client's, padded, then the added ones") {
  CHECK(routing::extended_parameter_types({23}, 3, {1184, 20}) ==
        std::vector<std::int32_t>{23, 0, 0, 1184, 20});
  CHECK(routing::extended_parameter_types({}, 0, {701}) == std::vector<std::int32_t>{701});
}

TEST_CASE("values pgdual makes itself have PostgreSQL's formats") {
  CHECK(std::regex_match(routing::utc_timestamp_now(),
                         std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00)")));
  for (int i = 0; i < 100; ++i) {
    const auto uuid = routing::random_uuid_v4();
    CHECK(std::regex_match(
        uuid,
        std::regex(R"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})")));
    const double value = routing::random_unit_double();
    CHECK(value >= 0.0);
    CHECK(value < 1.0);
  }
  CHECK(routing::random_uuid_v4() != routing::random_uuid_v4());
}

TEST_CASE("the primary is asked for exactly what it must supply") {
  routing::PrimaryValuesRequest request;
  CHECK(request.empty());
  request.transaction_timestamp = true;
  request.sequences = {"s", "it's"};
  const auto sql = routing::primary_values_query(request);
  CHECK(sql.find("pg_catalog.now()") != std::string::npos);
  CHECK(sql.find("pg_catalog.nextval('s')") != std::string::npos);
  CHECK(sql.find("pg_catalog.nextval('it''s')") != std::string::npos);

  const auto analysis = routing::analyze_for_rewrite(
      "INSERT INTO t VALUES (now(), random(), nextval('s')); COMMIT; INSERT INTO t VALUES (now())",
      {});
  REQUIRE(analysis.rewritable());
  routing::RewriteValues values;
  CHECK_FALSE(
      routing::build_rewrite_values(analysis, std::nullopt, {}, values));  // a sequence is missing
  REQUIRE(
      routing::build_rewrite_values(analysis, std::string("2026-01-01 00:00:00+00"), {42}, values));
  REQUIRE(values.timestamps.size() == 2);
  CHECK(values.timestamps[0] == "2026-01-01 00:00:00+00");  // the open transaction's
  CHECK(values.timestamps[1] != values.timestamps[0]);      // the text's own next transaction
  CHECK(values.sequence_values == std::vector<std::int64_t>{42});
  CHECK(values.randoms.size() == 1);
}
