#pragma once
// pgdual's Prometheus metrics. One Metrics object is built at startup and shared
// by every worker; it creates every series the data path touches up front and
// hands out references to them, so counting on the hot path is one atomic
// update with no label lookup and no lock (histograms take prometheus-cpp's
// short internal lock). Only the degraded paths with open-ended labels
// (count_write_divergence) and the rare set_phase_info look series up.
//
// Thread safety: every accessor and every metric update may be called from any
// thread. serialize() may run concurrently with updates.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "metrics/backfill_metrics.hpp"
#include "metrics/cdc_metrics.hpp"
#include "metrics/cutover_metrics.hpp"
#include "metrics/journal_metrics.hpp"
#include "metrics/labels.hpp"
#include "metrics/metric_view.hpp"
#include "metrics/reconcile_metrics.hpp"
#include "metrics/rewrite_metrics.hpp"
#include "metrics/shadow_metrics.hpp"
#include "metrics/status_metrics.hpp"

namespace pgdual::metrics {

// One series of pgdual_phase_info{scope,name,phase}. scope is "default", "table"
// or "tenant"; name is the table ("public.orders") or the tenant rule's name
// (any string; "" for the default scope is fine); phase is the active phase.
struct PhaseInfo {
  std::string scope;
  std::string name;
  std::string phase;
};

// The series of one backend role ({backend="old"} or {backend="new"}). The
// pointers are never null once Metrics is constructed and live as long as it.
struct BackendMetrics {
  prometheus::Gauge* connections = nullptr;         // pgdual_backend_connections
  prometheus::Counter* connect_errors = nullptr;    // pgdual_backend_connect_errors_total
  prometheus::Histogram* query_duration = nullptr;  // pgdual_backend_query_duration_seconds
  prometheus::Counter* bytes_sent = nullptr;        // pgdual_backend_bytes_sent_total
  prometheus::Counter* bytes_received = nullptr;    // pgdual_backend_bytes_received_total
  prometheus::Counter* writes_ok = nullptr;         // pgdual_writes_total{result="ok"}
  prometheus::Counter* writes_error = nullptr;      // pgdual_writes_total{result="error"}
  prometheus::Histogram* write_duration = nullptr;  // pgdual_write_duration_seconds
  prometheus::Gauge* up = nullptr;                  // pgdual_backend_up (set by BackendProbe)
  std::array<prometheus::Counter*, kQueryKindCount> queries_by_kind{};

  // pgdual_backend_queries_total{kind}. An out-of-range kind counts as unknown.
  prometheus::Counter& queries(QueryKind kind) const;
};

class Metrics {
 public:
  // Bucket upper bounds (seconds) of the latency histograms: sub-millisecond
  // resolution for pass-through latency, up to 10 s for slow statements.
  static const std::vector<double>& latency_buckets();
  // Distinct tables pgdual_write_divergence_total keeps before counting the
  // rest under table="_other", so a flood of divergences cannot grow the
  // registry without bound.
  static constexpr std::size_t kMaxDivergenceTables = 1000;

  // version is exported as pgdual_build_info{version}.
  explicit Metrics(const std::string& version = "unknown");
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // ---- client side
  prometheus::Gauge& client_connections() const { return *client_connections_; }
  prometheus::Counter& client_connections_total() const { return *client_connections_total_; }
  prometheus::Counter& client_connections_rejected(RejectReason reason) const;
  prometheus::Counter& client_bytes_received() const { return *client_bytes_received_; }
  prometheus::Counter& client_bytes_sent() const { return *client_bytes_sent_; }
  prometheus::Counter& protocol_errors(ProtocolErrorReason reason) const;
  prometheus::Counter& cancel_requests(CancelResult result) const;
  prometheus::Gauge& sessions_draining() const { return *sessions_draining_; }

  // ---- backends (old / new)
  const BackendMetrics& backend(BackendRole role) const;

  // ---- TLS, config
  prometheus::Counter& tls_handshakes_ok(TlsSide side) const;
  prometheus::Counter& tls_handshakes_failed(TlsSide side) const;
  prometheus::Counter& config_reloads_ok() const { return *config_reloads_ok_; }
  prometheus::Counter& config_reloads_failed() const { return *config_reloads_failed_; }
  prometheus::Gauge& config_last_reload_success_timestamp() const {
    return *config_last_reload_success_;
  }
  // Counts a reload and, when ok, stamps pgdual_config_last_reload_success_timestamp_seconds.
  void record_config_reload(bool ok) const;

  // ---- classification and routing
  prometheus::Counter& parse_failures() const { return *parse_failures_; }
  prometheus::Counter& routing_decisions(RoutingDecision decision) const;
  // pgdual_catalog_refreshes_total{result}: the primary's catalog facts fetched.
  prometheus::Counter& catalog_refreshes(bool ok) const {
    return ok ? *catalog_refreshes_ok_ : *catalog_refreshes_failed_;
  }

  // ---- dual-write
  // Per-store write counters and histograms are in backend(role).
  prometheus::Counter& secondary_failures(SecondaryFailure type) const;
  prometheus::Gauge& async_queue_depth() const { return *async_queue_depth_; }
  prometheus::Counter& async_queue_overflow() const { return *async_queue_overflow_; }
  // pgdual_commit_order_waits_total: a unit held back from the secondary until another
  // session's commit it could have observed on the primary reached the secondary too.
  prometheus::Counter& commit_order_waits() const { return *commit_order_waits_; }
  prometheus::Gauge& secondary_lag_seconds() const { return *secondary_lag_seconds_; }
  prometheus::Gauge& secondary_lag_statements() const { return *secondary_lag_statements_; }
  prometheus::Gauge& retry_queue_depth() const { return *retry_queue_depth_; }
  // pgdual_write_divergence_total{table}: a degraded path, so a label lookup
  // (under a mutex) is acceptable here.
  void count_write_divergence(const std::string& table);
  // pgdual_drift_risk_total{table,reason}: a mirrored write that pgdual could not make
  // exact and let through (docs/dual-write.md, "Exact, detected or refused"): the table
  // needs reconciliation.
  void count_drift_risk(const std::string& table, const std::string& reason) {
    drift_risk_->count(table, reason);
  }
  // Replaces every pgdual_phase_info series with one per entry, value 1.
  // Duplicate entries collapse into one series.
  void set_phase_info(std::vector<PhaseInfo> phases);

  ShadowMetrics& shadow() const { return *shadow_; }
  RewriteMetrics& rewrite() const { return *rewrite_; }
  // The replay journal and outbox relay (docs/journal.md).
  JournalMetrics& journal() const { return *journal_; }
  // The backfill job's progress, as the proxy's backfill watch reads it from the new store.
  BackfillMetrics& backfill() const { return *backfill_; }
  // The reconciliation queue, as the same watch reads it from the new store.
  ReconcileMetrics& reconcile() const { return *reconcile_; }
  // Strategy cdc: replication health and COMMIT waits (docs/cdc.md).
  CdcMetrics& cdc() const { return *cdc_; }
  // The cutover gate's write latencies and refusals (docs/cutover.md).
  CutoverMetrics& cutover() const { return *cutover_; }
  // The status watch's cutover verdict and fleet instances, and the admin pause.
  StatusMetrics& status() const { return *status_; }
  // The registry's values now, for the status page and the admin console.
  MetricView view() const;

  // Prometheus text exposition format (version 0.0.4) of the whole registry.
  std::string serialize() const;
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  // The constructor registers every family, one group at a time.
  void register_client_metrics(prometheus::Registry& registry);
  void register_backend_metrics(prometheus::Registry& registry);
  void register_tls_and_config_metrics(prometheus::Registry& registry);
  void register_routing_metrics(prometheus::Registry& registry);
  void register_dual_write_metrics(prometheus::Registry& registry);
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Gauge* client_connections_ = nullptr;
  prometheus::Counter* client_connections_total_ = nullptr;
  std::array<prometheus::Counter*, kRejectReasonCount> rejected_{};
  prometheus::Counter* client_bytes_received_ = nullptr;
  prometheus::Counter* client_bytes_sent_ = nullptr;
  std::array<prometheus::Counter*, kProtocolErrorReasonCount> protocol_errors_{};
  std::array<prometheus::Counter*, kCancelResultCount> cancel_requests_{};
  prometheus::Gauge* sessions_draining_ = nullptr;

  std::array<BackendMetrics, kBackendRoleCount> backends_{};

  std::array<prometheus::Counter*, kTlsSideCount> tls_ok_{};
  std::array<prometheus::Counter*, kTlsSideCount> tls_failed_{};
  prometheus::Counter* config_reloads_ok_ = nullptr;
  prometheus::Counter* config_reloads_failed_ = nullptr;
  prometheus::Gauge* config_last_reload_success_ = nullptr;

  prometheus::Counter* parse_failures_ = nullptr;
  std::array<prometheus::Counter*, kRoutingDecisionCount> routing_decisions_{};
  prometheus::Counter* catalog_refreshes_ok_ = nullptr;
  prometheus::Counter* catalog_refreshes_failed_ = nullptr;

  std::array<prometheus::Counter*, kSecondaryFailureCount> secondary_failures_{};
  prometheus::Gauge* async_queue_depth_ = nullptr;
  prometheus::Counter* async_queue_overflow_ = nullptr;
  prometheus::Counter* commit_order_waits_ = nullptr;
  prometheus::Gauge* secondary_lag_seconds_ = nullptr;
  prometheus::Gauge* secondary_lag_statements_ = nullptr;
  prometheus::Gauge* retry_queue_depth_ = nullptr;

  prometheus::Family<prometheus::Counter>* divergence_family_ = nullptr;
  std::mutex divergence_mutex_;
  std::unordered_map<std::string, prometheus::Counter*> divergence_by_table_;

  std::unique_ptr<ShadowMetrics> shadow_;
  std::unique_ptr<RewriteMetrics> rewrite_;
  std::unique_ptr<TableCounters> drift_risk_;
  std::unique_ptr<JournalMetrics> journal_;
  std::unique_ptr<BackfillMetrics> backfill_;
  std::unique_ptr<ReconcileMetrics> reconcile_;
  std::unique_ptr<CdcMetrics> cdc_;
  std::unique_ptr<CutoverMetrics> cutover_;
  std::unique_ptr<StatusMetrics> status_;

  prometheus::Family<prometheus::Gauge>* phase_info_family_ = nullptr;
  std::mutex phase_info_mutex_;
  std::vector<prometheus::Gauge*> phase_info_series_;
};

}  // namespace pgdual::metrics
