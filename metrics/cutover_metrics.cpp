#include "metrics/cutover_metrics.hpp"

#include <cmath>

#include "metrics/metrics.hpp"

namespace pgdual::metrics {

double WriteLatency::upper_bound(std::size_t bucket) {
  return kFirstBound * std::pow(kGrowth, static_cast<double>(bucket));
}

std::size_t WriteLatency::bucket_of(double seconds) {
  if (!(seconds > kFirstBound)) return 0;  // NaN and negatives too
  const double index = std::ceil(std::log(seconds / kFirstBound) / std::log(kGrowth) - 1e-9);
  return index >= static_cast<double>(kBuckets - 1) ? kBuckets - 1
                                                    : static_cast<std::size_t>(index);
}

void WriteLatency::record(double client_seconds, double primary_seconds) {
  client_[bucket_of(client_seconds)].fetch_add(1, std::memory_order_relaxed);
  primary_[bucket_of(primary_seconds)].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> WriteLatency::counts(const Buckets& buckets) {
  std::vector<std::uint64_t> out(kBuckets);
  for (std::size_t i = 0; i < kBuckets; ++i) out[i] = buckets[i].load(std::memory_order_relaxed);
  return out;
}

std::optional<double> bucket_quantile(const std::vector<std::uint64_t>& counts, double q) {
  std::uint64_t total = 0;
  for (const auto count : counts) total += count;
  if (total == 0) return std::nullopt;
  // The rank of the quantile, 1-based: the smallest count that covers q of the total.
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return WriteLatency::upper_bound(i);
  }
  return WriteLatency::upper_bound(counts.size() - 1);
}

CutoverMetrics::CutoverMetrics(prometheus::Registry& registry)
    : refusals_(prometheus::BuildCounter()
                    .Name("pgdual_cutover_gate_refusals_total")
                    .Help("A configuration change into the cutover phase kept out because a "
                          "gate criterion failed (by criterion).")
                    .Register(registry)),
      flips_(prometheus::BuildCounter()
                 .Name("pgdual_fleet_flips_total")
                 .Help("Fleet flips this instance coordinated, by outcome (done, already: the "
                       "fleet had flipped, busy: another flip ran, aborted).")
                 .Register(registry)) {
  client_write_duration_ = &prometheus::BuildHistogram()
                                .Name("pgdual_client_write_duration_seconds")
                                .Help(
                                    "A write as the client saw it: from its first byte to the "
                                    "primary until pgdual could release the answer (the "
                                    "secondary's wait included where there is one).")
                                .Register(registry)
                                .Add({}, Metrics::latency_buckets());
  forced_ = &prometheus::BuildCounter()
                 .Name("pgdual_cutover_forced_total")
                 .Help("The cutover phase entered although the gate failed (cutover.force).")
                 .Register(registry)
                 .Add({});
  flip_pause_seconds_ = &prometheus::BuildGauge()
                             .Name("pgdual_fleet_flip_pause_seconds")
                             .Help(
                                 "How long the last flip this instance coordinated held the "
                                 "fleet's new transactions.")
                             .Register(registry)
                             .Add({});
  paused_ = &prometheus::BuildGauge()
                 .Name("pgdual_fleet_paused")
                 .Help("1 while a fleet flip holds this instance's new transactions.")
                 .Register(registry)
                 .Add({});
  writes_fenced_ = &prometheus::BuildGauge()
                        .Name("pgdual_fleet_writes_fenced")
                        .Help(
                            "1 while this instance refuses writes because it cannot read the "
                            "fleet's control state.")
                        .Register(registry)
                        .Add({});
  fenced_writes_ = &prometheus::BuildCounter()
                        .Name("pgdual_fleet_refused_writes_total")
                        .Help(
                            "Client batches whose writes were refused because the fleet's "
                            "control state was unreadable or the session could not follow "
                            "the fleet's primary.")
                        .Register(registry)
                        .Add({});
}

void CutoverMetrics::record_write(double client_seconds, double primary_seconds) {
  client_write_duration_->Observe(client_seconds);
  latency_.record(client_seconds, primary_seconds);
}

void CutoverMetrics::count_flip(const std::string& outcome) {
  flips_.Add({{"outcome", outcome}}).Increment();
}

void CutoverMetrics::count_refusal(const std::string& criterion) {
  refusals_.Add({{"criterion", criterion}}).Increment();
}

}  // namespace pgdual::metrics
