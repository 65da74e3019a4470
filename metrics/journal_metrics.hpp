#pragma once
// Metrics of the replay journal and the outbox relay (docs/journal.md): how
// much is waiting and for how long, what the appender and the relay did, who
// relays, whether sessions currently journal (the gate), whether the secondary
// answers, and which tables need a reconciliation because a transaction could
// not be journaled or was given up on.
//
// Thread safety: every member may be called from any thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdual::metrics {

class JournalMetrics {
 public:
  explicit JournalMetrics(prometheus::Registry& registry);

  // ---- depth, as the monitor last saw it (all instances' pending entries)
  // Also sets pgdual_outbox_lag_seconds / _transactions, which carry the same
  // values under the outbox strategy's names.
  void set_depth(double records, double bytes, double oldest_age_seconds);

  void count_append(bool ok) const { (ok ? appends_ok_ : appends_error_)->Increment(); }
  prometheus::Counter& replays_applied() const { return *replays_applied_; }
  prometheus::Counter& replays_already_applied() const { return *replays_already_applied_; }
  prometheus::Counter& replays_failed() const { return *replays_failed_; }
  prometheus::Counter& retries() const { return *retries_; }
  prometheus::Counter& dead_letters() const { return *dead_letters_; }

  // pgdual_journal_relay_active: 1 while this instance holds the relay lock of
  // at least one database.
  void set_relay_active(bool active) const { relay_active_->Set(active ? 1 : 0); }
  // pgdual_journal_relay_info{instance}: one series, value 1, for this instance.
  void set_instance(const std::string& instance);
  // pgdual_journal_gate_active{database}: the gate of one database (journal/gate.hpp);
  // the file store has one gate for all, labelled database="_all".
  void set_gate_active(const std::string& key, bool active);
  void forget_gate(const std::string& key);
  void clear_gates();
  void set_secondary_healthy(bool healthy) const { secondary_healthy_->Set(healthy ? 1 : 0); }

  // pgdual_reconciliation_needed_total{table}: one count per table of a
  // transaction that was dead-lettered or could not be journaled at all.
  // Beyond kMaxTables distinct tables the rest count under table="_other".
  // Each (database, table) is also kept as a mark until the backfill watch
  // takes it to <schema>.reconcile_queue on the new store (journal/reconcile_queue.hpp).
  // No table named: the mark goes to kUnknownTableMark (the whole database), the
  // counter is left alone as before. An empty database marks nothing.
  void count_reconciliation(const std::string& database, const std::vector<std::string>& tables);

  // Marks not yet in the queue, by (database, table): how many times each was marked.
  using ReconciliationMarks = std::map<std::pair<std::string, std::string>, std::int64_t>;
  // Drains the pending marks.
  ReconciliationMarks take_reconciliation_marks();
  // Puts back marks whose flush failed (added to those marked since), under the same bound.
  void return_reconciliation_marks(const ReconciliationMarks& marks);
  std::size_t pending_reconciliation_marks() const;

  static constexpr std::size_t kMaxTables = 1000;
  // Distinct (database, table) marks kept while the new store cannot take them: beyond it a
  // database's further tables are kept as its kUnknownTableMark (reconcile the whole database),
  // which may exceed the bound by one per database. Losing a mark would be worse.
  static constexpr std::size_t kMaxPendingMarks = 10000;
  // journal::kUnknownTable (metrics may not include journal/): a table pgdual could not name.
  static constexpr std::string_view kUnknownTableMark = "(unknown)";

 private:
  prometheus::Gauge* depth_records_ = nullptr;
  prometheus::Gauge* depth_bytes_ = nullptr;
  prometheus::Gauge* oldest_age_ = nullptr;
  prometheus::Gauge* outbox_lag_seconds_ = nullptr;
  prometheus::Gauge* outbox_lag_transactions_ = nullptr;
  prometheus::Counter* appends_ok_ = nullptr;
  prometheus::Counter* appends_error_ = nullptr;
  prometheus::Counter* replays_applied_ = nullptr;
  prometheus::Counter* replays_already_applied_ = nullptr;
  prometheus::Counter* replays_failed_ = nullptr;
  prometheus::Counter* retries_ = nullptr;
  prometheus::Counter* dead_letters_ = nullptr;
  prometheus::Gauge* relay_active_ = nullptr;
  prometheus::Gauge* secondary_healthy_ = nullptr;

  prometheus::Family<prometheus::Gauge>& relay_info_;
  prometheus::Family<prometheus::Counter>& reconciliation_;
  prometheus::Family<prometheus::Gauge>& gate_active_;
  void add_mark(const std::string& database, const std::string& table, std::int64_t count);

  mutable std::mutex mutex_;
  prometheus::Gauge* relay_info_series_ = nullptr;
  std::map<std::string, prometheus::Counter*, std::less<>> by_table_;
  std::map<std::string, prometheus::Gauge*, std::less<>> gates_;
  ReconciliationMarks marks_;
};

}  // namespace pgdual::metrics
