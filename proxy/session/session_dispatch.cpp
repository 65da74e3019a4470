// One complete unit of client work, as it is sent: what it is (for metrics, logs and the
// retry path), where it goes (routing/phase_rules.hpp, routing/unit_route.hpp), and its side
// effects, in this order: the journal's capture, the secondary's queue, the shadow read, the
// predicted transaction status, the outbox's in-band record.

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"
#include "routing/sync_wait.hpp"
#include "routing/transaction_status_prediction.hpp"

namespace pgdual::proxy {

using protocol::TxnStatus;
using routing::MirrorMode;

namespace {

int strength(routing::StatementKind kind) {
  using routing::StatementKind;
  switch (kind) {
    case StatementKind::ddl:
      return 5;
    case StatementKind::write:
      return 4;
    case StatementKind::transaction:
      return 3;
    case StatementKind::session:
      return 2;
    case StatementKind::other:
      return 1;
    case StatementKind::read:
      return 0;
  }
  return 0;
}

// The unit's strongest statement names it in the query metrics.
metrics::QueryKind metric_kind(const routing::UnitFacts& facts) {
  if (facts.parse_failed) return metrics::QueryKind::unknown;
  if (facts.statements.empty()) return metrics::QueryKind::other;
  using routing::StatementKind;
  StatementKind strongest = StatementKind::read;
  for (const auto* statement : facts.statements) {
    if (strength(statement->kind) > strength(strongest)) strongest = statement->kind;
  }
  switch (strongest) {
    case StatementKind::read:
      return metrics::QueryKind::read;
    case StatementKind::write:
      return metrics::QueryKind::write;
    case StatementKind::ddl:
      return metrics::QueryKind::ddl;
    case StatementKind::transaction:
      return metrics::QueryKind::transaction;
    case StatementKind::session:
      return metrics::QueryKind::session;
    case StatementKind::other:
      return metrics::QueryKind::other;
  }
  return metrics::QueryKind::unknown;
}

}  // namespace

void ClientSession::dispatch_unit() {
  const auto& facts = units_->facts();
  const metrics::QueryKind kind = metric_kind(facts);
  PrimaryUnit& unit = primary_leg_.newest();  // opened at the unit's first message
  describe_unit(unit, facts);
  runtime_.metrics().backend(primary_->role()).queries(kind).Increment();
  decide_unit(unit, facts);

  const MirrorMode mode = unit.decision.mode;
  const TxnStatus status_before = predicted_status_;
  const bool capture = mode == MirrorMode::follow && journal_enabled();
  const bool journaling = capture && capture_unit(unit, status_before == TxnStatus::idle);
  detach_overflowing_secondary(mode);
  unit.route = routing::route_unit(mode, journaling, secondary_usable());
  send_unit_on_route(unit, kind, capture, status_before);
  if ((phase_ == config::Phase::shadow_read || !config_->config.migration.tables.empty()) &&
      !journal_mode()) {
    // Not while writes go through the journal: the secondary is behind.
    start_shadow(unit, facts);
  }
  secondary_unit_bytes_.clear();
  shadow_aa_bytes_.clear();
  copy_route_ = {unit.id, unit.mirrored() ? mode : MirrorMode::none};
  copy_bytes_held_ = 0;
  copy_captured_ = capture;
  predicted_status_ = routing::predict_transaction_status(facts, unit.decision, status_before);
  track_cdc_transaction(unit, facts);
  for (const auto& table : unit.tables) transaction_write_tables_.push_back(table);
  if (capture) outbox_in_band(unit, status_before);
  order_autocommit_write(unit, status_before);
  units_->reset();
}

void ClientSession::describe_unit(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  unit.text = units_->first_text();
  unit.autocommit = predicted_status_ == TxnStatus::idle;
  const auto names = name_context();
  for (const auto* statement : facts.statements) {
    if (statement->kind == routing::StatementKind::write ||
        statement->kind == routing::StatementKind::ddl) {
      unit.is_write = true;
    }
    // Schema-qualified through the session's search_path, for metrics, logs and the retry path.
    for (const auto& table : statement->write_tables) {
      unit.tables.push_back(routing::qualified_table(table, names));
    }
    if (statement->kind == routing::StatementKind::ddl) transaction_had_ddl_ = true;
    if (statement->kind == routing::StatementKind::session)
      track_search_path(*statement, unit.text);
  }
}

void ClientSession::decide_unit(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  if ((secondary_ || roles_.secondary) && cdc()) {
    decide_cdc_unit(unit, facts);
  } else if (secondary_ || roles_.secondary) {
    unit.decision = routing::decide_mirror(facts, protocol::to_byte(predicted_status_),
                                           config_->config.migration, phase_, name_context());
    if (unit.decision.mode == MirrorMode::reject) unit.decision.mode = MirrorMode::none;
    if (unit.decision.write_by_function) unit.is_write = true;
  }
  if (facts.parse_failed) runtime_.metrics().parse_failures().Increment();
}

void ClientSession::detach_overflowing_secondary(MirrorMode mode) {
  const auto& migration = config_->config.migration;
  if (mode != MirrorMode::follow || !secondary_usable() ||
      migration.strategy != config::Strategy::async ||
      secondary_->outstanding() < migration.async_queue_capacity) {
    return;
  }
  // The secondary cannot keep up: rather than grow without bound, detach
  // it (its server rolls back what was open) and record what it missed.
  runtime_.metrics().async_queue_overflow().Increment();
  spdlog::warn("async queue full ({} units): detaching the secondary from this session",
               migration.async_queue_capacity);
  secondary_->mark_broken("async queue full");
  on_secondary_broken();
}

void ClientSession::send_unit_on_route(PrimaryUnit& unit, metrics::QueryKind kind, bool capture,
                                       TxnStatus status_before) {
  auto& metrics = runtime_.metrics();
  const auto& migration = config_->config.migration;
  if (unit.route == routing::UnitRoute::journaled) {
    // The journal has it; the secondary gets it from the relay.
    if (secondary_) secondary_missed_units_ = true;
    metrics.routing_decisions(metrics::RoutingDecision::both).Increment();
    return;
  }
  if (unit.mirrored()) {
    if (capture) {
      open_capture_.sent_to_secondary = true;
      if (unit.decision.is_commit && status_before != TxnStatus::idle) ask_secondary_xid(unit.id);
    }
    begin_cdc_secondary_transaction(unit, status_before);
    // Held until the primary has executed it (see routing/phase_rules.hpp).
    secondary_->enqueue(unit.id, EntryPurpose::body, std::move(secondary_unit_bytes_), false);
    metrics.routing_decisions(metrics::RoutingDecision::both).Increment();
    metrics.backend(secondary_->connection().role()).queries(kind).Increment();
    if (routing::commit_waits_for_catch_up(migration.strategy, unit.decision))
      catch_up_for_ = unit.id;
    if (capture && migration.strategy == config::Strategy::async && !unit.tables.empty()) {
      announce_async_write(unit);
    }
    return;
  }
  metrics
      .routing_decisions(roles_.primary == routing::Store::old_store
                             ? metrics::RoutingDecision::old_only
                             : metrics::RoutingDecision::new_only)
      .Increment();
  if (unit.decision.mode == MirrorMode::follow && unit.is_write && !capture) {
    // The phase wants this write on the secondary, which is unreachable.
    record_unmirrored_write("secondary unavailable", unit.text, unit.tables, "");
  }
}

bool ClientSession::unit_runs_copy() const {
  // COPY FROM STDIN waits for the server's CopyInResponse, which comes without a Sync: such a
  // batch must reach the server as it is.
  for (const auto* statement : units_->facts().statements) {
    if (statement->command == "COPY") return true;
  }
  return false;
}

}  // namespace pgdual::proxy
