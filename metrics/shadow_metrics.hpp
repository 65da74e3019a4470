#pragma once
// Metrics of the shadow-read comparator (docs/metrics.md, "Shadow reads"):
// outcomes per table, the sliding-window match rate per table (the spec's
// first cutover criterion), differing fields per table and column, and the
// latency of the same read on each store. Per-table series are created on
// first use; after kMaxTables distinct tables, new ones count under "_other".

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pgdual::metrics {

enum class ShadowOutcome : std::uint8_t { match, mismatch, error, skipped };
inline constexpr std::size_t kShadowOutcomeCount = 4;
std::string_view to_string(ShadowOutcome outcome);

class ShadowMetrics {
 public:
  explicit ShadowMetrics(prometheus::Registry& registry);

  // Counts one shadowed (or skipped) read of `table`; match and mismatch
  // also move the table's match-rate window of `window` reads.
  void record(const std::string& table, ShadowOutcome outcome, std::size_t window);
  void count_field_mismatches(const std::string& table, const std::string& column, double count);
  prometheus::Histogram& primary_duration() const { return *primary_duration_; }
  prometheus::Histogram& secondary_duration() const { return *secondary_duration_; }
  prometheus::Gauge& in_flight() const { return *in_flight_; }
  // Every table's compared (match + mismatch) and matched reads since start: what this
  // instance contributes to the fleet's cutover gate (cutover/instance_samples.hpp).
  std::uint64_t compared_total() const { return compared_total_.load(); }
  std::uint64_t matched_total() const { return matched_total_.load(); }

  static constexpr std::size_t kMaxTables = 1000;

 private:
  struct TableSeries {
    std::array<prometheus::Counter*, kShadowOutcomeCount> outcomes{};
    prometheus::Gauge* match_rate = nullptr;
    std::deque<bool> window;  // latest comparisons, true = match
    std::size_t matches = 0;
  };
  TableSeries& series_for(const std::string& table);

  prometheus::Family<prometheus::Counter>& reads_;
  prometheus::Family<prometheus::Gauge>& match_rate_;
  prometheus::Family<prometheus::Counter>& fields_;
  prometheus::Histogram* primary_duration_ = nullptr;
  prometheus::Histogram* secondary_duration_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;

  std::atomic<std::uint64_t> compared_total_{0}, matched_total_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, TableSeries> tables_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> field_series_;
};

}  // namespace pgdual::metrics
