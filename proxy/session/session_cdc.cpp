// Strategy cdc in the session (docs/cdc.md): the new store receives rows from PostgreSQL's
// logical replication, so the session mirrors only what replication does not carry
// (routing/cdc_rules.hpp), opens a transaction on the secondary when DDL arrives inside the
// client's transaction block, and under cdc.wait: commit answers a COMMIT or an autocommit
// write only once the new store has applied it (cdc/apply_watcher.hpp).

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"
#include "routing/cdc_rules.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

bool ClientSession::cdc() const {
  return config_->config.migration.strategy == config::Strategy::cdc;
}

std::string ClientSession::cdc_writes_refused() {
  // After cutover the new store takes the writes and the old one gets them back through the
  // reverse replication, which must exist first (pgdual cdc cutover): exact or refused.
  if (!cdc() || roles_.primary != routing::Store::new_store || !roles_.secondary) return {};
  if (runtime_.cdc().ready(identity_.database)) return {};
  runtime_.metrics().cdc().count_refused_write(identity_.database);
  return "pgdual: database " + identity_.database +
         " is in phase cutover under strategy cdc, but the reverse replication (new store to old "
         "store) is not ready, so a write would not reach the old store: run pgdual cdc cutover "
         "with writes paused (docs/cdc.md, \"Cutover and rollback\")";
}

asio::awaitable<void> ClientSession::wait_for_cdc_health() {
  // A database this instance has not read yet: its first health read decides whether writes
  // may go on (cutover), so wait for it (bounded) instead of refusing the first writes.
  if (!cdc() || !roles_.secondary) co_return;
  runtime_.cdc().note_database(identity_.database);
  // Only cutover refuses writes on that read; before it the session need not wait.
  if (roles_.primary != routing::Store::new_store) co_return;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  const auto until = Clock::now() + config_->config.limits.secondary_timeout;
  while (!runtime_.cdc().known(identity_.database) && Clock::now() < until) {
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void ClientSession::decide_cdc_unit(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  unit.decision =
      routing::decide_cdc_mirror(facts, config_->config.migration, cdc_secondary_in_transaction_);
  if (unit.decision.mode != routing::MirrorMode::reject) return;
  // A Query or Parse that cdc cannot split was refused before it reached the primary
  // (routing::UnitBuilder::set_cdc_refusals); what is left are statements of one extended
  // batch, sent already. Exact or loud: the DDL is not on the new store.
  unit.decision.mode = routing::MirrorMode::none;
  for (const auto& table : unit.tables)
    runtime_.metrics().count_drift_risk(table, "cdc_ddl_with_writes");
  spdlog::error(
      "cdc: an extended-protocol batch mixed DDL with row writes; it ran on the primary only, so "
      "the new store lacks its DDL: tables=[{}] (pgdual_drift_risk_total{{reason="
      "\"cdc_ddl_with_writes\"}}); {}",
      fmt::join(unit.tables, ","), unit.decision.reject_reason);
}

void ClientSession::begin_cdc_secondary_transaction(const PrimaryUnit& unit,
                                                    TxnStatus status_before) {
  if (!cdc() || status_before == TxnStatus::idle || cdc_secondary_in_transaction_) return;
  // DDL inside the client's transaction block, whose BEGIN stayed on the primary: the
  // secondary runs it in a transaction of its own that the client's COMMIT or ROLLBACK ends.
  secondary_->enqueue(unit.id, EntryPurpose::control, protocol::query_message("BEGIN"), true);
}

void ClientSession::track_cdc_transaction(PrimaryUnit& unit, const routing::UnitFacts& facts) {
  if (!cdc()) return;
  if (unit.is_write || facts.has_function_call) cdc_transaction_wrote_ = true;
  if (predicted_status_ == TxnStatus::idle) {
    unit.cdc_wait =
        cdc_transaction_wrote_ && config_->config.migration.cdc.wait == config::CdcWait::commit;
    cdc_transaction_wrote_ = false;
    cdc_secondary_in_transaction_ = false;
  } else if (unit.mirrored()) {
    cdc_secondary_in_transaction_ = true;
  }
}

asio::awaitable<std::string> ClientSession::wait_cdc_commit() {
  // The watcher answers on its own thread: the answer is posted here, where it cancels the
  // timer that bounds the wait.
  const auto started = Clock::now();
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  auto answer = std::make_shared<std::optional<metrics::CdcWaitOutcome>>();
  timer->expires_after(config_->config.limits.secondary_timeout);
  const std::string database = identity_.database;
  const auto id = runtime_.cdc().wait_applied(
      database, [executor, timer, answer](metrics::CdcWaitOutcome outcome) {
        asio::post(executor, [timer, answer, outcome] {
          *answer = outcome;
          timer->cancel();
        });
      });
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  if (!*answer) runtime_.cdc().cancel(database, id);
  const auto outcome = answer->value_or(metrics::CdcWaitOutcome::timeout);
  runtime_.metrics().cdc().observe_commit_wait(outcome, seconds_since(started));
  if (outcome == metrics::CdcWaitOutcome::applied) co_return std::string();

  const bool timed_out = outcome == metrics::CdcWaitOutcome::timeout;
  const std::string what =
      timed_out ? "the new store did not apply it within limits.secondary_timeout_ms"
                : "the new store's replication is not ready (set up, enabled, every table copied)";
  if (cdc_wait_logged_ < 10) {
    ++cdc_wait_logged_;
    spdlog::warn(
        "cdc.wait: commit: a commit of database {} is durable on the old store, but {} "
        "(pgdual_cdc_commit_waits_total{{outcome=\"{}\"}})",
        database, what, timed_out ? "timeout" : "not_ready");
  }
  if (config_->config.migration.on_secondary_failure != config::OnSecondaryFailure::fail)
    co_return std::string();
  // fail: the client hears it. The commit itself stands (the old store has it, and replication
  // will carry it): SQLSTATE 58000, an error outside the database it talked to.
  std::string error;
  protocol::append_error_response(
      error, protocol::make_error("58000",
                                  "pgdual: the transaction committed on the old store, "
                                  "but " +
                                      what + " (cdc.wait: commit)"));
  co_return error;
}

}  // namespace pgdual::proxy
