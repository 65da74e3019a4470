#include "metrics/reconcile_metrics.hpp"

#include <algorithm>
#include <utility>

namespace pgdual::metrics {

std::size_t reconcile_queue_depth(const std::vector<ReconcileQueueRow>& rows) {
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [](const auto& row) { return row.unresolved > 0; }));
}

std::map<std::string, std::int64_t> reconcile_unresolved_labels(
    const std::vector<ReconcileQueueRow>& rows, std::size_t max_tables) {
  std::map<std::string, std::int64_t> by_table;
  for (const auto& row : rows) by_table[row.table] += std::max<std::int64_t>(row.unresolved, 0);
  // Unresolved tables take the labels first: a long resolved history must not hide them.
  std::vector<std::pair<std::string, std::int64_t>> order(by_table.begin(), by_table.end());
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return (a.second > 0) > (b.second > 0); });
  std::map<std::string, std::int64_t> labels;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i < max_tables) {
      labels.insert(order[i]);
    } else {
      labels["_other"] += order[i].second;
    }
  }
  return labels;
}

ReconcileMetrics::ReconcileMetrics(prometheus::Registry& registry)
    : unresolved_(prometheus::BuildGauge()
                      .Name("pgdual_reconciliation_unresolved")
                      .Help("Marks of a table in the reconciliation queue that no reconciliation "
                            "has covered yet, plus the differences the last one left unrepaired "
                            "(0 once reconciled), summed over databases.")
                      .Register(registry)) {
  depth_ = &prometheus::BuildGauge()
                .Name("pgdual_reconciliation_queue_depth")
                .Help(
                    "Tables (per database) in the reconciliation queue on the new store that "
                    "still need a reconciliation.")
                .Register(registry)
                .Add({});
}

void ReconcileMetrics::publish(const std::vector<ReconcileQueueRow>& rows) {
  std::lock_guard lock(mutex_);
  depth_->Set(static_cast<double>(reconcile_queue_depth(rows)));
  const auto labels = reconcile_unresolved_labels(rows, kMaxTables);
  std::erase_if(tables_, [&](const auto& entry) {
    if (labels.contains(entry.first)) return false;
    unresolved_.Remove(entry.second);
    return true;
  });
  for (const auto& [label, value] : labels) {
    auto it = tables_.find(label);
    if (it == tables_.end())
      it = tables_.emplace(label, &unresolved_.Add({{"table", label}})).first;
    it->second->Set(static_cast<double>(value));
  }
}

}  // namespace pgdual::metrics
