#pragma once
// Metrics of the cutover gate (docs/cutover.md, docs/metrics.md):
//
//   pgdual_client_write_duration_seconds     a write as the client saw it: from its first
//                                            byte to the primary until pgdual could release its
//                                            answer (the secondary's wait under sync included)
//   pgdual_cutover_gate_refusals_total{criterion}  a change into cutover kept out by a failing
//                                            criterion
//   pgdual_cutover_forced_total              cutover entered with a failing gate (cutover.force)
//
// and the gate's own fine latency record: the client-observed and the primary's time of every
// write in log buckets 10 % wide, fine enough for a p99 compared against a 20 % limit (the
// Prometheus buckets above are 2-2.5x apart). Every instance publishes the bucket counts to the
// fleet's samples (cutover/instance_samples.hpp). Thread safety: every member may be called
// from any thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgdual::metrics {

class WriteLatency {
 public:
  // Bucket i counts durations up to kFirstBound * kGrowth^i; the last bucket has no bound.
  static constexpr std::size_t kBuckets = 150;
  static constexpr double kFirstBound = 0.00001;  // 10 us
  static constexpr double kGrowth = 1.1;
  static double upper_bound(std::size_t bucket);
  static std::size_t bucket_of(double seconds);

  void record(double client_seconds, double primary_seconds);
  std::vector<std::uint64_t> client_counts() const { return counts(client_); }
  std::vector<std::uint64_t> primary_counts() const { return counts(primary_); }

 private:
  using Buckets = std::array<std::atomic<std::uint64_t>, kBuckets>;
  static std::vector<std::uint64_t> counts(const Buckets& buckets);
  Buckets client_{}, primary_{};
};

// The q-quantile (0 < q <= 1) of bucket counts as WriteLatency keeps them: the upper bound of
// the bucket that holds it (an overestimate of at most 10 %). nullopt when there are no counts.
std::optional<double> bucket_quantile(const std::vector<std::uint64_t>& counts, double q);

class CutoverMetrics {
 public:
  explicit CutoverMetrics(prometheus::Registry& registry);

  // One finished write: the client's and the primary's time.
  void record_write(double client_seconds, double primary_seconds);
  const WriteLatency& write_latency() const { return latency_; }
  void count_refusal(const std::string& criterion);
  void count_forced() { forced_->Increment(); }

  // The fleet flip (docs/cutover.md, "The fleet flip"), from this instance's side.
  void count_flip(const std::string& outcome);  // as coordinator: done, already, busy, aborted
  void set_flip_pause_seconds(double seconds) { flip_pause_seconds_->Set(seconds); }
  void set_paused(bool paused) { paused_->Set(paused ? 1 : 0); }
  void set_writes_fenced(bool fenced) { writes_fenced_->Set(fenced ? 1 : 0); }
  void count_fenced_write() { fenced_writes_->Increment(); }

 private:
  prometheus::Histogram* client_write_duration_ = nullptr;
  prometheus::Family<prometheus::Counter>& refusals_;
  prometheus::Counter* forced_ = nullptr;
  prometheus::Family<prometheus::Counter>& flips_;
  prometheus::Gauge* flip_pause_seconds_ = nullptr;
  prometheus::Gauge* paused_ = nullptr;
  prometheus::Gauge* writes_fenced_ = nullptr;
  prometheus::Counter* fenced_writes_ = nullptr;
  WriteLatency latency_;
};

}  // namespace pgdual::metrics
