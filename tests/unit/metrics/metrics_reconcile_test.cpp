// Tests of metrics::ReconcileMetrics (metrics/reconcile_metrics.hpp): the queue's depth, one
// gauge per table (summed over databases, 0 once resolved), gauges of tables that left the
// queue removed, and the bound on table labels (unresolved tables first, the rest in _other).

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/reconcile_metrics.hpp"

using namespace pgdual;
using metrics::ReconcileQueueRow;

namespace {

std::optional<double> depth(prometheus::Registry& registry) {
  for (const auto& family : registry.Collect()) {
    if (family.name == "pgdual_reconciliation_queue_depth") return family.metric.at(0).gauge.value;
  }
  return std::nullopt;
}

// {table: value} of pgdual_reconciliation_unresolved.
std::map<std::string, double> unresolved(prometheus::Registry& registry) {
  std::map<std::string, double> out;
  for (const auto& family : registry.Collect()) {
    if (family.name != "pgdual_reconciliation_unresolved") continue;
    for (const auto& metric : family.metric) out[metric.label.at(0).value] = metric.gauge.value;
  }
  return out;
}

}  // namespace

TEST_CASE("the depth counts unresolved rows of every database") {
  const std::vector<ReconcileQueueRow> rows{
      {"app", "public.orders", 3}, {"shop", "public.orders", 1}, {"app", "public.items", 0}};
  CHECK(metrics::reconcile_queue_depth(rows) == 2);
  CHECK(metrics::reconcile_queue_depth({}) == 0);
}

TEST_CASE("publish sets the depth and a gauge per table, 0 once resolved, gone once removed") {
  prometheus::Registry registry;
  metrics::ReconcileMetrics reconcile(registry);
  CHECK(depth(registry) == 0);
  CHECK(unresolved(registry).empty());

  reconcile.publish(
      {{"app", "public.orders", 3}, {"shop", "public.orders", 2}, {"app", "public.items", 1}});
  CHECK(depth(registry) == 3);
  CHECK(unresolved(registry) ==
        std::map<std::string, double>{{"public.items", 1}, {"public.orders", 5}});

  reconcile.publish(
      {{"app", "public.orders", 0}, {"shop", "public.orders", 0}, {"app", "public.items", 1}});
  CHECK(depth(registry) == 1);
  CHECK(unresolved(registry) ==
        std::map<std::string, double>{{"public.items", 1}, {"public.orders", 0}});

  reconcile.publish({{"app", "public.orders", 0}});  // public.items left the queue
  CHECK(depth(registry) == 0);
  CHECK(unresolved(registry) == std::map<std::string, double>{{"public.orders", 0}});

  reconcile.publish({});
  CHECK(unresolved(registry).empty());
}

TEST_CASE("unresolved tables take the labels first, the rest are summed under _other") {
  std::vector<ReconcileQueueRow> rows{{"app", "a", 0}, {"app", "b", 0}, {"app", "c", 4},
                                      {"app", "d", 0}, {"app", "e", 2}, {"app", "f", 1}};
  CHECK(metrics::reconcile_unresolved_labels(rows, 2) ==
        std::map<std::string, std::int64_t>{{"c", 4}, {"e", 2}, {"_other", 1}});
  CHECK(metrics::reconcile_unresolved_labels(rows, 4) ==
        std::map<std::string, std::int64_t>{{"a", 0}, {"c", 4}, {"e", 2}, {"f", 1}, {"_other", 0}});
  CHECK(metrics::reconcile_unresolved_labels(rows, 6).size() == 6);  // no _other without a rest

  prometheus::Registry registry;
  metrics::ReconcileMetrics reconcile(registry);
  std::vector<ReconcileQueueRow> many;
  for (std::size_t i = 0; i < metrics::ReconcileMetrics::kMaxTables + 5; ++i) {
    many.push_back({"app", "public.t" + std::to_string(i), 1});
  }
  reconcile.publish(many);
  const auto shown = unresolved(registry);
  CHECK(shown.size() == metrics::ReconcileMetrics::kMaxTables + 1);
  CHECK(shown.at("_other") == 5);
  CHECK(depth(registry) == metrics::ReconcileMetrics::kMaxTables + 5);  // not capped
}
