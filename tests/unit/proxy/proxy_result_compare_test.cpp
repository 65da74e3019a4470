// Tests of the shadow-read comparator: ResultCapture fed builder-made backend messages,
// compare_results on pairs of captures, and the discrepancy log's JSON.

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "proxy/shadow/discrepancy_log.hpp"
#include "proxy/shadow/result_capture.hpp"
#include "proxy/shadow/result_compare.hpp"

using namespace pgdual::proxy::shadow;
namespace proto = pgdual::protocol;
using Values = std::vector<std::optional<std::string>>;
using namespace std::string_literals;

namespace {

constexpr std::int32_t kInt4 = 23, kText = 25, kTable = 16384;

// Hands every message of `wire` (as the builders write them) to the capture.
void feed(ResultCapture& capture, const std::string& wire) {
  std::size_t offset = 0;
  while (offset < wire.size()) {
    if (wire.size() - offset < 5) FAIL("truncated message header");
    const auto* p = reinterpret_cast<const std::uint8_t*>(wire.data()) + offset;
    const std::uint32_t length = (std::uint32_t{p[1]} << 24) | (p[2] << 16) | (p[3] << 8) | p[4];
    if (length < 4 || offset + 1 + length > wire.size()) FAIL("bad message length");
    capture.on_message(wire[offset], {p + 5, length - 4});
    offset += 1 + length;
  }
}

proto::RowDescriptionField column(std::string name, std::int32_t type, std::int16_t attnum = 1) {
  proto::RowDescriptionField field;
  field.name = std::move(name);
  field.table_oid = kTable;
  field.column = attnum;
  field.type_oid = type;
  return field;
}

std::string row_description(const std::vector<proto::RowDescriptionField>& columns) {
  std::string out;
  proto::append_row_description(out, columns);
  return out;
}

std::string data_rows(const std::vector<Values>& rows) {
  std::string out;
  for (const auto& row : rows) proto::append_data_row(out, row);
  return out;
}

std::string complete(std::string_view tag) {
  std::string out;
  proto::append_command_complete(out, tag);
  return out;
}

// A whole SELECT: RowDescription, DataRows, CommandComplete.
std::string select(const std::vector<proto::RowDescriptionField>& columns,
                   const std::vector<Values>& rows) {
  return row_description(columns) + data_rows(rows) +
         complete("SELECT " + std::to_string(rows.size()));
}

std::string error(std::string sqlstate) {
  std::string out;
  proto::append_error_response(out, proto::make_error(std::move(sqlstate), "boom"));
  return out;
}

ResultCapture capture(const std::string& wire, const CompareRules& rules = {}) {
  ResultCapture c(rules);
  feed(c, wire);
  return c;
}

const std::vector<proto::RowDescriptionField> kUsers = {column("id", kInt4, 1),
                                                        column("name", kText, 2)};
const std::vector<Values> kRows = {{"1", "ann"}, {"2", "bob"}, {"3", "cy"}};

ComparisonResult compare(const std::string& primary, const std::string& secondary,
                         const CompareRules& rules = {}, bool ordered = false,
                         const std::vector<std::size_t>& keys = {}) {
  return compare_results(capture(primary, rules), capture(secondary, rules), rules, ordered, keys);
}

}  // namespace

TEST_CASE("identical results match, ordered or not", "[shadow]") {
  const std::string wire = select(kUsers, kRows);
  ResultCapture c = capture(wire);
  REQUIRE(c.result_sets().size() == 1);
  CHECK(c.result_sets()[0].row_count == 3);
  CHECK(c.result_sets()[0].command_tag == "SELECT 3");
  CHECK(c.result_sets()[0].columns[1].name == "name");
  CHECK(c.result_sets()[0].columns[1].attnum == 2);
  CHECK_FALSE(c.digest_only());
  for (bool ordered : {false, true}) {
    auto r = compare(wire, wire, {}, ordered, {0});
    CHECK(r.outcome == Outcome::match);
    CHECK(r.differences.empty());
    CHECK(r.differing_rows == 0);
  }
}

TEST_CASE("row order matters only for ordered comparisons", "[shadow]") {
  const std::string shuffled = select(kUsers, {kRows[2], kRows[0], kRows[1]});
  CHECK(compare(select(kUsers, kRows), shuffled).outcome == Outcome::match);
  auto r = compare(select(kUsers, kRows), shuffled, {}, true, {});
  CHECK(r.outcome == Outcome::mismatch);
  CHECK(r.differing_rows == 3);
  REQUIRE_FALSE(r.differences.empty());
  CHECK(r.differences[0].entity_is_position);
  CHECK(r.differences[0].entity_id == decltype(r.differences[0].entity_id){{"row", "1"}});
  CHECK(r.differences[0].field == "id");
  CHECK(r.differences[0].primary_value == "1");
  CHECK(r.differences[0].secondary_value == "3");
}

TEST_CASE("a changed field is reported with its key, column and both values", "[shadow]") {
  auto r = compare(select(kUsers, kRows), select(kUsers, {kRows[0], {"2", "bobby"}, kRows[2]}), {},
                   false, {0});
  CHECK(r.outcome == Outcome::mismatch);
  REQUIRE(r.differences.size() == 1);
  const Difference& d = r.differences[0];
  CHECK(d.kind == DifferenceKind::field);
  CHECK(d.entity_id == decltype(d.entity_id){{"id", "2"}});
  CHECK(d.field == "name");
  CHECK(d.primary_value == "bob");
  CHECK(d.secondary_value == "bobby");
  CHECK(r.differing_rows == 1);
  CHECK(r.differing_rows_exact);
  REQUIRE(r.column_differences.size() == 1);
  CHECK(r.column_differences[0].table_oid == kTable);
  CHECK(r.column_differences[0].column == "name");
  CHECK(r.column_differences[0].count == 1);
}

TEST_CASE("NULL and the empty string differ, in rows and in digests", "[shadow]") {
  const std::string with_null = select(kUsers, {{"1", std::nullopt}});
  const std::string with_empty = select(kUsers, {{"1", ""}});
  auto r = compare(with_null, with_empty, {}, false, {0});
  REQUIRE(r.differences.size() == 1);
  CHECK(r.differences[0].primary_value == std::nullopt);
  CHECK(r.differences[0].secondary_value == "");
  CompareRules tiny;
  tiny.max_buffered_bytes = 1;  // nothing kept: digests only
  auto d = compare(with_null, with_empty, tiny);
  CHECK(d.outcome == Outcome::mismatch);
  REQUIRE(d.differences.size() == 1);
  CHECK(d.differences[0].kind == DifferenceKind::digest);
}

TEST_CASE("missing and extra rows", "[shadow]") {
  const std::string secondary = select(kUsers, {kRows[0], kRows[1], {"4", "dee"}});
  auto r = compare(select(kUsers, kRows), secondary, {}, false, {0});
  CHECK(r.differing_rows == 2);
  REQUIRE(r.differences.size() == 2);
  CHECK(r.differences[0].kind == DifferenceKind::missing_row);
  CHECK(r.differences[0].field == "(row)");
  CHECK(r.differences[0].entity_id == decltype(r.differences[0].entity_id){{"id", "3"}});
  CHECK(r.differences[0].primary_value == "id=3, name=cy");
  CHECK(r.differences[0].secondary_value == std::nullopt);
  CHECK(r.differences[1].kind == DifferenceKind::extra_row);
  CHECK(r.differences[1].secondary_value == "id=4, name=dee");
  auto ordered = compare(select(kUsers, kRows), select(kUsers, {kRows[0]}), {}, true, {});
  CHECK(ordered.differing_rows == 2);
  CHECK(ordered.differences.back().kind == DifferenceKind::missing_row);
  CHECK(ordered.differences.back().entity_id[0].second == "3");
}

TEST_CASE("column name or type differences", "[shadow]") {
  auto renamed =
      compare(select(kUsers, kRows), select({column("id", kInt4), column("nm", kText)}, kRows));
  CHECK(renamed.outcome == Outcome::mismatch);
  REQUIRE(renamed.differences.size() == 1);
  CHECK(renamed.differences[0].kind == DifferenceKind::columns);
  CHECK(renamed.differences[0].field == "(columns)");
  CHECK(renamed.differences[0].primary_value == "id:23, name:25");
  auto retyped =
      compare(select(kUsers, kRows), select({column("id", 701), column("name", kText)}, kRows));
  CHECK(retyped.outcome == Outcome::mismatch);
  CHECK(retyped.differences.at(0).secondary_value == "id:701, name:25");
}

TEST_CASE("a widened column (integer to bigint, varchar to text) compares by value", "[shadow]") {
  // migration.mapping's views show a widened column in the new type (docs/schema-mapping.md).
  const auto widened = select({column("id", 20), column("name", 1043)}, kRows);
  CHECK(compare(select(kUsers, kRows), widened).outcome == Outcome::match);
  auto changed = compare(select(kUsers, kRows), select({column("id", 20), column("name", 1043)},
                                                       {kRows[2], kRows[1], kRows[0]}));
  CHECK(changed.outcome == Outcome::match);  // unordered: the same multiset
  auto other_text =
      compare(select(kUsers, kRows), select({column("id", 20), column("name", kText)}, {kRows[0]}));
  CHECK(other_text.outcome == Outcome::mismatch);
  CHECK(other_text.differences.at(0).kind != DifferenceKind::columns);
}

TEST_CASE("errors: secondary alone is an error, primary alone a mismatch, same SQLSTATE a match",
          "[shadow]") {
  const std::string ok = select(kUsers, kRows);
  auto secondary_failed = compare(ok, error("42P01"));
  CHECK(secondary_failed.outcome == Outcome::error);
  CHECK(secondary_failed.differences.at(0).field == "(error)");
  CHECK(secondary_failed.differences.at(0).secondary_value == "ERROR 42P01");
  CHECK(compare(error("57014"), ok).outcome == Outcome::mismatch);
  CHECK(compare(error("22012"), error("22012")).outcome == Outcome::match);
  CHECK(compare(error("22012"), error("42501")).outcome == Outcome::mismatch);
  // Rows sent before a mid-query error on both sides do not matter.
  CHECK(compare(row_description(kUsers) + data_rows({kRows[0]}) + error("22012"),
                row_description(kUsers) + error("22012"))
            .outcome == Outcome::match);
}

TEST_CASE("float tolerance", "[shadow]") {
  const std::vector<proto::RowDescriptionField> cols = {column("id", kInt4), column("v", 701)};
  const std::string primary = select(cols, {{"1", "1.0"}, {"2", "1000"}, {"3", "NaN"}});
  const std::string close = select(cols, {{"1", "1.0000001"}, {"2", "1000.0001"}, {"3", "NaN"}});
  const std::string far = select(cols, {{"1", "1.1"}, {"2", "1000"}, {"3", "NaN"}});
  CompareRules rules;
  CHECK(compare(primary, close, rules, false, {0}).outcome == Outcome::mismatch);  // exact
  rules.float_tolerance = 1e-6;
  for (bool ordered : {false, true}) {
    CHECK(compare(primary, close, rules, ordered, {0}).outcome == Outcome::match);
    CHECK(compare(primary, close, rules, ordered, {}).outcome == Outcome::match);
    CHECK(compare(primary, far, rules, ordered, {0}).outcome == Outcome::mismatch);
  }
  CompareRules digests = rules;
  digests.max_buffered_bytes = 1;
  CHECK(compare(primary, close, digests).outcome == Outcome::match);
  CHECK(compare(primary, far, digests).outcome == Outcome::mismatch);
}

TEST_CASE("timestamp precision", "[shadow]") {
  const std::vector<proto::RowDescriptionField> cols = {column("id", kInt4), column("at", 1184)};
  const auto at = [&](std::string a, std::string b) {
    return select(cols, {{"1", "2024-01-02 03:04:05" + a + "+00"}, {"2", "12:00:00" + b}});
  };
  CompareRules rules;
  rules.timestamp_precision = 3;
  CHECK(compare(at(".123456", ".1"), at(".123999", ".100456"), rules, false, {0}).outcome ==
        Outcome::match);
  CHECK(compare(at(".123456", ".1"), at(".124", ".1"), rules, false, {0}).outcome ==
        Outcome::mismatch);
  rules.timestamp_precision = 0;
  CHECK(compare(at(".9", ""), at("", ".5"), rules, false, {0}).outcome == Outcome::match);
  rules.max_buffered_bytes = 1;
  CHECK(compare(at(".9", ""), at("", ".5"), rules).outcome == Outcome::match);
  CHECK(compare(at(".123456", ""), at(".123456", ""), {}).outcome == Outcome::match);
  CHECK(compare(at(".123456", ""), at(".12345", ""), {}).outcome == Outcome::mismatch);
}

TEST_CASE("ignored columns are left out of comparisons and digests", "[shadow]") {
  const std::vector<proto::RowDescriptionField> cols = {column("id", kInt4),
                                                        column("updated_at", kText)};
  const std::string a = select(cols, {{"1", "mon"}, {"2", "tue"}});
  const std::string b = select(cols, {{"1", "wed"}, {"2", std::nullopt}});
  CHECK(compare(a, b).outcome == Outcome::mismatch);
  CompareRules rules;
  rules.ignore_columns = {"updated_at"};
  CHECK(compare(a, b, rules, true, {}).outcome == Outcome::match);
  CHECK(compare(a, b, rules, false, {}).outcome == Outcome::match);
  rules.max_buffered_bytes = 1;
  CHECK(compare(a, b, rules).outcome == Outcome::match);
}

TEST_CASE("max_detail_rows caps the detail, not the counts", "[shadow]") {
  std::vector<Values> primary, secondary;
  for (int i = 0; i < 20; ++i) {
    primary.push_back({std::to_string(i), "x"});
    secondary.push_back({std::to_string(i), "y"});
  }
  CompareRules rules;
  rules.max_detail_rows = 5;
  auto r = compare(select(kUsers, primary), select(kUsers, secondary), rules, false, {0});
  CHECK(r.differences.size() == 5);
  CHECK(r.differing_rows == 20);
  CHECK(r.differing_rows_exact);
  CHECK(r.column_differences.at(0).count == 20);
}

TEST_CASE("a capture far larger than its budget keeps bounded memory and still compares",
          "[shadow]") {
  CompareRules rules;
  rules.max_buffered_bytes = 64 * 1024;
  const auto make = [&](std::optional<int> changed_row, bool reversed) {
    ResultCapture c(rules);
    feed(c, row_description(kUsers));
    constexpr int kRowCount = 200000;  // ~4.6 MB of DataRows
    for (int n = 0; n < kRowCount; ++n) {
      const int i = reversed ? kRowCount - 1 - n : n;
      feed(c, data_rows({{std::to_string(i),
                          i == changed_row ? "changed" : "name-" + std::to_string(i)}}));
      if (c.buffered_bytes() > rules.max_buffered_bytes) FAIL("over budget at row " << n);
    }
    feed(c, complete("SELECT 200000"));
    return c;
  };
  const ResultCapture primary = make(std::nullopt, false);
  CHECK(primary.digest_only());
  CHECK(primary.buffered_bytes() <= rules.max_buffered_bytes);
  CHECK(primary.result_sets().at(0).rows.empty());
  CHECK(primary.result_sets().at(0).row_count == 200000);
  CHECK(compare_results(primary, make(std::nullopt, false), rules, true, {0}).outcome ==
        Outcome::match);
  CHECK(compare_results(primary, make(std::nullopt, true), rules, false, {0}).outcome ==
        Outcome::match);
  CHECK(compare_results(primary, make(std::nullopt, true), rules, true, {0}).outcome ==
        Outcome::mismatch);
  auto r = compare_results(primary, make(123456, false), rules, false, {0});
  CHECK(r.outcome == Outcome::mismatch);
  REQUIRE(r.differences.size() == 1);
  CHECK(r.differences[0].kind == DifferenceKind::digest);
  CHECK(r.differences[0].field == "(digest)");
  CHECK_FALSE(r.differing_rows_exact);
}

TEST_CASE("several result sets are compared one by one", "[shadow]") {
  std::string empty_query;
  proto::append_empty_query_response(empty_query);
  std::string noise;  // messages outside results are ignored
  proto::append_parse_complete(noise);
  proto::append_ready_for_query(noise, 'I');
  const std::string first = select(kUsers, kRows) + noise;
  const std::string primary = first + select(kUsers, {kRows[0]}) + empty_query + complete("BEGIN");
  ResultCapture c = capture(primary);
  REQUIRE(c.result_sets().size() == 4);
  CHECK(c.result_sets()[2].end == SetEnd::empty_query);
  CHECK(compare(primary, primary).outcome == Outcome::match);
  auto r =
      compare(primary, first + select(kUsers, {{"1", "zed"}}) + empty_query + complete("BEGIN"), {},
              false, {0});
  REQUIRE(r.differences.size() == 1);
  CHECK(r.differences[0].result_set == 1);
  auto shorter = compare(primary, first);
  CHECK(shorter.outcome == Outcome::mismatch);
  CHECK(shorter.differences.at(0).field == "(result_set)");
  CHECK(shorter.differences.at(0).secondary_value == std::nullopt);
  // Without a RowDescription the columns are unknown; a PortalSuspended closes a set too.
  std::string suspended = data_rows({{"7", "x"}});
  suspended += "s\0\0\0\4"s;
  ResultCapture undescribed = capture(suspended + data_rows({{"8", "y"}}) + complete("SELECT 1"));
  REQUIRE(undescribed.result_sets().size() == 2);
  CHECK(undescribed.result_sets()[0].end == SetEnd::suspended);
  CHECK(undescribed.result_sets()[1].columns.at(1).name == "column 2");
  CHECK_FALSE(undescribed.malformed());
}

TEST_CASE("many result sets beyond the budget fold into overflow digests", "[shadow]") {
  CompareRules rules;
  rules.max_buffered_bytes = 4096;
  std::string same, changed;
  for (int i = 0; i < 500; ++i) {
    same += select(kUsers, {{std::to_string(i), "v"}});
    changed += select(kUsers, {{std::to_string(i), i == 499 ? "w" : "v"}});
  }
  ResultCapture c = capture(same, rules);
  CHECK(c.overflow_sets() > 0);
  CHECK(c.buffered_bytes() <= rules.max_buffered_bytes);
  CHECK(compare(same, same, rules).outcome == Outcome::match);
  auto r = compare(same, changed, rules);
  CHECK(r.outcome == Outcome::mismatch);
  CHECK(r.differences.at(0).kind == DifferenceKind::digest);
}

TEST_CASE("malformed payloads mark the capture and compare as errors", "[shadow]") {
  std::string truncated = data_rows({{"1", "ann"}});
  const std::string header = truncated.substr(0, 5);
  const std::string body = truncated.substr(5, truncated.size() - 6);  // one byte short
  std::string bad = row_description(kUsers) + "D"s + header.substr(1, 3) +
                    static_cast<char>(header[4] - 1) + body;
  ResultCapture c = capture(bad);
  CHECK(c.malformed());
  auto r = compare(select(kUsers, kRows), bad);
  CHECK(r.outcome == Outcome::error);
  CHECK(r.differences.at(0).field == "(malformed)");
  CHECK(capture(row_description(kUsers) + data_rows({{"1"}})).malformed());  // width mismatch
  CHECK(capture("D\0\0\0\x0a\0\1\xff\xff\xff\xfe"s).malformed());            // length -2
  CHECK(capture("T\0\0\0\5\0"s).malformed());
}

TEST_CASE("discrepancy JSON redacts values unless full", "[shadow]") {
  Difference d{0, {{"id", "abc"}}, false, "name", "abc", std::nullopt, DifferenceKind::field};
  const DiscrepancyContext ctx{"fp1", "SELECT * FROM t WHERE id = $1", "public.t", "s-9"};
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223...
  CHECK(discrepancy_json(d, ctx, false) ==
        R"({"event":"shadow_read_mismatch","fingerprint":"fp1",)"
        R"("query":"SELECT * FROM t WHERE id = $1","table":"public.t","session":"s-9",)"
        R"("entity_id":{"id":"sha256:ba7816bf8f01cfea"},"field":"name","kind":"field",)"
        R"("old":"sha256:ba7816bf8f01cfea","new":null})");
  const std::string full = discrepancy_json(d, ctx, true);
  CHECK(full.find(R"("entity_id":{"id":"abc"})") != std::string::npos);
  CHECK(full.find(R"("old":"abc","new":null})") != std::string::npos);
  d.entity_id = {{"row", "4"}};
  d.entity_is_position = true;
  CHECK(discrepancy_json(d, ctx, false).find(R"({"row":"4"})") != std::string::npos);
}

TEST_CASE("JSON strings are escaped", "[shadow]") {
  std::string out;
  pgdual::text::append_json_string(out,
                                   "a\"b\\c\n\x01\x1f"
                                   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(out == "\"a\\\"b\\\\c\\u000a\\u0001\\u001fcaf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  out.clear();
  pgdual::text::append_json_string(
      out, "\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82");  // invalid, overlong, surrogate
  CHECK(out == R"("\ufffd|\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd\ufffd")");
}
