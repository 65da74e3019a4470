#include "jobs/reconcile/key_stepper.hpp"

#include <algorithm>
#include <cmath>

namespace pgdual::jobs::reconcile {

std::optional<std::int64_t> KeyStepper::next_end(std::int64_t after, std::int64_t rows) const {
  if (after >= last_) return std::nullopt;
  const double step = std::max(1.0, std::floor(static_cast<double>(rows) / rows_per_key_));
  const double remaining = static_cast<double>(last_) - static_cast<double>(after);
  if (step >= remaining) return std::nullopt;
  return after + static_cast<std::int64_t>(step);
}

void KeyStepper::record(std::int64_t span, std::int64_t rows) {
  if (span <= 0) return;
  // A gap in the keys (no rows) widens the next step fourfold rather than to the whole rest of
  // the table at once; otherwise the density just measured.
  const double measured = static_cast<double>(rows) / static_cast<double>(span);
  rows_per_key_ = rows == 0 ? rows_per_key_ / 4 : measured;
  rows_per_key_ = std::clamp(rows_per_key_, 1e-12, 1e12);
}

}  // namespace pgdual::jobs::reconcile
