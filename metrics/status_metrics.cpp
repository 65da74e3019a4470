#include "metrics/status_metrics.hpp"

#include <algorithm>

namespace pgdual::metrics {

namespace {

prometheus::Family<prometheus::Gauge>& gauges(prometheus::Registry& registry, const char* name,
                                              const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

// Sets `family` to exactly the series of `wanted` (labels and value): existing ones are updated
// in place and only those no longer wanted are removed, so that a scrape in between never sees
// the family empty (an absent() alert would flap).
void replace_series(prometheus::Family<prometheus::Gauge>& family,
                    std::vector<prometheus::Gauge*>& series,
                    const std::vector<std::pair<prometheus::Labels, double>>& wanted) {
  std::vector<prometheus::Gauge*> now;
  for (const auto& [labels, value] : wanted) {
    auto& gauge = family.Add(labels);  // the same labels give the same series
    gauge.Set(value);
    now.push_back(&gauge);
  }
  for (auto* gauge : series) {
    if (std::find(now.begin(), now.end(), gauge) == now.end()) family.Remove(gauge);
  }
  series = std::move(now);
}

}  // namespace

StatusMetrics::StatusMetrics(prometheus::Registry& registry)
    : criterion_ok_(gauges(registry, "pgdual_cutover_criterion_ok",
                           "1 when the cutover criterion held at the last look of the status "
                           "watch, else 0 (database empty for fleet-wide criteria).")),
      heartbeat_age_(gauges(registry, "pgdual_fleet_instance_heartbeat_age_seconds",
                            "Age of the newest sample of every live pgdual instance of the fleet, "
                            "with the phase it reported.")) {
  ready_ = &gauges(registry, "pgdual_cutover_ready",
                   "1 when every cutover criterion held at the last look of the status watch.")
                .Add({});
  admin_paused_ = &gauges(registry, "pgdual_admin_paused",
                          "1 while an admin console PAUSE holds new transactions on this instance.")
                       .Add({});
}

void StatusMetrics::set_cutover(bool ready, const std::vector<CriterionState>& criteria) {
  std::lock_guard lock(mutex_);
  ready_->Set(ready ? 1 : 0);
  std::vector<std::pair<prometheus::Labels, double>> wanted;
  for (const auto& c : criteria) {
    wanted.push_back({{{"criterion", c.criterion}, {"database", c.database}}, c.ok ? 1.0 : 0.0});
  }
  replace_series(criterion_ok_, criterion_series_, wanted);
}

void StatusMetrics::set_instances(const std::vector<InstanceAge>& instances) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<prometheus::Labels, double>> wanted;
  for (const auto& i : instances) {
    wanted.push_back({{{"instance_id", i.instance}, {"phase", i.phase}}, i.age_seconds});
  }
  replace_series(heartbeat_age_, instance_series_, wanted);
}

}  // namespace pgdual::metrics
