#pragma once
// Where a write that did not reach the secondary goes, so nothing is lost
// silently (invariant 11): an ordered, bounded, process-wide in-memory queue
// with full context. Replaying it (durably, with backoff) is the replay
// journal's job; until then operators see its depth in
// pgdual_retry_queue_depth and each entry in the log, and the tables it
// names are the ones to reconcile.

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics.hpp"

namespace pgdual::journal {

struct FailedTransaction {
  std::chrono::system_clock::time_point when;
  std::int32_t session = 0;
  std::string reason;     // "secondary rejected", "secondary unreachable", "timeout", ...
  std::string sqlstate;   // the secondary's, when it answered
  std::string statement;  // first statement text (values are not logged unless asked)
  std::vector<std::string> tables;
};

class RetryQueue {
 public:
  RetryQueue(metrics::Metrics& metrics, std::size_t capacity)
      : metrics_(metrics), capacity_(capacity) {}

  void push(FailedTransaction failed);
  std::size_t depth() const;
  // Tables named by entries so far: what needs reconciliation.
  std::vector<std::string> tables_needing_reconciliation() const;

 private:
  metrics::Metrics& metrics_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<FailedTransaction> entries_;
  std::vector<std::string> tables_;
  std::uint64_t evicted_ = 0;
};

}  // namespace pgdual::journal
