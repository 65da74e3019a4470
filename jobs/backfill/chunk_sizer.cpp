#include "jobs/backfill/chunk_sizer.hpp"

#include <algorithm>

namespace pgdual::jobs::backfill {

namespace {
// Weight of the newest measurement in the average.
constexpr double kDecay = 0.3;
// A chunk grows at most this much per step, so one fast (cached) chunk cannot make the next
// one hold its locks for far longer than the target.
constexpr double kMaxGrowth = 2.0;
}  // namespace

ChunkSizer::ChunkSizer(std::chrono::milliseconds target, Limits limits)
    : target_(target), limits_(limits), next_(std::clamp(limits.first, limits.min, limits.max)) {}

void ChunkSizer::record(std::int64_t rows, std::chrono::microseconds elapsed) {
  if (rows < next_ || rows <= 0) return;
  const double seconds = std::max(1e-6, static_cast<double>(elapsed.count()) / 1e6);
  const double measured = static_cast<double>(rows) / seconds;
  rate_ = rate_ == 0 ? measured : kDecay * measured + (1 - kDecay) * rate_;
  const double wanted = rate_ * static_cast<double>(target_.count()) / 1000.0;
  const double capped = std::min(wanted, static_cast<double>(next_) * kMaxGrowth);
  next_ = std::clamp(static_cast<std::int64_t>(capped), limits_.min, limits_.max);
}

void ChunkSizer::back_off() { next_ = std::max(limits_.min, next_ / 2); }

}  // namespace pgdual::jobs::backfill
