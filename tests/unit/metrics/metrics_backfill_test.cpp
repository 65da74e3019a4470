// Tests of metrics::BackfillMetrics and its arithmetic (metrics/backfill_metrics.hpp): the
// progress ratio, the counters' deltas (a value that went down resets the baseline), the state
// gauges switching, rows of one table in several databases, gauges of a table that left the
// table, and the bound on table labels.

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/backfill_metrics.hpp"

using namespace pgdual;
using metrics::BackfillRow;
using metrics::BackfillState;

namespace {

BackfillRow row(std::string table, std::string state, std::int64_t copied, std::int64_t skipped,
                std::optional<std::int64_t> estimated, std::string database = "app") {
  BackfillRow out;
  out.database = std::move(database);
  out.table = std::move(table);
  out.state = std::move(state);
  out.rows_copied = copied;
  out.rows_skipped = skipped;
  out.estimated_rows = estimated;
  return out;
}

// The value of one series of the registry, nullopt when it does not exist.
std::optional<double> sample(prometheus::Registry& registry, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> found;
      for (const auto& label : metric.label) found[label.name] = label.value;
      if (found != labels) continue;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return std::nullopt;
}

std::size_t series_count(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name == name) return family.metric.size();
  }
  return 0;
}

std::optional<double> ratio(prometheus::Registry& registry, const std::string& table) {
  return sample(registry, "pgdual_backfill_progress_ratio", {{"table", table}});
}

std::optional<double> rows(prometheus::Registry& registry, const std::string& table,
                           const std::string& result) {
  return sample(registry, "pgdual_backfill_rows_total", {{"table", table}, {"result", result}});
}

std::optional<double> state(prometheus::Registry& registry, const std::string& table,
                            const std::string& value) {
  return sample(registry, "pgdual_backfill_state", {{"table", table}, {"state", value}});
}

}  // namespace

TEST_CASE("backfill states parse and print") {
  CHECK(metrics::parse_backfill_state("copying") == BackfillState::copying);
  CHECK(metrics::parse_backfill_state("failed") == BackfillState::failed);
  CHECK_FALSE(metrics::parse_backfill_state("Copying").has_value());
  CHECK_FALSE(metrics::parse_backfill_state("").has_value());
  for (std::size_t i = 0; i < metrics::kBackfillStateCount; ++i) {
    const auto value = static_cast<BackfillState>(i);
    CHECK(metrics::parse_backfill_state(metrics::to_string(value)) == value);
  }
}

TEST_CASE("progress ratio: (copied + skipped) / estimate, clamped, and done is 1") {
  CHECK(metrics::backfill_ratio(row("public.a", "copying", 250, 50, 1000)) == Approx(0.3));
  CHECK(metrics::backfill_ratio(row("public.a", "copying", 0, 0, 1000)) == 0);
  // reltuples is an estimate: more rows than estimated stop at 1.
  CHECK(metrics::backfill_ratio(row("public.a", "copying", 1500, 10, 1000)) == 1);
  // done is 1 whatever the estimate said.
  CHECK(metrics::backfill_ratio(row("public.a", "done", 10, 0, 1000)) == 1);
  CHECK(metrics::backfill_ratio(row("public.a", "done", 0, 0, std::nullopt)) == 1);
  // An unknown estimate (NULL, 0, or -1 for a table never analysed) gives 0 until done.
  CHECK(metrics::backfill_ratio(row("public.a", "copying", 250, 0, std::nullopt)) == 0);
  CHECK(metrics::backfill_ratio(row("public.a", "paused", 250, 0, 0)) == 0);
  CHECK(metrics::backfill_ratio(row("public.a", "copying", 250, 0, -1)) == 0);
  // Nonsense below zero stays at 0.
  CHECK(metrics::backfill_ratio(row("public.a", "copying", -5, 0, 100)) == 0);
}

TEST_CASE("deltas: growth counts, a first read counts in full, a drop counts nothing") {
  CHECK(metrics::backfill_delta(std::nullopt, 250) == 250);
  CHECK(metrics::backfill_delta(std::nullopt, 0) == 0);
  CHECK(metrics::backfill_delta(250, 400) == 150);
  CHECK(metrics::backfill_delta(400, 400) == 0);
  CHECK(metrics::backfill_delta(400, 10) == 0);
  CHECK(metrics::backfill_delta(std::nullopt, -3) == 0);
}

TEST_CASE("one table in several databases: mean ratio, summed rate, the most pressing state") {
  auto a = row("public.t", "done", 100, 0, 100, "db1");
  auto b = row("public.t", "copying", 20, 0, 100, "db2");
  a.rows_per_second = 0;
  b.rows_per_second = 40;
  auto views = metrics::aggregate_backfill({a, b, row("public.u", "pending", 0, 0, 5, "db1")});
  REQUIRE(views.size() == 2);
  CHECK(views["public.t"].ratio == Approx(0.6));
  CHECK(views["public.t"].rows_per_second == Approx(40));
  CHECK(views["public.t"].state == BackfillState::copying);
  CHECK(views["public.u"].state == BackfillState::pending);
  // Rows left: the copying database's 80 (the done one counts none), and the pending table's 5.
  CHECK(views["public.t"].rows_remaining == 80);
  CHECK(views["public.u"].rows_remaining == 5);
  auto no_estimate = row("public.t", "copying", 10, 0, 100, "db4");
  no_estimate.estimated_rows.reset();
  CHECK(metrics::aggregate_backfill({a, b, no_estimate})["public.t"].rows_remaining == -1);
  auto ahead = row("public.t", "copying", 150, 10, 100, "db5");  // the estimate was low
  CHECK(metrics::aggregate_backfill({ahead})["public.t"].rows_remaining == 0);

  auto failed = row("public.t", "failed", 0, 0, 100, "db3");
  CHECK(metrics::aggregate_backfill({a, b, failed})["public.t"].state == BackfillState::failed);
  auto paused = row("public.t", "paused", 0, 0, 100, "db3");
  CHECK(metrics::aggregate_backfill({a, b, paused})["public.t"].state == BackfillState::paused);
  auto unknown = row("public.t", "verifying", 0, 0, 100, "db3");
  CHECK(metrics::aggregate_backfill({a, unknown})["public.t"].state == BackfillState::done);
  CHECK_FALSE(metrics::aggregate_backfill({unknown})["public.t"].state.has_value());
}

TEST_CASE("publish: gauges, counters by delta, and the state switching") {
  prometheus::Registry registry;
  metrics::BackfillMetrics backfill(registry);
  CHECK(series_count(registry, "pgdual_backfill_progress_ratio") == 0);

  auto orders = row("public.orders", "copying", 250, 50, 1000);
  orders.rows_per_second = 120.5;
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  CHECK(ratio(registry, "public.orders") == Approx(0.3));
  CHECK(ratio(registry, "public.users") == 1);
  CHECK(rows(registry, "public.orders", "copied") == 250);
  CHECK(rows(registry, "public.orders", "skipped") == 50);
  CHECK(rows(registry, "public.users", "copied") == 80);
  CHECK(sample(registry, "pgdual_backfill_rows_per_second", {{"table", "public.orders"}}) ==
        Approx(120.5));
  CHECK(state(registry, "public.orders", "copying") == 1);
  for (const auto* other : {"pending", "paused", "done", "failed"}) {
    CHECK(state(registry, "public.orders", other) == 0);
  }
  CHECK(state(registry, "public.users", "done") == 1);
  CHECK(state(registry, "public.users", "copying") == 0);

  // The same read again moves nothing.
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  CHECK(rows(registry, "public.orders", "copied") == 250);

  // Progress: the counter moves by the delta, the state switches.
  orders.rows_copied = 400;
  orders.state = "paused";
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  CHECK(rows(registry, "public.orders", "copied") == 400);
  CHECK(ratio(registry, "public.orders") == Approx(0.45));
  CHECK(state(registry, "public.orders", "paused") == 1);
  CHECK(state(registry, "public.orders", "copying") == 0);

  // A restarted backfill: the value went down; the counter stays, the baseline follows.
  orders.rows_copied = 10;
  orders.state = "copying";
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  CHECK(rows(registry, "public.orders", "copied") == 400);
  orders.rows_copied = 30;
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  CHECK(rows(registry, "public.orders", "copied") == 420);

  // A state this version does not know: every state series of the table shows 0.
  orders.state = "verifying";
  backfill.publish({orders, row("public.users", "done", 80, 0, 75)});
  for (const auto* any : {"pending", "copying", "paused", "done", "failed"}) {
    CHECK(state(registry, "public.orders", any) == 0);
  }
}

TEST_CASE("publish: a table gone from the read loses its gauges, keeps its counters") {
  prometheus::Registry registry;
  metrics::BackfillMetrics backfill(registry);
  backfill.publish({row("public.a", "copying", 10, 0, 100), row("public.b", "done", 5, 0, 5)});
  backfill.publish({row("public.b", "done", 5, 0, 5)});
  CHECK_FALSE(ratio(registry, "public.a").has_value());
  CHECK_FALSE(state(registry, "public.a", "copying").has_value());
  CHECK(series_count(registry, "pgdual_backfill_state") == 5);
  CHECK(rows(registry, "public.a", "copied") == 10);
  // Back again (its row re-created by a new run): its values count from nothing.
  backfill.publish({row("public.a", "copying", 4, 0, 100), row("public.b", "done", 5, 0, 5)});
  CHECK(ratio(registry, "public.a") == Approx(0.04));
  CHECK(rows(registry, "public.a", "copied") == 14);
}

TEST_CASE("publish: each database has its own baseline for the same table") {
  prometheus::Registry registry;
  metrics::BackfillMetrics backfill(registry);
  backfill.publish({row("public.t", "copying", 100, 0, 1000, "db1"),
                    row("public.t", "copying", 30, 0, 1000, "db2")});
  CHECK(rows(registry, "public.t", "copied") == 130);
  backfill.publish({row("public.t", "copying", 150, 0, 1000, "db1"),
                    row("public.t", "copying", 30, 0, 1000, "db2")});
  CHECK(rows(registry, "public.t", "copied") == 180);
  CHECK(ratio(registry, "public.t") == Approx((0.15 + 0.03) / 2));
}

TEST_CASE("publish: tables beyond kMaxTables count under _other, without gauges") {
  prometheus::Registry registry;
  metrics::BackfillMetrics backfill(registry);
  std::vector<BackfillRow> read;
  for (std::size_t i = 0; i < metrics::BackfillMetrics::kMaxTables + 5; ++i) {
    read.push_back(row("s.t" + std::to_string(100000 + i), "copying", 1, 2, 10));
  }
  backfill.publish(read);
  CHECK(series_count(registry, "pgdual_backfill_progress_ratio") ==
        metrics::BackfillMetrics::kMaxTables);
  CHECK(rows(registry, "_other", "copied") == 5);
  CHECK(rows(registry, "_other", "skipped") == 10);
  CHECK_FALSE(ratio(registry, "_other").has_value());
  // The next read counts the deltas of the tables beyond the bound under _other too.
  for (auto& each : read) each.rows_copied = 3;
  backfill.publish(read);
  CHECK(rows(registry, "_other", "copied") == 15);
  CHECK(rows(registry, "s.t100000", "copied") == 3);
}
