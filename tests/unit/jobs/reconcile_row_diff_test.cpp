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
  return {{id}, normalized, {id, std::move(label), std::move(value)}, {}};
}

const RowDifference* find(const std::vector<RowDifference>& differences, const std::string& id) {
  for (const auto& difference : differences) {
    if (difference.key == Key{id}) return &difference;
  }
  return nullptr;
}

}  // namespace

// Rows as the listing query returns them: the key's hash stands for the key; `row` is the
// position in its store's result.
std::vector<KeyFingerprint> listed(std::vector<std::pair<std::int64_t, std::int64_t>> rows) {
  std::vector<KeyFingerprint> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.push_back({rows[i].first, rows[i].second, static_cast<int>(i)});
  }
  return out;
}

// "old:N" / "new:N" for each candidate, sorted.
std::vector<std::string> named(const std::vector<CandidateRow>& candidates) {
  std::vector<std::string> out;
  for (const auto& candidate : candidates) {
    out.push_back((candidate.on_old ? "old:" : "new:") + std::to_string(candidate.row));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("candidates are keys missing on either side or fingerprinted differently",
          "[reconcile][row_diff]") {
  const auto old_rows = listed({{1, 10}, {2, 20}, {3, 30}, {5, 50}, {6, -7}});
  const auto new_rows = listed({{1, 10}, {2, 21}, {4, 40}, {5, 50}, {6, -7}, {7, 0}});
  // 2 differs (reported once, as the old store's row 1), 3 only on old (row 2), 4 and 7 only
  // on new (rows 2 and 5); 1, 5 and 6 are equal.
  CHECK(named(candidates_of(old_rows, new_rows)) ==
        std::vector<std::string>{"new:2", "new:5", "old:1", "old:2"});
}

TEST_CASE("no candidate when both sides hold the same fingerprints, in any order",
          "[reconcile][row_diff]") {
  const auto old_rows = listed({{1, 10}, {2, 20}});
  const auto new_rows = listed({{2, 20}, {1, 10}});
  CHECK(candidates_of(old_rows, new_rows).empty());
  CHECK(candidates_of({}, {}).empty());
  CHECK(named(candidates_of(old_rows, {})) == std::vector<std::string>{"old:0", "old:1"});
  CHECK(named(candidates_of({}, new_rows)) == std::vector<std::string>{"new:0", "new:1"});
}

TEST_CASE("the same fingerprint under another key is a candidate on both sides",
          "[reconcile][row_diff]") {
  // A key changed on one store, its values not: ("a","bc") against ("ab","c") hash apart.
  const auto old_rows = listed({{111, 1}, {222, 2}});
  const auto new_rows = listed({{333, 1}, {222, 2}});
  CHECK(named(candidates_of(old_rows, new_rows)) == std::vector<std::string>{"new:0", "old:0"});
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

TEST_CASE("columns equal as values are not listed, and do not make a row differ",
          "[reconcile][row_diff]") {
  TablePlan plan;
  plan.target_quoted = "\"public\".\"docs\"";
  plan.columns_quoted = {"\"id\"", "\"doc\"", "\"score\""};
  plan.column_types = {"integer", "json", "double precision"};
  plan.key = {{"\"id\"", "integer"}};
  // json key spacing differs as text, equal as jsonb; the floats are within 1e-6 but their
  // rounded fingerprints straddle a digit, so the record texts differ.
  const FetchedRow old_row{{"1"},
                           "(1,{\"a\": 1},1.000000e+00)",
                           {"1", "{\"a\":1}", "1.0000004"},
                           {"1", "{\"a\": 1}", "1.000000e+00"}};
  FetchedRow new_row{{"1"},
                     "(1,{\"a\": 1},1.000001e+00)",
                     {"1", "{\"a\": 1}", "1.0000006"},
                     {"1", "{\"a\": 1}", "1.000001e+00"}};
  CHECK(compare_rows(plan, {old_row}, {new_row}, 1e-6).empty());
  // A real difference elsewhere lists only that column, not the json one.
  new_row.values[2] = "2.5";
  new_row.normalized_values[2] = "2.500000e+00";
  new_row.normalized = "(1,{\"a\": 1},2.500000e+00)";
  const auto differences = compare_rows(plan, {old_row}, {new_row}, 1e-6);
  REQUIRE(differences.size() == 1);
  CHECK(differences[0].columns == std::vector<std::string>{"\"score\""});
}

TEST_CASE("composite keys whose parts hold the separator byte stay distinct in compare_rows",
          "[reconcile][row_diff]") {
  TablePlan plan;
  plan.columns_quoted = {"\"a\"", "\"b\""};
  plan.column_types = {"text", "text"};
  plan.key = {{"\"a\"", "text"}, {"\"b\"", "text"}};
  const FetchedRow old_row{{"a\x1f", "b"}, "(a,b)", {"a\x1f", "b"}, {}};
  const FetchedRow new_row{{"a",
                            "\x1f"
                            "b"},
                           "(a,b)",
                           {"a",
                            "\x1f"
                            "b"},
                           {}};
  const auto differences = compare_rows(plan, {old_row}, {new_row}, 0);
  REQUIRE(differences.size() == 2);
  CHECK(differences[0].kind == DifferenceKind::only_on_old);
  CHECK(differences[1].kind == DifferenceKind::only_on_new);
}
