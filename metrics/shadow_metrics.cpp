#include "metrics/shadow_metrics.hpp"

#include "metrics/metrics.hpp"

namespace pgdual::metrics {

std::string_view to_string(ShadowOutcome outcome) {
  switch (outcome) {
    case ShadowOutcome::match:
      return "match";
    case ShadowOutcome::mismatch:
      return "mismatch";
    case ShadowOutcome::error:
      return "error";
    case ShadowOutcome::skipped:
      return "skipped";
  }
  return "error";
}

ShadowMetrics::ShadowMetrics(prometheus::Registry& registry)
    : reads_(prometheus::BuildCounter()
                 .Name("pgdual_shadow_reads_total")
                 .Help("Reads of the shadow_read phase, per table, by comparison result (skipped: "
                       "over the concurrency budget, secondary unavailable or timed out).")
                 .Register(registry)),
      match_rate_(prometheus::BuildGauge()
                      .Name("pgdual_shadow_match_rate")
                      .Help("Share of matching results among the latest compared shadow reads of "
                            "each table (migration.shadow_read.match_window reads).")
                      .Register(registry)),
      fields_(prometheus::BuildCounter()
                  .Name("pgdual_shadow_field_mismatches_total")
                  .Help("Differing fields found by shadow reads, per table and column.")
                  .Register(registry)) {
  auto& duration = prometheus::BuildHistogram()
                       .Name("pgdual_shadow_read_duration_seconds")
                       .Help("Latency of the same shadowed read on each store.")
                       .Register(registry);
  primary_duration_ = &duration.Add({{"store", "primary"}}, Metrics::latency_buckets());
  secondary_duration_ = &duration.Add({{"store", "secondary"}}, Metrics::latency_buckets());
  in_flight_ = &prometheus::BuildGauge()
                    .Name("pgdual_shadow_reads_in_flight")
                    .Help("Shadow reads sent to the secondary and not yet answered.")
                    .Register(registry)
                    .Add({});
}

ShadowMetrics::TableSeries& ShadowMetrics::series_for(const std::string& table) {
  auto it = tables_.find(table);
  if (it != tables_.end()) return it->second;
  const std::string label = tables_.size() < kMaxTables ? table : std::string("_other");
  it = tables_.find(label);
  if (it != tables_.end()) return it->second;
  TableSeries& series = tables_[label];
  for (std::size_t i = 0; i < kShadowOutcomeCount; ++i) {
    series.outcomes[i] = &reads_.Add(
        {{"table", label}, {"result", std::string(to_string(static_cast<ShadowOutcome>(i)))}});
  }
  series.match_rate = &match_rate_.Add({{"table", label}});
  return series;
}

void ShadowMetrics::record(const std::string& table, ShadowOutcome outcome, std::size_t window) {
  std::lock_guard lock(mutex_);
  TableSeries& series = series_for(table);
  series.outcomes[static_cast<std::size_t>(outcome)]->Increment();
  if (outcome != ShadowOutcome::match && outcome != ShadowOutcome::mismatch) return;
  const bool matched = outcome == ShadowOutcome::match;
  compared_total_.fetch_add(1);
  if (matched) matched_total_.fetch_add(1);
  series.window.push_back(matched);
  series.matches += matched ? 1 : 0;
  while (series.window.size() > window) {
    series.matches -= series.window.front() ? 1 : 0;
    series.window.pop_front();
  }
  series.match_rate->Set(static_cast<double>(series.matches) /
                         static_cast<double>(series.window.size()));
}

void ShadowMetrics::count_field_mismatches(const std::string& table, const std::string& column,
                                           double count) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(table, column);
  auto it = field_series_.find(key);
  if (it == field_series_.end()) {
    if (field_series_.size() >= kMaxTables) key = {"_other", "_other"};
    it = field_series_.find(key);
    if (it == field_series_.end()) {
      it = field_series_.emplace(key, &fields_.Add({{"table", key.first}, {"column", key.second}}))
               .first;
    }
  }
  it->second->Increment(count);
}

}  // namespace pgdual::metrics
