// What the two stores did with each mirrored unit: the write comparison of
// the write adapter (command tags, affected rows), secondary-only failures,
// and the record of writes that did not reach the secondary.

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

using protocol::TxnStatus;

namespace {

std::string first_table(const std::vector<std::string>& tables) {
  return tables.empty() ? std::string("(none)") : tables.front();
}

}  // namespace

void ClientSession::on_secondary_result(const SecondaryResult& result) {
  if (result.purpose == EntryPurpose::shadow) {
    shadow_reads_->on_secondary_result(result.unit, result.seconds);
    return;
  }
  // pgdual's own statements (state replay, the transaction-id query before a COMMIT, which
  // shares the COMMIT's unit id) are not the client's: only the body's outcome is compared.
  if (result.purpose == EntryPurpose::control) return;
  close_commit_tickets_through(result.unit);  // answered in order
  if (auto* unit = primary_leg_.find(result.unit)) {
    // The secondary finished first: compared when the primary does.
    if (!unit->secondary || result.error) unit->secondary = result;
    return;
  }
  auto it = awaiting_secondary_.find(result.unit);
  if (it != awaiting_secondary_.end()) {
    auto outcome = std::move(it->second);
    awaiting_secondary_.erase(it);
    compare(outcome, result);
  }
  if (result.purpose == EntryPurpose::body) resolve_unconfirmed(result.unit);
}

void ClientSession::compare(const PrimaryOutcome& primary, const SecondaryResult& secondary) {
  auto& metrics = runtime_.metrics();
  const auto& secondary_metrics = metrics.backend(secondary_ ? secondary_->connection().role()
                                                             : metrics::BackendRole::new_backend);
  const bool is_write = !primary.tables.empty() || secondary.error;
  if (is_write) {
    (secondary.error ? secondary_metrics.writes_error : secondary_metrics.writes_ok)->Increment();
    secondary_metrics.write_duration->Observe(secondary.seconds);
  }
  metrics.secondary_lag_seconds().Set(secondary.seconds);
  report_secondary_depth();

  if (secondary.error && !primary.error) {
    on_secondary_only_rejection(primary, secondary);
    return;
  }
  if (primary.error || secondary.error) return;

  // Same statements, same data: the command tags and row counts must agree.
  const auto& a = primary.command_tags;
  const auto& b = secondary.command_tags;
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i] == b[i];
  if (!same) {
    metrics.count_write_divergence(first_table(primary.tables));
    spdlog::warn(
        "write divergence: session={} table={} primary=[{}] secondary=[{}] statement=\"{}\"",
        cancel_key_ ? cancel_key_->process_id : 0, first_table(primary.tables), fmt::join(a, ","),
        fmt::join(b, ","), primary.text.substr(0, 200));
  }
  // Both must be in the same transaction state (invariant 9).
  if (primary.status != protocol::txn_status_from_byte(secondary.status)) {
    metrics.count_write_divergence("(transaction status)");
    spdlog::warn("transaction status differs: primary={} secondary={}; following the primary",
                 protocol::to_byte(primary.status), secondary.status);
  }
}

void ClientSession::on_secondary_only_rejection(const PrimaryOutcome& primary,
                                                const SecondaryResult& secondary) {
  // The primary accepted what the secondary refused: the stores diverge.
  // Inside a transaction the secondary's transaction is now aborted and
  // refuses everything after it; only the first refusal is news.
  auto& metrics = runtime_.metrics();
  const bool in_transaction = primary.status != TxnStatus::idle;
  if (in_transaction && transaction_secondary_error_) return;
  const auto& fields = secondary.error_fields;
  const std::string sqlstate = fields ? fields->sqlstate : "";
  metrics.secondary_failures(metrics::SecondaryFailure::rejected_by_secondary_only).Increment();
  spdlog::warn(
      "secondary rejected a write the primary accepted: session={} table={} sqlstate={} "
      "error=\"{}\" statement=\"{}\"",
      cancel_key_ ? cancel_key_->process_id : 0, first_table(primary.tables), sqlstate,
      fields ? fields->message : "", primary.text.substr(0, 200));
  const auto error = fields.value_or(protocol::make_error("XX000", "secondary error"));
  if (in_transaction) {
    transaction_secondary_error_ = error;  // acted on before the COMMIT
  } else if (config_->config.migration.on_secondary_failure == config::OnSecondaryFailure::fail) {
    secondary_rejections_.emplace(secondary.unit, error);
  }
  std::vector<std::string> tables = primary.tables;
  for (const auto& table : transaction_write_tables_) tables.push_back(table);
  if (journal_enabled()) {
    // The whole transaction goes to the journal once the primary committed it.
    mark_capture_failed(secondary.unit, "secondary rejected", sqlstate);
  } else {
    record_unmirrored_write("secondary rejected", primary.text, tables, sqlstate);
  }
}

std::vector<std::string> ClientSession::count_drift_risk(const std::vector<std::string>& tables,
                                                         std::string_view reason) {
  auto named = tables.empty() ? std::vector<std::string>{"(unknown)"} : tables;
  for (const auto& table : named) runtime_.metrics().count_drift_risk(table, std::string(reason));
  runtime_.metrics().journal().count_reconciliation(identity_.database, named);
  return named;
}

void ClientSession::record_unmirrored_write(const std::string& reason, const std::string& text,
                                            const std::vector<std::string>& tables,
                                            const std::string& sqlstate) {
  journal::FailedTransaction failed;
  failed.when = std::chrono::system_clock::now();
  failed.session = cancel_key_ ? cancel_key_->process_id : 0;
  failed.reason = reason;
  failed.sqlstate = sqlstate;
  // Statement text can carry values; it is kept for replay but logged only
  // when log.log_parameters allows it.
  failed.statement = text;
  failed.tables = tables;
  if (config_->config.log.log_parameters) {
    spdlog::warn("write not applied on the secondary ({}): tables=[{}] statement=\"{}\"", reason,
                 fmt::join(tables, ","), text.substr(0, 500));
  } else {
    spdlog::warn("write not applied on the secondary ({}): tables=[{}]", reason,
                 fmt::join(tables, ","));
  }
  runtime_.retry_queue().push(std::move(failed));
}

void ClientSession::on_session_end() {
  // The client is gone. Both servers roll back an open transaction when
  // their connections close, so only work the primary may have committed
  // without the secondary having it is recorded: autocommit writes and
  // COMMITs that were in flight or not yet applied on the secondary.
  shadow_reads_->on_leg_broken(false);
  leave_journaled_transaction();
  if (journal_enabled() && !unconfirmed_.empty())
    journal_unconfirmed("client left before the secondary applied it");
  if (!secondary_usable()) return;
  std::vector<std::string> tables;
  std::string text;
  for (const auto& [unit, outcome] : awaiting_secondary_) {
    if (outcome.status != TxnStatus::idle) continue;
    tables.insert(tables.end(), outcome.tables.begin(), outcome.tables.end());
    if (text.empty()) text = outcome.text;
  }
  for (const auto& unit : primary_leg_.units()) {
    if (!unit.mirrored() || !unit.is_write || !(unit.autocommit || unit.decision.ends_transaction))
      continue;
    tables.insert(tables.end(), unit.tables.begin(), unit.tables.end());
    if (unit.decision.ends_transaction) {
      tables.insert(tables.end(), transaction_write_tables_.begin(),
                    transaction_write_tables_.end());
    }
    if (text.empty()) text = unit.text;
  }
  secondary_->mark_broken("client session ended");
  secondary_->take_failure_report();  // not a failure of the secondary
  report_secondary_depth();
  if (!tables.empty())
    record_unmirrored_write("client left before the secondary applied it", text, tables, "");
}

void ClientSession::report_secondary_depth() {
  // Gauges summed over sessions: each session adds the change of its own depth.
  const double depth = secondary_usable() ? static_cast<double>(secondary_->outstanding()) : 0.0;
  const double delta = depth - reported_secondary_depth_;
  if (delta == 0) return;
  auto& metrics = runtime_.metrics();
  metrics.secondary_lag_statements().Increment(delta);
  if (config_->config.migration.strategy == config::Strategy::async)
    metrics.async_queue_depth().Increment(delta);
  reported_secondary_depth_ = depth;
}

void ClientSession::on_secondary_broken() {
  if (!secondary_ || !secondary_->take_failure_report()) return;
  commit_tickets_.clear();  // nothing more will answer them
  shadow_reads_->on_leg_broken(true);
  report_secondary_depth();
  auto& metrics = runtime_.metrics();
  const std::string reason = secondary_->broken_reason();
  if (reason != "async queue full") {
    metrics
        .secondary_failures(reason == "timeout" ? metrics::SecondaryFailure::timeout
                                                : metrics::SecondaryFailure::error)
        .Increment();
  }
  // The secondary's server rolls back what was open on the connection: the
  // whole open transaction and every unit still in flight are lost there.
  std::vector<std::string> tables = transaction_write_tables_;
  std::string text;
  for (auto& [unit, outcome] : awaiting_secondary_) {
    for (const auto& table : outcome.tables) tables.push_back(table);
    if (text.empty()) text = outcome.text;
  }
  awaiting_secondary_.clear();
  if (journal_enabled()) {
    // What the primary committed and the secondary had not confirmed, in order; the open
    // transaction follows when the primary commits it.
    journal_unconfirmed("secondary " + reason);
  } else if (!tables.empty()) {
    record_unmirrored_write("secondary " + reason, text, tables, "");
  }
  secondary_backoff_ = std::chrono::milliseconds(1000);
  next_secondary_attempt_ = Clock::now() + secondary_backoff_;
}

}  // namespace pgdual::proxy
