#include "metrics/journal_metrics.hpp"

#include <utility>

namespace pgdual::metrics {

namespace {

prometheus::Gauge* gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help, double initial = 0) {
  auto& series = prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  series.Set(initial);
  return &series;
}

prometheus::Counter* counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

JournalMetrics::JournalMetrics(prometheus::Registry& registry)
    : relay_info_(prometheus::BuildGauge()
                      .Name("pgdual_journal_relay_info")
                      .Help("1, labelled with this pgdual instance's name in the journal.")
                      .Register(registry)),
      reconciliation_(prometheus::BuildCounter()
                          .Name("pgdual_reconciliation_needed_total")
                          .Help("Tables of transactions the secondary may lack: dead-lettered, or "
                                "not journaled at all. Reconcile these tables.")
                          .Register(registry)),
      gate_active_(prometheus::BuildGauge()
                       .Name("pgdual_journal_gate_active")
                       .Help("1 while this instance journals the write transactions of a database "
                             "instead of sending them to the secondary (its earlier entries are "
                             "not applied yet), by database.")
                       .Register(registry)) {
  depth_records_ = gauge(registry, "pgdual_journal_depth_records",
                         "Journal entries not yet applied to the secondary (all instances).");
  depth_bytes_ = gauge(registry, "pgdual_journal_depth_bytes",
                       "Bytes of the journal entries not yet applied to the secondary.");
  oldest_age_ = gauge(registry, "pgdual_journal_oldest_age_seconds",
                      "Age of the oldest journal entry not yet applied (0 when empty).");
  outbox_lag_seconds_ = gauge(registry, "pgdual_outbox_lag_seconds",
                              "How far the secondary trails the primary through the outbox.");
  outbox_lag_transactions_ = gauge(registry, "pgdual_outbox_lag_transactions",
                                   "Transactions in the outbox not yet applied to the secondary.");
  auto& appends = prometheus::BuildCounter()
                      .Name("pgdual_journal_appends_total")
                      .Help("Records stored in the journal, by result.")
                      .Register(registry);
  appends_ok_ = &appends.Add({{"result", "ok"}});
  appends_error_ = &appends.Add({{"result", "error"}});
  auto& replays = prometheus::BuildCounter()
                      .Name("pgdual_journal_replays_total")
                      .Help("Journal entries replayed on the secondary, by result.")
                      .Register(registry);
  replays_applied_ = &replays.Add({{"result", "applied"}});
  replays_already_applied_ = &replays.Add({{"result", "already_applied"}});
  replays_failed_ = &replays.Add({{"result", "failed"}});
  retries_ = counter(registry, "pgdual_journal_retries_total",
                     "Failed replays that will be retried after a backoff.");
  dead_letters_ = counter(registry, "pgdual_journal_dead_letters_total",
                          "Journal entries given up on and moved to the dead letter.");
  relay_active_ = gauge(registry, "pgdual_journal_relay_active",
                        "1 while this instance is the journal relay of at least one database.");
  // 1 until a relay has tried the secondary: nothing known to be wrong.
  secondary_healthy_ = gauge(registry, "pgdual_secondary_healthy",
                             "1 when the journal relay's last replay or probe of the secondary "
                             "succeeded.",
                             1);
}

void JournalMetrics::set_depth(double records, double bytes, double oldest_age_seconds) {
  depth_records_->Set(records);
  depth_bytes_->Set(bytes);
  oldest_age_->Set(oldest_age_seconds);
  outbox_lag_seconds_->Set(oldest_age_seconds);
  outbox_lag_transactions_->Set(records);
}

void JournalMetrics::set_instance(const std::string& instance) {
  std::lock_guard lock(mutex_);
  if (relay_info_series_) relay_info_.Remove(relay_info_series_);
  relay_info_series_ = &relay_info_.Add({{"instance", instance}});
  relay_info_series_->Set(1);
}

void JournalMetrics::set_gate_active(const std::string& key, bool active) {
  std::lock_guard lock(mutex_);
  auto it = gates_.find(key);
  if (it == gates_.end()) {
    if (!active) return;  // a series appears when its gate first opens
    const std::string label = key.empty() ? "_all" : key;
    it = gates_.emplace(key, &gate_active_.Add({{"database", label}})).first;
  }
  it->second->Set(active ? 1 : 0);
}

void JournalMetrics::forget_gate(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = gates_.find(key);
  if (it == gates_.end()) return;
  gate_active_.Remove(it->second);
  gates_.erase(it);
}

void JournalMetrics::clear_gates() {
  std::lock_guard lock(mutex_);
  for (auto& [key, series] : gates_) series->Set(0);
}

void JournalMetrics::count_reconciliation(const std::string& database,
                                          const std::vector<std::string>& tables) {
  std::lock_guard lock(mutex_);
  for (const auto& table : tables) {
    auto it = by_table_.find(table);
    if (it == by_table_.end()) {
      const std::string label = by_table_.size() >= kMaxTables ? "_other" : table;
      it = by_table_.find(label);
      if (it == by_table_.end()) {
        it = by_table_.emplace(label, &reconciliation_.Add({{"table", label}})).first;
      }
    }
    it->second->Increment();
    add_mark(database, table.empty() ? std::string(kUnknownTableMark) : table, 1);
  }
  if (tables.empty()) add_mark(database, std::string(kUnknownTableMark), 1);
}

void JournalMetrics::add_mark(const std::string& database, const std::string& table,
                              std::int64_t count) {
  if (database.empty() || count <= 0) return;  // nowhere to put it
  auto key = std::make_pair(database, table);
  auto it = marks_.find(key);
  if (it == marks_.end() && marks_.size() >= kMaxPendingMarks) {
    key.second = std::string(kUnknownTableMark);
    it = marks_.find(key);
  }
  if (it == marks_.end()) it = marks_.emplace(std::move(key), 0).first;
  it->second += count;
}

JournalMetrics::ReconciliationMarks JournalMetrics::take_reconciliation_marks() {
  std::lock_guard lock(mutex_);
  return std::exchange(marks_, {});
}

void JournalMetrics::return_reconciliation_marks(const ReconciliationMarks& marks) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, count] : marks) add_mark(key.first, key.second, count);
}

std::size_t JournalMetrics::pending_reconciliation_marks() const {
  std::lock_guard lock(mutex_);
  return marks_.size();
}

}  // namespace pgdual::metrics
