#pragma once
// Counters of one family labelled {table, <second label>}, with a bounded number of series:
// beyond kMaxTables distinct pairs the rest count under table="_other", so a flood of
// distinct tables on a degraded path cannot grow the scrape without bound.
//
// Thread safety: count() may be called from any thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace pgdual::metrics {

class TableCounters {
 public:
  static constexpr std::size_t kMaxTables = 1000;

  TableCounters(prometheus::Family<prometheus::Counter>& family, std::string second_label)
      : family_(family), second_label_(std::move(second_label)) {}

  void count(const std::string& table, const std::string& value);

 private:
  prometheus::Family<prometheus::Counter>& family_;
  const std::string second_label_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> series_;
};

}  // namespace pgdual::metrics
