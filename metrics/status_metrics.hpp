#pragma once
// What the status page's control-plane look measures, as metrics too, so that dashboards and
// alerts see the same values as `pgdual status` (docs/operations.md, docs/metrics.md):
//
//   pgdual_cutover_ready                     1 when every cutover criterion holds at the last
//                                            look, 0 otherwise (also when it could not be read)
//   pgdual_cutover_criterion_ok{criterion,database}   1/0 per criterion at the last look
//                                            (database "" for the fleet-wide ones)
//   pgdual_fleet_instance_heartbeat_age_seconds{instance_id,phase}  age of every live
//                                            instance's newest sample, by the old store's clock
//   pgdual_admin_paused                      1 while an admin console PAUSE holds new
//                                            transactions on this instance
//
// Thread safety: every member may be called from any thread.

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <mutex>
#include <string>
#include <vector>

namespace pgdual::metrics {

class StatusMetrics {
 public:
  struct CriterionState {
    std::string criterion;
    std::string database;
    bool ok = false;
  };
  struct InstanceAge {
    std::string instance;
    std::string phase;
    double age_seconds = 0;
  };

  explicit StatusMetrics(prometheus::Registry& registry);

  // Replaces the criteria and their verdict with the last look's.
  void set_cutover(bool ready, const std::vector<CriterionState>& criteria);
  // Replaces the instances with the last look's.
  void set_instances(const std::vector<InstanceAge>& instances);
  void set_admin_paused(bool paused) { admin_paused_->Set(paused ? 1 : 0); }

 private:
  std::mutex mutex_;  // the series lists below
  prometheus::Gauge* ready_ = nullptr;
  prometheus::Gauge* admin_paused_ = nullptr;
  prometheus::Family<prometheus::Gauge>& criterion_ok_;
  prometheus::Family<prometheus::Gauge>& heartbeat_age_;
  std::vector<prometheus::Gauge*> criterion_series_, instance_series_;
};

}  // namespace pgdual::metrics
