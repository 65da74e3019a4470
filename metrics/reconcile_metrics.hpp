#pragma once
// Metrics of the reconciliation queue (<schema>.reconcile_queue on the new store,
// journal/reconcile_queue.hpp) as every pgdual instance exports them. The backfill watch
// (journal/backfill_watch.hpp) reads the queue in every database it knows every few seconds and
// hands each complete read to publish():
//
//   pgdual_reconciliation_queue_depth      unresolved (database, table) rows over all databases
//   pgdual_reconciliation_unresolved{table} marks no reconciliation covered yet plus the
//                                            differences the last one left (0 once resolved)
//
// A table in several databases makes one series, the sum of its rows. At most kMaxTables table
// labels, unresolved tables first: the rest are summed under table="_other". A table gone from
// the queue loses its series.
//
// The arithmetic is in free functions so it is tested without a registry or a database.
//
// Thread safety: every member may be called from any thread.

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace pgdual::metrics {

// One row of the queue as the watch read it; `unresolved` is journal::reconcile_unresolved of
// its marked, resolved and differences (computed by the watch: metrics/ cannot include journal/).
struct ReconcileQueueRow {
  std::string database;
  std::string table;
  std::int64_t unresolved = 0;
};

// Rows with unresolved > 0.
std::size_t reconcile_queue_depth(const std::vector<ReconcileQueueRow>& rows);
// The value of each table label: every table of `rows` (0 when resolved) up to `max_tables`
// labels, unresolved tables first, then by name; the rest summed under "_other" (present only
// when there is a rest).
std::map<std::string, std::int64_t> reconcile_unresolved_labels(
    const std::vector<ReconcileQueueRow>& rows, std::size_t max_tables);

class ReconcileMetrics {
 public:
  static constexpr std::size_t kMaxTables = 1000;

  explicit ReconcileMetrics(prometheus::Registry& registry);

  // One complete read of every database: sets the depth and each table's gauge, removes the
  // gauges of tables no longer in the read.
  void publish(const std::vector<ReconcileQueueRow>& rows);

 private:
  prometheus::Gauge* depth_ = nullptr;
  prometheus::Family<prometheus::Gauge>& unresolved_;

  std::mutex mutex_;
  std::map<std::string, prometheus::Gauge*, std::less<>> tables_;  // by label
};

}  // namespace pgdual::metrics
