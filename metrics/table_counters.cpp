#include "metrics/table_counters.hpp"

namespace pgdual::metrics {

void TableCounters::count(const std::string& table, const std::string& value) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(table, value);
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= kMaxTables) key.first = "_other";
    it = series_.find(key);
    if (it == series_.end()) {
      auto* counter = &family_.Add({{"table", key.first}, {second_label_, key.second}});
      it = series_.emplace(key, counter).first;
    }
  }
  it->second->Increment();
}

}  // namespace pgdual::metrics
