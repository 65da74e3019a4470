#include "metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

namespace pgdual::metrics {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

Family<Counter>& counter_family(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

Family<Gauge>& gauge_family(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

Family<Histogram>& histogram_family(prometheus::Registry& registry, const std::string& name,
                                    const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

// Creates one series per value of Enum under label `label` and stores pointers by index.
template <typename Enum, std::size_t N>
void add_per_value(Family<Counter>& family, const std::string& label, std::array<Counter*, N>& out,
                   const Labels& extra = {}) {
  for (std::size_t i = 0; i < N; ++i) {
    Labels labels = extra;
    labels.emplace(label, std::string(to_string(static_cast<Enum>(i))));
    out[i] = &family.Add(labels);
  }
}

// Enum values come from our own code, but an out-of-range cast must not read
// past the array: clamp to the last entry.
template <typename Enum, typename T, std::size_t N>
T& pick(const std::array<T*, N>& series, Enum value) {
  const auto index = std::min(static_cast<std::size_t>(value), N - 1);
  return *series[index];
}

}  // namespace

prometheus::Counter& BackendMetrics::queries(QueryKind kind) const {
  return pick(queries_by_kind, kind);
}

const std::vector<double>& Metrics::latency_buckets() {
  static const std::vector<double> buckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                           0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                           0.5,     1.0,    2.5,     5.0,    10.0};
  return buckets;
}

// ---- client side
void Metrics::register_client_metrics(prometheus::Registry& registry) {
  client_connections_ =
      &gauge_family(registry, "pgdual_client_connections", "Client connections currently open.")
           .Add({});
  client_connections_total_ = &counter_family(registry, "pgdual_client_connections_total",
                                              "Client connections accepted since start.")
                                   .Add({});
  add_per_value<RejectReason>(counter_family(registry, "pgdual_client_connections_rejected_total",
                                             "Client connections refused, by reason."),
                              "reason", rejected_);
  client_bytes_received_ = &counter_family(registry, "pgdual_client_bytes_received_total",
                                           "Bytes received from clients.")
                                .Add({});
  client_bytes_sent_ =
      &counter_family(registry, "pgdual_client_bytes_sent_total", "Bytes sent to clients.").Add({});
  add_per_value<ProtocolErrorReason>(
      counter_family(registry, "pgdual_protocol_errors_total",
                     "Client sessions ended for malformed protocol input, by reason."),
      "reason", protocol_errors_);
  add_per_value<CancelResult>(
      counter_family(registry, "pgdual_cancel_requests_total",
                     "CancelRequests received, by whether their key matched a session."),
      "result", cancel_requests_);
  sessions_draining_ =
      &gauge_family(registry, "pgdual_sessions_draining",
                    "Client sessions still open during a graceful shutdown, waiting for their "
                    "transaction to end.")
           .Add({});
}

// ---- backends
void Metrics::register_backend_metrics(prometheus::Registry& registry) {
  auto& backend_connections = gauge_family(registry, "pgdual_backend_connections",
                                           "Server connections currently open, per backend.");
  auto& connect_errors = counter_family(registry, "pgdual_backend_connect_errors_total",
                                        "Failed attempts to open a server connection, per backend "
                                        "(network, TLS or authentication).");
  auto& queries = counter_family(
      registry, "pgdual_backend_queries_total",
      "Units of client work (a simple Query, or an extended batch up to Sync) sent to each "
      "backend, by the strongest statement kind in them.");
  auto& query_duration = histogram_family(
      registry, "pgdual_backend_query_duration_seconds",
      "Time from sending a statement to a backend to its completion, per backend.");
  auto& bytes_sent =
      counter_family(registry, "pgdual_backend_bytes_sent_total", "Bytes sent to each backend.");
  auto& bytes_received = counter_family(registry, "pgdual_backend_bytes_received_total",
                                        "Bytes received from each backend.");
  auto& writes = counter_family(registry, "pgdual_writes_total",
                                "Write statements completed on each store, by result.");
  auto& write_duration = histogram_family(registry, "pgdual_write_duration_seconds",
                                          "Latency of write statements on each store.");
  auto& backend_up =
      gauge_family(registry, "pgdual_backend_up",
                   "1 if the last TCP probe of the backend succeeded within its timeout, else 0.");
  for (std::size_t i = 0; i < kBackendRoleCount; ++i) {
    const Labels backend_label{{"backend", std::string(to_string(static_cast<BackendRole>(i)))}};
    auto& b = backends_[i];
    b.connections = &backend_connections.Add(backend_label);
    b.connect_errors = &connect_errors.Add(backend_label);
    add_per_value<QueryKind>(queries, "kind", b.queries_by_kind, backend_label);
    b.query_duration = &query_duration.Add(backend_label, latency_buckets());
    b.bytes_sent = &bytes_sent.Add(backend_label);
    b.bytes_received = &bytes_received.Add(backend_label);
    Labels ok = backend_label;
    ok.emplace("result", "ok");
    Labels error = backend_label;
    error.emplace("result", "error");
    b.writes_ok = &writes.Add(ok);
    b.writes_error = &writes.Add(error);
    b.write_duration = &write_duration.Add(backend_label, latency_buckets());
    b.up = &backend_up.Add(backend_label);
  }
}

// ---- TLS, config
void Metrics::register_tls_and_config_metrics(prometheus::Registry& registry) {
  auto& tls = counter_family(registry, "pgdual_tls_handshakes_total",
                             "TLS handshakes with clients and with backends, by result.");
  for (std::size_t i = 0; i < kTlsSideCount; ++i) {
    const std::string side(to_string(static_cast<TlsSide>(i)));
    tls_ok_[i] = &tls.Add({{"side", side}, {"result", "ok"}});
    tls_failed_[i] = &tls.Add({{"side", side}, {"result", "failed"}});
  }
  auto& reloads = counter_family(registry, "pgdual_config_reloads_total",
                                 "Configuration reloads, by result (a failed one leaves the "
                                 "previous configuration in force).");
  config_reloads_ok_ = &reloads.Add({{"result", "ok"}});
  config_reloads_failed_ = &reloads.Add({{"result", "failed"}});
  config_last_reload_success_ =
      &gauge_family(registry, "pgdual_config_last_reload_success_timestamp_seconds",
                    "Unix time of the last successful configuration load or reload.")
           .Add({});
}

// ---- classification and routing
void Metrics::register_routing_metrics(prometheus::Registry& registry) {
  parse_failures_ = &counter_family(registry, "pgdual_parse_failures_total",
                                    "Statements the SQL parser rejected (sent to the primary "
                                    "alone, which reports the error).")
                         .Add({});
  add_per_value<RoutingDecision>(counter_family(registry, "pgdual_routing_decisions_total",
                                                "Units of client work routed, by destination."),
                                 "decision", routing_decisions_);
  auto& catalog = counter_family(registry, "pgdual_catalog_refreshes_total",
                                 "Fetches of the primary's catalog facts (volatile user functions, "
                                 "tables, primary keys), by result.");
  catalog_refreshes_ok_ = &catalog.Add({{"result", "ok"}});
  catalog_refreshes_failed_ = &catalog.Add({{"result", "failed"}});
  shadow_ = std::make_unique<ShadowMetrics>(registry);
  rewrite_ = std::make_unique<RewriteMetrics>(registry);
  drift_risk_ = std::make_unique<TableCounters>(
      counter_family(registry, "pgdual_drift_risk_total",
                     "Mirrored writes that may leave the two stores different and were let "
                     "through, by table and reason (reconcile these tables)."),
      "reason");
  journal_ = std::make_unique<JournalMetrics>(registry);
  backfill_ = std::make_unique<BackfillMetrics>(registry);
  reconcile_ = std::make_unique<ReconcileMetrics>(registry);
  cdc_ = std::make_unique<CdcMetrics>(registry);
  cutover_ = std::make_unique<CutoverMetrics>(registry);
  status_ = std::make_unique<StatusMetrics>(registry);
}

// ---- dual-write
void Metrics::register_dual_write_metrics(prometheus::Registry& registry) {
  add_per_value<SecondaryFailure>(
      counter_family(registry, "pgdual_secondary_failures_total",
                     "Writes that did not complete on the secondary store, by failure type."),
      "type", secondary_failures_);
  async_queue_depth_ =
      &gauge_family(
           registry, "pgdual_async_queue_depth",
           "Units waiting for the secondary under the async strategy, summed over sessions.")
           .Add({});
  commit_order_waits_ =
      &counter_family(registry, "pgdual_commit_order_waits_total",
                      "Units held back from the secondary (strategy sync) until another session's "
                      "commit they could have observed on the primary had reached it too.")
           .Add({});
  async_queue_overflow_ =
      &counter_family(registry, "pgdual_async_queue_overflow_total",
                      "Times a session's async queue was full: its secondary was detached and the "
                      "writes went to the retry path.")
           .Add({});
  secondary_lag_seconds_ =
      &gauge_family(registry, "pgdual_secondary_lag_seconds",
                    "Seconds from the primary's completion of the last mirrored unit to the "
                    "secondary's (how far the secondary trails the primary).")
           .Add({});
  secondary_lag_statements_ =
      &gauge_family(
           registry, "pgdual_secondary_lag_statements",
           "Units executed on the primary and not yet on the secondary, summed over sessions.")
           .Add({});
  retry_queue_depth_ =
      &gauge_family(registry, "pgdual_retry_queue_depth",
                    "Writes that did not reach the secondary, recorded with their context for "
                    "replay and reconciliation.")
           .Add({});
  divergence_family_ = &counter_family(
      registry, "pgdual_write_divergence_total",
      "Writes whose command tag or row count differed between the stores, per table.");
  phase_info_family_ =
      &gauge_family(registry, "pgdual_phase_info",
                    "Active migration phase (value 1) of the default, of each table and of each "
                    "tenant rule.");
}

Metrics::Metrics(const std::string& version) : registry_(std::make_shared<prometheus::Registry>()) {
  auto& registry = *registry_;
  register_client_metrics(registry);
  register_backend_metrics(registry);
  register_tls_and_config_metrics(registry);
  register_routing_metrics(registry);
  register_dual_write_metrics(registry);
  gauge_family(registry, "pgdual_build_info", "pgdual build information (value 1).")
      .Add({{"version", version}})
      .Set(1);
}

Metrics::~Metrics() = default;

prometheus::Counter& Metrics::client_connections_rejected(RejectReason reason) const {
  return pick(rejected_, reason);
}

prometheus::Counter& Metrics::protocol_errors(ProtocolErrorReason reason) const {
  return pick(protocol_errors_, reason);
}

prometheus::Counter& Metrics::cancel_requests(CancelResult result) const {
  return pick(cancel_requests_, result);
}

const BackendMetrics& Metrics::backend(BackendRole role) const {
  return backends_[std::min(static_cast<std::size_t>(role), kBackendRoleCount - 1)];
}

prometheus::Counter& Metrics::tls_handshakes_ok(TlsSide side) const { return pick(tls_ok_, side); }

prometheus::Counter& Metrics::tls_handshakes_failed(TlsSide side) const {
  return pick(tls_failed_, side);
}

void Metrics::record_config_reload(bool ok) const {
  if (ok) {
    config_reloads_ok_->Increment();
    config_last_reload_success_->SetToCurrentTime();
  } else {
    config_reloads_failed_->Increment();
  }
}

prometheus::Counter& Metrics::routing_decisions(RoutingDecision decision) const {
  return pick(routing_decisions_, decision);
}

prometheus::Counter& Metrics::secondary_failures(SecondaryFailure type) const {
  return pick(secondary_failures_, type);
}

void Metrics::count_write_divergence(const std::string& table) {
  std::lock_guard lock(divergence_mutex_);
  auto it = divergence_by_table_.find(table);
  if (it == divergence_by_table_.end()) {
    const std::string& label =
        divergence_by_table_.size() < kMaxDivergenceTables ? table : std::string("_other");
    auto other = divergence_by_table_.find(label);
    if (other != divergence_by_table_.end()) {
      other->second->Increment();
      return;
    }
    it = divergence_by_table_.emplace(label, &divergence_family_->Add({{"table", label}})).first;
  }
  it->second->Increment();
}

void Metrics::set_phase_info(std::vector<PhaseInfo> phases) {
  std::lock_guard lock(phase_info_mutex_);
  for (auto* series : phase_info_series_) phase_info_family_->Remove(series);
  phase_info_series_.clear();

  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (auto& p : phases) {
    if (!seen.emplace(p.scope, p.name, p.phase).second) continue;
    auto& gauge = phase_info_family_->Add({{"scope", std::move(p.scope)},
                                           {"name", std::move(p.name)},
                                           {"phase", std::move(p.phase)}});
    gauge.Set(1);
    phase_info_series_.push_back(&gauge);
  }
}

MetricView Metrics::view() const { return MetricView(*registry_); }

std::string Metrics::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

}  // namespace pgdual::metrics
