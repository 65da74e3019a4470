#pragma once
// Metrics of strategy cdc (docs/cdc.md, docs/metrics.md), per database, as the cdc layer's
// watcher reads them from both servers every cdc.health_interval_ms, plus the COMMIT waits of
// cdc.wait: commit:
//
//   pgdual_cdc_lag_bytes{database}            WAL the new store has not applied yet
//   pgdual_cdc_lag_seconds{database}          the walsender's replay_lag (0 once caught up)
//   pgdual_cdc_slot_retained_bytes{database}  WAL the slot keeps on the old store's disk
//   pgdual_cdc_slot_safe_wal_bytes{database}  WAL that may still be written before the slot is
//                                             lost (max_slot_wal_keep_size); -1 when unlimited
//   pgdual_cdc_slot_active{database}          1 while a walsender streams from the slot
//   pgdual_cdc_slot_wal_status{database,status} 1 for the slot's wal_status
//   pgdual_cdc_subscription_enabled{database} 0 when disabled (by hand or by an error)
//   pgdual_cdc_apply_worker_running{database} 0 when no apply worker runs
//   pgdual_cdc_apply_errors{database}         the subscription's apply_error_count
//   pgdual_cdc_sync_errors{database}          its sync_error_count (initial table copies)
//   pgdual_cdc_tables{database,state}         tables by pg_subscription_rel state (i d f s r)
//   pgdual_cdc_ready{database}                1 when every object exists and every table is r
//   pgdual_cdc_health_errors_total{database}  health reads or setups that failed
//   pgdual_cdc_commit_waits_total{outcome}    applied | timeout | not_ready
//   pgdual_cdc_refused_writes_total{database} cutover without reverse replication: a session
//                                             refuses writes until its next check
//   pgdual_cdc_commit_wait_seconds            how long a COMMIT waited for the new store
//
// A value that could not be read leaves its gauge unset rather than at a guessed 0.
// Thread safety: every member may be called from any thread.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace pgdual::metrics {

// One health read of one database (plain data: metrics/ cannot include cdc/).
struct CdcHealthSample {
  std::optional<double> lag_bytes, lag_seconds, retained_bytes;
  std::optional<double> safe_wal_bytes;  // nullopt while the slot exists: unlimited (-1)
  bool slot_exists = false, slot_active = false;
  std::string wal_status;
  bool subscription_exists = false, enabled = false, worker_running = false;
  double apply_errors = 0, sync_errors = 0;
  std::map<char, double> tables_by_state;
  bool ready = false;
};

enum class CdcWaitOutcome { applied, timeout, not_ready };

class CdcMetrics {
 public:
  explicit CdcMetrics(prometheus::Registry& registry);

  void publish(const std::string& database, const CdcHealthSample& sample);
  void count_health_error(const std::string& database);
  void set_ready(const std::string& database, bool ready);
  void observe_commit_wait(CdcWaitOutcome outcome, double seconds);
  // A write refused in cutover because the reverse replication is not ready.
  void count_refused_write(const std::string& database);

 private:
  prometheus::Gauge& gauge(prometheus::Family<prometheus::Gauge>& family,
                           const std::map<std::string, std::string>& labels);

  std::mutex mutex_;
  prometheus::Family<prometheus::Gauge>& lag_bytes_;
  prometheus::Family<prometheus::Gauge>& lag_seconds_;
  prometheus::Family<prometheus::Gauge>& retained_;
  prometheus::Family<prometheus::Gauge>& safe_wal_;
  prometheus::Family<prometheus::Gauge>& slot_active_;
  prometheus::Family<prometheus::Gauge>& wal_status_;
  prometheus::Family<prometheus::Gauge>& enabled_;
  prometheus::Family<prometheus::Gauge>& worker_;
  prometheus::Family<prometheus::Gauge>& apply_errors_;
  prometheus::Family<prometheus::Gauge>& sync_errors_;
  prometheus::Family<prometheus::Gauge>& tables_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Counter>& health_errors_;
  prometheus::Family<prometheus::Counter>& waits_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Histogram* wait_seconds_ = nullptr;
};

}  // namespace pgdual::metrics
