#include "metrics/status_metrics.hpp"

namespace pgdual::metrics {

namespace {

prometheus::Family<prometheus::Gauge>& gauges(prometheus::Registry& registry, const char* name,
                                              const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

// Removes every series in `series` from `family` (labels change between looks: a criterion of
// a database no longer in scope, an instance that stopped).
void clear(prometheus::Family<prometheus::Gauge>& family, std::vector<prometheus::Gauge*>& series) {
  for (auto* gauge : series) family.Remove(gauge);
  series.clear();
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
  clear(criterion_ok_, criterion_series_);
  for (const auto& c : criteria) {
    auto& gauge = criterion_ok_.Add({{"criterion", c.criterion}, {"database", c.database}});
    gauge.Set(c.ok ? 1 : 0);
    criterion_series_.push_back(&gauge);
  }
}

void StatusMetrics::set_instances(const std::vector<InstanceAge>& instances) {
  std::lock_guard lock(mutex_);
  clear(heartbeat_age_, instance_series_);
  for (const auto& i : instances) {
    auto& gauge = heartbeat_age_.Add({{"instance_id", i.instance}, {"phase", i.phase}});
    gauge.Set(i.age_seconds);
    instance_series_.push_back(&gauge);
  }
}

}  // namespace pgdual::metrics
