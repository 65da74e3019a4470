// jobs/reconcile/row_diff: which keys are candidates from the fingerprints, which fetched rows
// differ (and in which columns), and the float tolerance.

#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>

#include "jobs/reconcile/row_diff.hpp"

using namespace pgdual::jobs::reconcile;
using pgdual::jobs::backfill::TablePlan;

namespace {

// public.measures (id integer PRIMARY KEY, label text, value double precision)
TablePlan measures_plan() {
  TablePlan plan;
  plan.source = plan.target = "public.measures";
  plan.source_quoted = plan.target_quoted = "\"public\".\"measures\"";
  plan.columns_quoted = {"\"id\"", "\"label\"", "\"value\""};
  plan.column_types = {"integer", "text", "double precision"};
  plan.key = {{"\"id\"", "integer"}};
  plan.update_columns_quoted = {"\"label\"", "\"value\""};
  return plan;
}

FetchedRow row(const std::string& id, Value label, Value value, std::string normalized = "") {
  if (normalized.empty()) {
    normalized = "(" + id + "," + (label ? *label : "") + "," + (value ? *value : "") + ")";
  }
  return {{id}, normalized, {id, std::move(label), std::move(value)}};
}

std::vector<Key> sorted(std::vector<Key> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

const RowDifference* find(const std::vector<RowDifference>& differences, const std::string& id) {
  for (const auto& difference : differences) {
    if (difference.key == Key{id}) return &difference;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("candidates are keys missing on either side or fingerprinted differently",
          "[reconcile][row_diff]") {
  const std::vector<KeyFingerprint> old_rows = {
      {{"1"}, 10}, {{"2"}, 20}, {{"3"}, 30}, {{"5"}, 50}, {{"6"}, -7}};
  const std::vector<KeyFingerprint> new_rows = {{{"1"}, 10}, {{"2"}, 21}, {{"4"}, 40},
                                                {{"5"}, 50}, {{"6"}, -7}, {{"7"}, 0}};
  const auto candidates = candidates_of(old_rows, new_rows);
  // 2 differs, 3 only on old, 4 and 7 only on new; 1, 5 and 6 are equal. Each once.
  CHECK(candidates.size() == 4);
  CHECK(sorted(candidates) == std::vector<Key>{{"2"}, {"3"}, {"4"}, {"7"}});
}

TEST_CASE("no candidate when both sides hold the same fingerprints, in any order",
          "[reconcile][row_diff]") {
  const std::vector<KeyFingerprint> old_rows = {{{"1"}, 10}, {{"2"}, 20}};
  const std::vector<KeyFingerprint> new_rows = {{{"2"}, 20}, {{"1"}, 10}};
  CHECK(candidates_of(old_rows, new_rows).empty());
  CHECK(candidates_of({}, {}).empty());
  CHECK(sorted(candidates_of(old_rows, {})) == std::vector<Key>{{"1"}, {"2"}});
  CHECK(sorted(candidates_of({}, new_rows)) == std::vector<Key>{{"1"}, {"2"}});
}

TEST_CASE("composite keys whose parts join alike stay distinct", "[reconcile][row_diff]") {
  // ("a", "bc") and ("ab", "c") concatenate to the same text.
  const std::vector<KeyFingerprint> old_rows = {{{"a", "bc"}, 1}, {{"x", "y"}, 2}};
  const std::vector<KeyFingerprint> new_rows = {{{"ab", "c"}, 1}, {{"x", "y"}, 2}};
  CHECK(sorted(candidates_of(old_rows, new_rows)) == std::vector<Key>{{"a", "bc"}, {"ab", "c"}});
}

TEST_CASE("compare_rows reports rows only on one side with that side's values",
          "[reconcile][row_diff]") {
  const TablePlan plan = measures_plan();
  const auto differences = compare_rows(plan, {row("1", "a", "1.5"), row("2", "b", "2.5")},
                                        {row("2", "b", "2.5"), row("3", "c", "3.5")}, 0);
  REQUIRE(differences.size() == 2);
  const RowDifference* old_only = find(differences, "1");
  REQUIRE(old_only != nullptr);
  CHECK(old_only->kind == DifferenceKind::only_on_old);
  CHECK(old_only->old_values == std::vector<Value>{"1", "a", "1.5"});
  CHECK(old_only->new_values.empty());
  CHECK(old_only->columns.empty());
  const RowDifference* new_only = find(differences, "3");
  REQUIRE(new_only != nullptr);
  CHECK(new_only->kind == DifferenceKind::only_on_new);
  CHECK(new_only->old_values.empty());
  CHECK(new_only->new_values == std::vector<Value>{"3", "c", "3.5"});
  CHECK_FALSE(new_only->repaired);
  CHECK(to_string(DifferenceKind::only_on_old) == std::string("only_on_old"));
  CHECK(to_string(DifferenceKind::only_on_new) == std::string("only_on_new"));
  CHECK(to_string(DifferenceKind::different) == std::string("different"));
}

TEST_CASE("compare_rows names the columns that differ", "[reconcile][row_diff]") {
  const TablePlan plan = measures_plan();
  auto differences = compare_rows(plan, {row("1", "a", "1.5")}, {row("1", "b", "1.5")}, 0);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].kind == DifferenceKind::different);
  CHECK(differences[0].key == Key{"1"});
  CHECK(differences[0].columns == std::vector<std::string>{"\"label\""});
  CHECK(differences[0].old_values == std::vector<Value>{"1", "a", "1.5"});
  CHECK(differences[0].new_values == std::vector<Value>{"1", "b", "1.5"});

  differences = compare_rows(plan, {row("1", "a", "1.5")}, {row("1", "b", "2.5")}, 0);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"label\"", "\"value\""});
}

TEST_CASE("rows whose normalised text is equal are not differences", "[reconcile][row_diff]") {
  // e.g. json that differs in white space only, or numeric 1.0 against 1.00: the stores print
  // the values differently, the normalised record text is the same.
  const TablePlan plan = measures_plan();
  CHECK(compare_rows(plan, {row("1", "{\"a\": 1}", "1.5", "(1,same,1.5)")},
                     {row("1", "{\"a\":1}", "1.5", "(1,same,1.5)")}, 0)
            .empty());
  CHECK(compare_rows(plan, {row("1", "a", "1.5"), row("2", "b", "2")},
                     {row("2", "b", "2"), row("1", "a", "1.5")}, 0)
            .empty());
  // Keys on neither side are no difference.
  CHECK(compare_rows(plan, {}, {}, 0).empty());
}

TEST_CASE("NULL and the empty string differ", "[reconcile][row_diff]") {
  const TablePlan plan = measures_plan();
  const auto differences = compare_rows(plan, {row("1", std::nullopt, "1.5", "(1,,1.5)")},
                                        {row("1", "", "1.5", "(1,\"\",1.5)")}, 0);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"label\""});
  CHECK(differences[0].old_values[1] == std::nullopt);
  CHECK(differences[0].new_values[1] == Value{""});
}

TEST_CASE("floats within the tolerance are equal, beyond it they differ", "[reconcile][row_diff]") {
  const TablePlan plan = measures_plan();
  // The rounded fingerprints straddled a digit: the record texts differ.
  const auto old_row = row("1", "a", "1.00000010", "(1,a,1.000000e+00)");
  const auto near_row = row("1", "a", "1.00000020", "(1,a,1.000001e+00)");
  CHECK(compare_rows(plan, {old_row}, {near_row}, 1e-6).empty());
  // Without a tolerance the same values differ.
  auto differences = compare_rows(plan, {old_row}, {near_row}, 0);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"value\""});
  // Beyond the tolerance.
  differences = compare_rows(plan, {old_row}, {row("1", "a", "1.1", "(1,a,1.100000e+00)")}, 1e-6);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"value\""});
  // The tolerance is for float columns only: a text column holding numbers compares exactly.
  differences =
      compare_rows(plan, {row("1", "1.00000010", "2")}, {row("1", "1.00000020", "2")}, 1e-6);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"label\""});
  // A NULL float is not within any tolerance of a value.
  differences = compare_rows(plan, {row("1", "a", std::nullopt)}, {row("1", "a", "0")}, 0.5);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"value\""});
}

TEST_CASE("floats_close: NaN, the infinities, zero and relative distance",
          "[reconcile][row_diff]") {
  CHECK(floats_close("NaN", "NaN", 1e-6));
  CHECK_FALSE(floats_close("NaN", "1", 1e-6));
  CHECK_FALSE(floats_close("1", "NaN", 1e-6));
  CHECK_FALSE(floats_close("NaN", "Infinity", 1e-6));
  CHECK(floats_close("Infinity", "Infinity", 1e-6));
  CHECK(floats_close("-Infinity", "-Infinity", 1e-6));
  CHECK_FALSE(floats_close("Infinity", "-Infinity", 1e-6));
  CHECK_FALSE(floats_close("Infinity", "1.7976931348623157e+308", 1.0));
  CHECK(floats_close("0", "0", 1e-6));
  CHECK(floats_close("0", "-0", 1e-6));
  CHECK_FALSE(floats_close("0", "1e-300", 1e-6));  // relative: nothing is close to zero
  CHECK(floats_close("1000", "1000.5", 1e-3));     // 0.5 <= 1e-3 * 1000.5
  CHECK_FALSE(floats_close("1000", "1002", 1e-3));
  CHECK(floats_close("1e-10", "1.0000001e-10", 1e-6));  // relative, not absolute
  CHECK_FALSE(floats_close("1e-10", "2e-10", 1e-6));
  CHECK(floats_close("-2.5", "-2.5000001", 1e-6));
  CHECK_FALSE(floats_close("-2.5", "2.5", 1e-6));
  CHECK(floats_close("1.5", "1.5", 0));
  CHECK_FALSE(floats_close("1.5", "1.5000001", 0));
  // Not a number at all.
  CHECK_FALSE(floats_close("abc", "abc", 1e-6));
  CHECK_FALSE(floats_close("1x", "1", 1e-6));
}
