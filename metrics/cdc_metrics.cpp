#include "metrics/cdc_metrics.hpp"

#include "metrics/metrics.hpp"

namespace pgdual::metrics {
namespace {

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry,
                                                    const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

constexpr const char* kWalStatuses[] = {"reserved", "extended", "unreserved", "lost"};
constexpr char kTableStates[] = {'i', 'd', 'f', 's', 'r'};

const char* outcome_label(CdcWaitOutcome outcome) {
  switch (outcome) {
    case CdcWaitOutcome::applied:
      return "applied";
    case CdcWaitOutcome::timeout:
      return "timeout";
    case CdcWaitOutcome::not_ready:
      return "not_ready";
  }
  return "unknown";
}

}  // namespace

CdcMetrics::CdcMetrics(prometheus::Registry& registry)
    : lag_bytes_(gauge_family(registry, "pgdual_cdc_lag_bytes",
                              "Strategy cdc: bytes of the old store's WAL the new store has not "
                              "applied yet (from the subscription's walsender, else its slot).")),
      lag_seconds_(gauge_family(registry, "pgdual_cdc_lag_seconds",
                                "Strategy cdc: the subscription walsender's replay_lag (0 once "
                                "caught up and idle).")),
      retained_(gauge_family(registry, "pgdual_cdc_slot_retained_bytes",
                             "Strategy cdc: WAL the replication slot keeps on the old store "
                             "(current position - restart_lsn). Alert before the disk fills.")),
      safe_wal_(gauge_family(registry, "pgdual_cdc_slot_safe_wal_bytes",
                             "Strategy cdc: WAL that may still be written before the slot is "
                             "invalidated by max_slot_wal_keep_size; -1 when unlimited.")),
      slot_active_(gauge_family(registry, "pgdual_cdc_slot_active",
                                "Strategy cdc: 1 while a walsender streams from the slot.")),
      wal_status_(gauge_family(registry, "pgdual_cdc_slot_wal_status",
                               "Strategy cdc: 1 for the slot's wal_status (reserved, extended, "
                               "unreserved, lost).")),
      enabled_(gauge_family(registry, "pgdual_cdc_subscription_enabled",
                            "Strategy cdc: 1 when the subscription on the new store is enabled.")),
      worker_(gauge_family(registry, "pgdual_cdc_apply_worker_running",
                           "Strategy cdc: 1 when the subscription's apply worker runs.")),
      apply_errors_(gauge_family(registry, "pgdual_cdc_apply_errors",
                                 "Strategy cdc: the subscription's apply_error_count "
                                 "(pg_stat_subscription_stats).")),
      sync_errors_(gauge_family(registry, "pgdual_cdc_sync_errors",
                                "Strategy cdc: the subscription's sync_error_count (initial "
                                "table copies).")),
      tables_(gauge_family(registry, "pgdual_cdc_tables",
                           "Strategy cdc: subscribed tables by state (i initialize, d copying, "
                           "f copied, s synchronized, r ready).")),
      ready_(gauge_family(registry, "pgdual_cdc_ready",
                          "Strategy cdc: 1 when publication, slot and subscription exist and "
                          "every table is ready.")),
      health_errors_(prometheus::BuildCounter()
                         .Name("pgdual_cdc_health_errors_total")
                         .Help("Strategy cdc: health reads or replication setups that failed.")
                         .Register(registry)),
      waits_(prometheus::BuildCounter()
                 .Name("pgdual_cdc_commit_waits_total")
                 .Help("cdc.wait: commit: COMMITs and autocommit writes that waited for the new "
                       "store, by outcome (applied, timeout, not_ready).")
                 .Register(registry)),
      refused_(prometheus::BuildCounter()
                   .Name("pgdual_cdc_refused_writes_total")
                   .Help("Strategy cdc, phase cutover: times a session found the reverse "
                         "replication (new -> old) not ready and refused writes until its next "
                         "check (at transaction boundaries).")
                   .Register(registry)) {
  wait_seconds_ = &prometheus::BuildHistogram()
                       .Name("pgdual_cdc_commit_wait_seconds")
                       .Help("cdc.wait: commit: how long a COMMIT waited for the new store.")
                       .Register(registry)
                       .Add({}, Metrics::latency_buckets());
  for (auto outcome :
       {CdcWaitOutcome::applied, CdcWaitOutcome::timeout, CdcWaitOutcome::not_ready}) {
    waits_.Add({{"outcome", outcome_label(outcome)}});
  }
}

prometheus::Gauge& CdcMetrics::gauge(prometheus::Family<prometheus::Gauge>& family,
                                     const std::map<std::string, std::string>& labels) {
  return family.Add(labels);
}

void CdcMetrics::publish(const std::string& database, const CdcHealthSample& sample) {
  std::lock_guard lock(mutex_);
  const std::map<std::string, std::string> db{{"database", database}};
  auto set_optional = [&](prometheus::Family<prometheus::Gauge>& family,
                          const std::optional<double>& value) {
    if (value) gauge(family, db).Set(*value);
  };
  set_optional(lag_bytes_, sample.lag_bytes);
  set_optional(lag_seconds_, sample.lag_seconds);
  set_optional(retained_, sample.retained_bytes);
  if (sample.slot_exists) gauge(safe_wal_, db).Set(sample.safe_wal_bytes.value_or(-1));
  gauge(slot_active_, db).Set(sample.slot_active ? 1 : 0);
  for (const char* status : kWalStatuses) {
    gauge(wal_status_, {{"database", database}, {"status", status}})
        .Set(sample.wal_status == status ? 1 : 0);
  }
  gauge(enabled_, db).Set(sample.enabled ? 1 : 0);
  gauge(worker_, db).Set(sample.worker_running ? 1 : 0);
  gauge(apply_errors_, db).Set(sample.apply_errors);
  gauge(sync_errors_, db).Set(sample.sync_errors);
  for (char state : kTableStates) {
    const auto it = sample.tables_by_state.find(state);
    gauge(tables_, {{"database", database}, {"state", std::string(1, state)}})
        .Set(it == sample.tables_by_state.end() ? 0 : it->second);
  }
  gauge(ready_, db).Set(sample.ready ? 1 : 0);
}

void CdcMetrics::count_health_error(const std::string& database) {
  std::lock_guard lock(mutex_);
  health_errors_.Add({{"database", database}}).Increment();
}

void CdcMetrics::set_ready(const std::string& database, bool ready) {
  std::lock_guard lock(mutex_);
  gauge(ready_, {{"database", database}}).Set(ready ? 1 : 0);
}

void CdcMetrics::observe_commit_wait(CdcWaitOutcome outcome, double seconds) {
  waits_.Add({{"outcome", outcome_label(outcome)}}).Increment();
  wait_seconds_->Observe(seconds);
}

void CdcMetrics::count_refused_write(const std::string& database) {
  refused_.Add({{"database", database}}).Increment();
}

}  // namespace pgdual::metrics
