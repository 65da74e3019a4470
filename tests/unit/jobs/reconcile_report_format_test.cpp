// jobs/reconcile/report_format and ReconcileReport::exit_code: the JSON report (well formed,
// values redacted unless full), the table, the repair script and the proof, on a hand-built
// report.

#include <catch2/catch.hpp>
#include <cctype>
#include <string_view>

#include "jobs/reconcile/repair_sql.hpp"
#include "jobs/reconcile/report_format.hpp"
#include "text/redact.hpp"

using namespace pgdual::jobs::reconcile;
using pgdual::jobs::backfill::TablePlan;
using pgdual::text::redacted;

namespace {

RowDifference difference_of(Key key, DifferenceKind kind, std::vector<std::string> columns,
                            std::vector<Value> old_values, std::vector<Value> new_values) {
  RowDifference out;
  out.key = std::move(key);
  out.kind = kind;
  out.columns = std::move(columns);
  out.old_values = std::move(old_values);
  out.new_values = std::move(new_values);
  return out;
}

// A strict JSON (RFC 8259) syntax check: enough to say the report parses.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : text_(text) {}
  bool valid() {
    skip_space();
    if (!value()) return false;
    skip_space();
    return at_ == text_.size();
  }

 private:
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool string() {
    if (at_ >= text_.size() || text_[at_] != '"') return false;
    for (++at_; at_ < text_.size(); ++at_) {
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (++at_ >= text_.size()) return false;
      const char escaped = text_[at_];
      if (escaped == 'u') {
        for (int i = 0; i < 4; ++i) {
          if (++at_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[at_]))) {
            return false;
          }
        }
      } else if (std::string_view("\"\\/bfnrt").find(escaped) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }
  bool digits() {
    const std::size_t start = at_;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
    return at_ > start;
  }
  bool number() {
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    if (!digits()) return false;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (!digits()) return false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (!digits()) return false;
    }
    return true;
  }
  bool sequence(char close, bool members) {
    ++at_;
    skip_space();
    if (at_ < text_.size() && text_[at_] == close) {
      ++at_;
      return true;
    }
    while (true) {
      skip_space();
      if (members) {
        if (!string()) return false;
        skip_space();
        if (at_ >= text_.size() || text_[at_++] != ':') return false;
        skip_space();
      }
      if (!value()) return false;
      skip_space();
      if (at_ >= text_.size()) return false;
      const char next = text_[at_++];
      if (next == close) return true;
      if (next != ',') return false;
    }
  }
  bool value() {
    if (at_ >= text_.size()) return false;
    switch (text_[at_]) {
      case '{':
        return sequence('}', true);
      case '[':
        return sequence(']', false);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

bool parses(const std::string& json) { return JsonChecker(json).valid(); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TablePlan items_plan() {
  TablePlan plan;
  plan.source = plan.target = "public.items";
  plan.source_quoted = plan.target_quoted = "\"public\".\"items\"";
  plan.columns_quoted = {"\"id\"", "\"name\"", "\"price\""};
  plan.column_types = {"integer", "text", "numeric(10,2)"};
  plan.key = {{"\"id\"", "integer"}};
  plan.update_columns_quoted = {"\"name\"", "\"price\""};
  return plan;
}

// public.items: one row different (name), one only on the old store (with a NULL); a proof that
// the checksums differ. public.empty: equal, no proof.
ReconcileReport sample_report() {
  ReconcileReport report;
  report.database = "app";
  report.plans.push_back(items_plan());
  report.settings = {{"primary", "old store"}, {"floats", "exact"}};
  report.seconds = 2.5;

  TableReport items;
  items.table = "public.items";
  items.state = "done";
  items.rows_compared = 100;
  items.different = 1;
  items.only_on_old = 1;
  items.ranges = 4;
  items.seconds = 2;
  RowDifference different = difference_of({"7"}, DifferenceKind::different, {"\"name\""},
                                          {"7", "secret-old", "1.00"}, {"7", "secret-new", "1.00"});
  different.repair = upsert_sql(items_plan(), different.old_values);
  RowDifference old_only =
      difference_of({"8"}, DifferenceKind::only_on_old, {}, {"8", std::nullopt, "2.00"}, {});
  old_only.repair = upsert_sql(items_plan(), old_only.old_values);
  items.differences = {different, old_only};
  items.proof = TableProof{{100, "111"}, {99, "222"}, 2, "different"};
  report.tables.push_back(items);

  TableReport empty;
  empty.table = "public.empty";
  empty.state = "done";
  report.tables.push_back(empty);
  return report;
}

TableReport done_table(const std::string& name) {
  TableReport table;
  table.table = name;
  table.state = "done";
  table.rows_compared = 10;
  return table;
}

}  // namespace

TEST_CASE("the JSON checker itself refuses broken JSON", "[reconcile][report]") {
  CHECK(parses("{\"a\": [1, -2.5e3, true, null, \"x\\\"y\"], \"b\": {}}\n"));
  CHECK_FALSE(parses("{\"a\": 1,}"));
  CHECK_FALSE(parses("{\"a\": 1"));
  CHECK_FALSE(parses("{\"a\" 1}"));
  CHECK_FALSE(parses("{\"a\": \"x\ny\"}"));
  CHECK_FALSE(parses("[1 2]"));
}

TEST_CASE("exit codes: 0 equal, 1 differences or unfinished, 2 error, refusal or failed table",
          "[reconcile][report]") {
  ReconcileReport report;
  report.tables = {done_table("public.a"), done_table("public.b")};
  CHECK(report.exit_code() == 0);
  CHECK(report.remaining() == 0);

  report.tables[1].different = 2;
  CHECK(report.remaining() == 2);
  CHECK(report.exit_code() == 1);
  report.tables[1].repaired = 2;  // every difference repaired
  CHECK(report.remaining() == 0);
  CHECK(report.exit_code() == 0);

  // Differences found by the run this one resumed count too.
  report.tables[0].earlier_differences = 1;
  CHECK(report.remaining() == 1);
  CHECK(report.exit_code() == 1);
  report.tables[0].earlier_differences = 0;

  for (const char* unfinished : {"pending", "comparing", "paused", "stopped"}) {
    report.tables[0].state = unfinished;
    CHECK(report.exit_code() == 1);
  }
  report.tables[0].state = "failed";
  CHECK(report.exit_code() == 2);
  report.tables[0].state = "done";
  report.tables[0].only_on_new = 3;  // differences remain, and...
  report.refusals.push_back({"public.odd", "no primary key"});
  CHECK(report.exit_code() == 2);  // ...a refusal outranks them
  report.refusals.clear();
  CHECK(report.exit_code() == 1);
  report.error = "no database";
  CHECK(report.exit_code() == 2);

  ReconcileReport nothing;  // no table at all: nothing differs
  CHECK(nothing.exit_code() == 0);
}

TEST_CASE("the JSON report parses and carries the counts, settings and proof",
          "[reconcile][report]") {
  const ReconcileReport report = sample_report();
  const std::string json = report_json(report);
  INFO(json);
  CHECK(parses(json));
  CHECK(json.back() == '\n');
  CHECK(json.rfind("{\"database\": \"app\", \"verdict\": \"different\", \"exit_code\": 1, "
                   "\"repair\": \"dry-run\", \"values\": \"redacted\", \"seconds\": 2.500, "
                   "\"remaining\": 2, \"settings\": {\"primary\": \"old store\", \"floats\": "
                   "\"exact\"}, \"tables\": [",
                   0) == 0);
  CHECK(contains(json,
                 "{\"table\": \"public.items\", \"state\": \"done\", \"rows_compared\": 100, "
                 "\"rows_matching\": 98, \"different\": 1, \"only_on_old\": 1, \"only_on_new\": 0, "
                 "\"repaired\": 0, \"repair_failed\": 0, \"remaining\": 2, \"cleared_in_flight\": "
                 "0, \"ranges_checked\": 4, \"seconds\": 2.000, \"rows_per_second\": 50.000"));
  CHECK(contains(json,
                 "\"proof\": {\"verdict\": \"different\", \"old_rows\": 100, \"new_rows\": "
                 "99, \"old_checksum\": \"111\", \"new_checksum\": \"222\", \"attempts\": "
                 "2}"));
  CHECK(contains(json, "{\"table\": \"public.empty\", \"state\": \"done\", \"rows_compared\": 0"));
  CHECK(contains(json, "\"differences\": []}"));
  CHECK(contains(json, "\"refused\": [], \"not_mirrored\": []}"));
  CHECK_FALSE(contains(json, "differences_in_resumed_run"));
  CHECK_FALSE(contains(json, "\"error\""));
}

TEST_CASE("the JSON report redacts keys and values and leaves the repair SQL out",
          "[reconcile][report]") {
  const std::string json = report_json(sample_report());
  INFO(json);
  CHECK(contains(json, "{\"kind\": \"different\", \"key\": [\"" + redacted("7") +
                           "\"], \"columns\": [\"\\\"name\\\"\"], \"old\": {\"\\\"id\\\"\": \"" +
                           redacted("7") + "\", \"\\\"name\\\"\": \"" + redacted("secret-old") +
                           "\", \"\\\"price\\\"\": \"" + redacted("1.00") + "\"}, \"new\": {"));
  CHECK(contains(json, "\"\\\"name\\\"\": \"" + redacted("secret-new") + "\""));
  // only on the old store: no new row; a NULL stays null.
  CHECK(contains(json, "{\"kind\": \"only_on_old\", \"key\": [\"" + redacted("8") + "\"]"));
  CHECK(contains(json, "\"\\\"name\\\"\": null"));
  CHECK(contains(json, "\"new\": null, \"repaired\": false}"));
  CHECK(redacted("7").rfind("sha256:", 0) == 0);
  CHECK_FALSE(contains(json, "secret-old"));
  CHECK_FALSE(contains(json, "secret-new"));
  CHECK_FALSE(contains(json, "repair_sql"));
  CHECK_FALSE(contains(json, "INSERT"));
}

TEST_CASE("with full values the JSON report shows them and the repair SQL, escaped",
          "[reconcile][report]") {
  ReconcileReport report = sample_report();
  report.full_values = true;
  report.execute = true;
  auto& difference = report.tables[0].differences[0];
  difference.new_values[1] = "quote\" back\\slash\nnewline";
  difference.repaired = true;
  report.tables[0].repaired = 1;
  const std::string json = report_json(report);
  INFO(json);
  CHECK(parses(json));
  CHECK(contains(json, "\"repair\": \"execute\", \"values\": \"full\""));
  CHECK(contains(json, "\"remaining\": 1, \"settings\""));
  CHECK(contains(json, "\"key\": [\"7\"]"));
  CHECK(contains(json, "\"\\\"name\\\"\": \"secret-old\""));
  CHECK(contains(json, "\"\\\"name\\\"\": \"quote\\\" back\\\\slash\\u000anewline\""));
  CHECK(contains(json,
                 "\"repaired\": true, \"repair_sql\": \"INSERT INTO "
                 "\\\"public\\\".\\\"items\\\" AS target"));
  CHECK_FALSE(contains(json, "sha256:"));
}

TEST_CASE("an error and refusals make the JSON verdict an error", "[reconcile][report]") {
  ReconcileReport report;
  report.database = "app";
  report.error = "the phase does not \"mirror\" writes";
  report.refusals = {{"public.odd", "no primary key"}, {"public.t2", "missing on the new store"}};
  report.not_mirrored = {"public.local"};
  const std::string json = report_json(report);
  INFO(json);
  CHECK(parses(json));
  CHECK(contains(json,
                 "\"verdict\": \"error\", \"exit_code\": 2, \"error\": \"the phase does "
                 "not \\\"mirror\\\" writes\""));
  CHECK(contains(json,
                 "\"tables\": [], \"refused\": [{\"table\": \"public.odd\", \"reason\": "
                 "\"no primary key\"}, {\"table\": \"public.t2\", \"reason\": \"missing on "
                 "the new store\"}], \"not_mirrored\": [\"public.local\"]}"));
}

TEST_CASE("a resumed run's differences appear in the JSON", "[reconcile][report]") {
  ReconcileReport report;
  report.database = "app";
  report.tables = {done_table("public.a")};
  report.tables[0].earlier_differences = 3;
  report.tables[0].error = "new store: connection lost";
  const std::string json = report_json(report);
  INFO(json);
  CHECK(parses(json));
  CHECK(contains(json, "\"differences_in_resumed_run\": 3"));
  CHECK(contains(json, "\"remaining\": 3"));
  CHECK(contains(json, "\"error\": \"new store: connection lost\""));
}

TEST_CASE("the table report lists each table, sample differences and the verdict",
          "[reconcile][report]") {
  ReconcileReport report = sample_report();
  report.refusals = {{"public.odd", "no primary key"}};
  std::string table = report_table(report);
  INFO(table);
  CHECK(table.rfind("table ", 0) == 0);
  CHECK(contains(table, "compared"));
  CHECK(contains(table, "matching"));
  const auto items_line = table.find("\npublic.items ");
  REQUIRE(items_line != std::string::npos);
  const std::string line =
      table.substr(items_line + 1, table.find('\n', items_line + 1) - items_line - 1);
  CHECK(contains(line, " done "));
  CHECK(contains(line, " 100 "));
  CHECK(contains(line, " 98 "));
  CHECK(contains(line, " 2.00 "));
  CHECK(contains(table, "\n  different key (" + redacted("7") + ") columns \"name\"\n"));
  CHECK(contains(table, "\n  only_on_old key (" + redacted("8") + ")\n"));
  CHECK_FALSE(contains(table, "secret"));
  CHECK(contains(table, "\nrefused: public.odd: no primary key\n"));
  CHECK(contains(table, "\nverdict: error (2 differences remaining, 2.5 s)\n"));

  report.refusals.clear();
  report.full_values = true;
  report.tables[0].differences[0].repaired = true;
  table = report_table(report);
  CHECK(contains(table, "\n  different key (7) columns \"name\" (repaired)\n"));
  CHECK(contains(table, "\nverdict: different (2 differences remaining, 2.5 s)\n"));
}

TEST_CASE("the table report shows ten differences per table and counts the rest",
          "[reconcile][report]") {
  ReconcileReport report;
  report.tables = {done_table("public.many")};
  for (int i = 0; i < 13; ++i) {
    report.tables[0].differences.push_back(difference_of(
        {std::to_string(i)}, DifferenceKind::only_on_new, {}, {}, {std::to_string(i)}));
  }
  report.tables[0].only_on_new = 13;
  report.error = "interrupted";
  const std::string table = report_table(report);
  INFO(table);
  std::size_t samples = 0;
  for (auto at = table.find("  only_on_new key "); at != std::string::npos;
       at = table.find("  only_on_new key ", at + 1)) {
    ++samples;
  }
  CHECK(samples == kSamplesPerTable);
  CHECK(contains(table, "\n  ... and 3 more (--format json lists them)\n"));
  CHECK(contains(table, "\nerror: interrupted\n"));
}

TEST_CASE("the repair script has one commented statement per unrepaired difference",
          "[reconcile][report]") {
  ReconcileReport report = sample_report();
  const auto& differences = report.tables[0].differences;
  CHECK(repair_script(report) == "-- public.items different key (" + redacted("7") + ")\n" +
                                     differences[0].repair +
                                     ";\n-- public.items only_on_old key (" + redacted("8") +
                                     ")\n" + differences[1].repair + ";\n");
  report.full_values = true;
  report.tables[0].differences[0].repaired = true;  // already run: left out
  CHECK(repair_script(report) ==
        "-- public.items only_on_old key (8)\n" + differences[1].repair + ";\n");
  report.tables[0].differences[1].repaired = true;
  CHECK(repair_script(report).empty());
  CHECK(repair_script(ReconcileReport{}).empty());
}

TEST_CASE("the proof in JSON: a verdict per table", "[reconcile][report]") {
  ReconcileReport report = sample_report();
  TableReport failed = done_table("public.broken");
  failed.state = "failed";
  report.tables.push_back(failed);
  const std::string json = proof_json(report);
  INFO(json);
  CHECK(parses(json));
  CHECK(json.rfind("{\"database\": \"app\", \"verdict\": \"error\", \"settings\": {\"primary\": "
                   "\"old store\", \"floats\": \"exact\"}, \"tables\": [",
                   0) == 0);
  CHECK(contains(json,
                 "{\"table\": \"public.items\", \"rows_compared\": 100, \"remaining\": 2, "
                 "\"verdict\": \"different\", \"old_rows\": 100, \"new_rows\": 99, "
                 "\"old_checksum\": \"111\", \"new_checksum\": \"222\"}"));
  CHECK(contains(json,
                 "{\"table\": \"public.empty\", \"rows_compared\": 0, \"remaining\": 0, "
                 "\"verdict\": \"not_proven\"}"));
  CHECK(contains(json,
                 "{\"table\": \"public.broken\", \"rows_compared\": 10, \"remaining\": 0, "
                 "\"verdict\": \"error\"}"));
  CHECK_FALSE(contains(json, "secret"));
  CHECK(json.substr(json.size() - 3) == "]}\n");
}

TEST_CASE("the proof in markdown: verdict, a row per table, the settings", "[reconcile][report]") {
  ReconcileReport report;
  report.database = "app";
  report.settings = {{"primary", "old store"}};
  TableReport equal = done_table("public.a");
  equal.proof = TableProof{{10, "98765432109876543210"}, {10, "98765432109876543210"}, 1, "equal"};
  report.tables = {equal, done_table("public.b")};
  report.tables[1].state = "failed";
  const std::string markdown = proof_markdown(report);
  INFO(markdown);
  CHECK(markdown.rfind("# pgdual reconcile proof: database app\n\nVerdict: **error**\n\n", 0) == 0);
  CHECK(contains(markdown,
                 "| table | verdict | rows (old) | rows (new) | checksum (old) | checksum (new) |\n"
                 "|-|-|-|-|-|-|\n"
                 "| public.a | equal | 10 | 10 | 98765432109876543210 | 98765432109876543210 |\n"
                 "| public.b | error | | | | |\n"));
  CHECK(contains(markdown, "\n## Settings\n\n- primary: old store\n"));

  report.tables[1].state = "done";
  const std::string proven = proof_markdown(report);
  CHECK(contains(proven, "Verdict: **equal**"));
  CHECK(contains(proven, "| public.b | not proven | | | | |\n"));
}
