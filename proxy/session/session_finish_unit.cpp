// The end of a client unit on the primary (its ReadyForQuery): the primary's metrics, the
// journal's capture, what the secondary gets of the unit (routing/unit_settlement.hpp), the
// comparison of the two stores' outcomes, and under sync the wait for the secondary before the
// client hears ReadyForQuery (routing/sync_wait.hpp).

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"
#include "routing/sync_wait.hpp"
#include "routing/unit_settlement.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

asio::awaitable<void> ClientSession::finish_primary_unit(TxnStatus status) {
  // Back between transactions at any co_return: a fleet flip need not wait for this session.
  struct LeaveAtBoundary {
    ClientSession& session;
    ~LeaveAtBoundary() {
      // Not at_boundary(): a shadow read's cancel still on its way does not keep the session
      // inside (a flip would wait for it until the client's next statement).
      if (session.idle() && session.predicted_status_ == protocol::TxnStatus::idle &&
          !session.unit_open_) {
        session.leave_fleet_transaction();
      }
    }
  } leave_at_boundary{*this};
  auto unit = take_finished_unit(status);
  // The cutover gate compares what the client waits for a write with the primary's own time
  // (metrics/cutover_metrics.hpp): recorded once everything the answer waits for is done.
  const auto record_latency = [this, is_write = unit.is_write, sent = unit.sent,
                               primary = unit.primary_seconds] {
    record_write_latency(is_write, sent, primary);
  };
  std::optional<routing::AcceptedPrefix> accepted;
  if (unit.error && !unit.autocommit && status == TxnStatus::failed) {
    // Its transaction goes on, towards ROLLBACK TO SAVEPOINT or ROLLBACK: the secondary and a
    // replay get exactly the statements the primary completed (routing/accepted_prefix.hpp).
    accepted = accepted_part_of(unit);
  }
  if (capturing_ && status == TxnStatus::idle && unit.id >= open_capture_.first_unit &&
      !unit.mirrored()) {
    // Journaled, or nothing reached the secondary: settled now. (A mirrored unit is settled
    // further down, after the secondary had its chance.)
    const bool committed = routing::transaction_committed(unit.error, unit.command_tags);
    co_await end_capture(unit, committed);
  }
  if (!unit.mirrored()) {
    if (status == TxnStatus::idle) transaction_write_tables_.clear();
    record_latency();
    co_return;
  }
  const bool prefix_sent =
      co_await settle_mirrored_unit(unit, status, accepted ? &*accepted : nullptr);
  const UnitId id = unit.id;
  compare_or_await_secondary(std::move(unit), status, prefix_sent);
  co_await wait_secondary_before_ready(id, status);
  co_await wait_journal_appends();  // what failed (or, under async, what it wrote) is durable first
  report_secondary_depth();
  co_await report_secondary_rejection(id);
  if (status == TxnStatus::idle) {
    transaction_write_tables_.clear();
    transaction_secondary_error_.reset();
  }
  record_latency();
}

void ClientSession::record_write_latency(bool is_write, Clock::time_point sent,
                                         double primary_seconds) {
  if (!is_write) return;
  if (defer_write_latency_) {
    deferred_write_latency_.emplace(sent, primary_seconds);
    return;
  }
  runtime_.metrics().cutover().record_write(seconds_since(sent), primary_seconds);
}

void ClientSession::record_deferred_write_latency() {
  defer_write_latency_ = false;
  if (!deferred_write_latency_) return;
  const auto [sent, primary_seconds] = *deferred_write_latency_;
  deferred_write_latency_.reset();
  runtime_.metrics().cutover().record_write(seconds_since(sent), primary_seconds);
}

PrimaryUnit ClientSession::take_finished_unit(TxnStatus status) {
  auto& metrics = runtime_.metrics();
  auto unit = primary_leg_.finish_oldest(status);
  primary_progress_->cancel();  // wakes release_serialize_locks
  const double primary_seconds = seconds_since(unit.sent);
  unit.primary_seconds = primary_seconds;
  metrics.backend(primary_->role()).query_duration->Observe(primary_seconds);
  if (primary_leg_.empty()) predicted_status_ = status;

  if (status == TxnStatus::idle && transaction_had_ddl_) {
    // Committed (or rolled back) DDL: functions and tables may have changed.
    transaction_had_ddl_ = false;
    runtime_.catalogs().mark_stale(catalog_key());
    if (cdc()) runtime_.cdc().request_upkeep(identity_.database);  // a new table to publish
  }
  if (unit.capture) shadow_reads_->on_primary_done(unit.id, primary_seconds);
  if (unit.is_write) {
    auto& primary_metrics = metrics.backend(primary_->role());
    (unit.error ? primary_metrics.writes_error : primary_metrics.writes_ok)->Increment();
    primary_metrics.write_duration->Observe(primary_seconds);
  }
  return unit;
}

asio::awaitable<bool> ClientSession::settle_mirrored_unit(const PrimaryUnit& unit, TxnStatus status,
                                                          const routing::AcceptedPrefix* accepted) {
  bool prefix_sent = false;
  if (capturing_ && status == TxnStatus::idle && unit.id >= open_capture_.first_unit) {
    // Into unconfirmed_ until the secondary answers. Before the flush below: the secondary's
    // answer can arrive while the flush is suspended, and must find it there.
    const bool committed = routing::transaction_committed(unit.error, unit.command_tags);
    co_await end_capture(unit, committed);
  }
  if (secondary_usable()) {
    // The secondary follows only what the primary accepted (invariants 5, 7).
    const bool left_transaction = !unit.autocommit && status == TxnStatus::idle;
    const auto settlement =
        routing::settle_unit({unit.error, left_transaction, unit.command_tags}, unit.decision);
    // What the unit could have seen on the primary reaches the secondary first.
    const auto gate = commit_gate(unit.id);
    if (settlement == routing::Settlement::drop && accepted &&
        accepted->kind == routing::AcceptedPrefix::Kind::prefix) {
      secondary_->resolve(unit.id, EntryPurpose::body, accepted->bytes, gate);
      prefix_sent = true;
    } else if (settlement == routing::Settlement::drop) {
      secondary_->resolve(unit.id, EntryPurpose::body, std::nullopt);
      commit_tickets_.erase(unit.id);
    } else if (settlement == routing::Settlement::rollback_instead) {
      secondary_->resolve(unit.id, EntryPurpose::body, protocol::query_message("ROLLBACK"), gate);
    } else {
      secondary_->resolve_keep(unit.id, EntryPurpose::body, gate);
    }
    co_await secondary_->flush();
  }
  if (unit.error && status == TxnStatus::idle && unit.decision.ends_transaction) {
    // A string like "BEGIN; ...; COMMIT; <fails>" committed part of itself.
    record_unmirrored_write("partially committed multi-statement string", unit.text, unit.tables,
                            "");
  }
  co_return prefix_sent;
}

void ClientSession::compare_or_await_secondary(PrimaryUnit unit, TxnStatus status,
                                               bool accepted_prefix_sent) {
  PrimaryOutcome outcome{unit.error, status, std::move(unit.command_tags), std::move(unit.tables),
                         std::move(unit.text)};
  if (accepted_prefix_sent) {
    // The secondary runs what the primary completed: the same tags, still in the transaction.
    outcome.error = false;
    outcome.status = TxnStatus::in_transaction;
    awaiting_secondary_.emplace(unit.id, std::move(outcome));
  } else if (unit.error) {
    // Nothing went to the secondary: nothing to compare.
  } else if (unit.secondary) {
    compare(outcome, *unit.secondary);
    resolve_unconfirmed(unit.id);
  } else {
    awaiting_secondary_.emplace(unit.id, std::move(outcome));
  }
}

asio::awaitable<void> ClientSession::wait_secondary_before_ready(UnitId unit, TxnStatus status) {
  // Called for a mirrored unit only.
  if (!routing::ready_for_query_waits(config_->config.migration.strategy, true, status,
                                      secondary_usable())) {
    co_return;
  }
  const bool in_time =
      co_await secondary_->wait_through(unit, config_->config.limits.secondary_timeout);
  if (!in_time) {
    spdlog::warn("secondary did not answer within {} ms: detaching it from this session",
                 config_->config.limits.secondary_timeout.count());
    secondary_->mark_broken("timeout");
    on_secondary_broken();
  }
}

asio::awaitable<void> ClientSession::report_secondary_rejection(UnitId unit) {
  auto rejected = secondary_rejections_.find(unit);
  if (rejected == secondary_rejections_.end()) co_return;
  // on_secondary_failure: fail, outside a transaction: the primary has
  // committed already; the client learns that the stores now differ.
  auto error = rejected->second;
  secondary_rejections_.erase(rejected);
  error.severity = "ERROR";
  error.message =
      "pgdual: the write was applied on the primary but the secondary database rejected it: " +
      error.message;
  std::string bytes;
  protocol::append_error_response(bytes, error);
  co_await client_.write_all(bytes);
}

}  // namespace pgdual::proxy
