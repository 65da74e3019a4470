#include "journal/retry_queue.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgdual::journal {

void RetryQueue::push(FailedTransaction failed) {
  std::lock_guard lock(mutex_);
  for (const auto& table : failed.tables) {
    if (std::find(tables_.begin(), tables_.end(), table) == tables_.end()) tables_.push_back(table);
  }
  if (entries_.size() >= capacity_) {
    // Bounded memory: the oldest entry leaves the queue, but its tables stay
    // on the reconciliation list and the eviction is logged.
    ++evicted_;
    spdlog::error(
        "retry queue full ({} entries): oldest failed write evicted; its tables remain "
        "marked for reconciliation ({} evicted so far)",
        capacity_, evicted_);
    entries_.pop_front();
  }
  entries_.push_back(std::move(failed));
  metrics_.retry_queue_depth().Set(static_cast<double>(entries_.size()));
}

std::size_t RetryQueue::depth() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::vector<std::string> RetryQueue::tables_needing_reconciliation() const {
  std::lock_guard lock(mutex_);
  return tables_;
}

}  // namespace pgdual::journal
