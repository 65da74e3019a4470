// Strategy sync, autocommit writes: the primary's order across sessions (routing/sync_order.hpp).
// The client's autocommit write runs on the primary inside pgdual's BEGIN ... COMMIT, and that
// COMMIT goes out only once the secondary has answered the write, so the primary's row locks
// are held until the secondary has applied it, as for an explicit transaction. The outbox
// wrapper's unit origins carry it (proxy/backend/unit_origin.hpp): the client's ReadyForQuery
// waits for pgdual's COMMIT and reports idle.

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"
#include "routing/sync_order.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

namespace {
const std::string& commit_message() {
  static const std::string message = protocol::query_message("COMMIT");
  return message;
}
}  // namespace

bool ClientSession::sync_order_candidate() const {
  return config_->config.migration.strategy == config::Strategy::sync && secondary_usable() &&
         predicted_status_ == TxnStatus::idle;
}

void ClientSession::order_autocommit_write(PrimaryUnit& unit, TxnStatus status_before) {
  if (unit.origin != UnitOrigin::client) return;  // the outbox wrapped it already
  routing::AutocommitUnit facts_of_unit;
  facts_of_unit.strategy = config_->config.migration.strategy;
  facts_of_unit.mirrored = unit.mirrored() && secondary_usable();
  facts_of_unit.is_write = unit.is_write;
  facts_of_unit.before = status_before;
  facts_of_unit.after = predicted_status_;
  facts_of_unit.runs_copy = unit_runs_copy();
  facts_of_unit.bytes_flushed = unit_bytes_flushed_ || unit_start_ > primary_out_.size();
  const auto decision = routing::autocommit_order(units_->facts(), facts_of_unit);
  if (decision.order == routing::AutocommitOrder::not_needed) return;
  if (decision.order == routing::AutocommitOrder::unprotected) {
    // Exact or loud: the secondary may apply this write after a conflicting later one.
    for (const auto& table : unit.tables)
      runtime_.metrics().count_drift_risk(table, std::string(decision.reason));
    if (drift_logged_.size() < 100 && drift_logged_.insert(std::string(decision.reason)).second) {
      spdlog::warn(
          "sync: an autocommit write cannot hold the primary's locks until the secondary has it "
          "({}): session={} tables=[{}]; conflicting writes of other sessions may reach the "
          "new store in another order (pgdual_drift_risk_total)",
          decision.reason, cancel_key_ ? cancel_key_->process_id : 0, fmt::join(unit.tables, ","));
    }
    // The primary commits it first: other sessions' later writes wait for the secondary's.
    if (unit.mirrored()) open_commit_ticket(unit.id);
    return;
  }
  PrimaryUnit begin;
  begin.sent = Clock::now();
  begin.origin = UnitOrigin::wrapper_begin;
  primary_out_.insert(unit_start_, protocol::query_message("BEGIN"));
  primary_leg_.insert_before_newest(std::move(begin));
  primary_leg_.newest().origin = UnitOrigin::client_wrapped;
  PrimaryUnit commit;
  commit.sent = Clock::now();
  commit.origin = UnitOrigin::wrapper_commit;
  commit.tables = unit.tables;
  commit.text = unit.text;
  primary_out_.append(commit_message());
  primary_leg_.append(std::move(commit));
  wrapper_commit_after_ = unit.id;
}

asio::awaitable<bool> ClientSession::hold_wrapper_commit(UnitId wrapped_unit) {
  // BEGIN and the client's write go out now; the COMMIT once the secondary answered the write.
  const auto& commit = commit_message();
  std::string tail = primary_out_.substr(primary_out_.size() - commit.size());
  primary_out_.resize(primary_out_.size() - commit.size());
  if (!primary_out_.empty()) {
    const auto failed = co_await primary_->stream().write_all(primary_out_);
    if (failed) co_return false;
    primary_out_.clear();
  }
  unit_start_ = 0;
  if (secondary_usable()) co_await secondary_->flush();
  const bool caught_up = co_await catch_up_before_commit(wrapped_unit + 1);
  if (!caught_up) co_return false;
  primary_out_.append(tail);
  co_return true;
}

void ClientSession::on_wrapper_commit_refused(const PrimaryUnit& unit) {
  // The primary refused pgdual's COMMIT (a deferred constraint, a serialization failure) after
  // the secondary applied the write in autocommit: the secondary has a write the primary lacks.
  const auto tables = count_drift_risk(unit.tables, "primary_refused_commit");
  for (const auto& table : tables) runtime_.metrics().count_write_divergence(table);
  spdlog::error(
      "sync: the primary refused the commit of an autocommit write the secondary applied: "
      "session={} tables=[{}]{}; reconcile these tables",
      cancel_key_ ? cancel_key_->process_id : 0, fmt::join(tables, ","),
      config_->config.log.log_parameters ? " statement=\"" + unit.text.substr(0, 300) + "\""
                                         : std::string());
}

}  // namespace pgdual::proxy
