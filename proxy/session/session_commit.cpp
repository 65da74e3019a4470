// Strategy sync, before the primary commits: the secondary catches up with the transaction
// (routing/sync_wait.hpp), and a transaction the secondary refused part of is made to fail on
// the primary too (on_secondary_failure: fail).

#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

asio::awaitable<bool> ClientSession::hold_commit_for_secondary(UnitId commit_unit) {
  // What came before the COMMIT goes out first, then the secondary must catch up before the
  // primary may commit.
  std::string commit_bytes = primary_out_.substr(unit_start_);
  primary_out_.resize(unit_start_);
  if (!primary_out_.empty()) {
    const auto failed = co_await primary_->stream().write_all(primary_out_);
    if (failed) co_return false;
    primary_out_.clear();
  }
  if (secondary_usable()) co_await secondary_->flush();
  const bool caught_up = co_await catch_up_before_commit(commit_unit);
  if (!caught_up) co_return false;
  open_commit_ticket(commit_unit);  // from here on, other sessions may see it on the primary
  primary_out_.append(commit_bytes);
  co_return true;
}

asio::awaitable<bool> ClientSession::catch_up_before_commit(UnitId commit_unit) {
  if (!secondary_usable()) co_return true;
  const bool in_time =
      co_await secondary_->wait_through(commit_unit - 1, config_->config.limits.secondary_timeout);
  if (!in_time) {
    spdlog::warn(
        "secondary did not catch up within {} ms before COMMIT: detaching it from this session",
        config_->config.limits.secondary_timeout.count());
    secondary_->mark_broken("timeout");
    on_secondary_broken();
    co_return true;
  }
  if (transaction_secondary_error_ &&
      config_->config.migration.on_secondary_failure == config::OnSecondaryFailure::fail) {
    const bool sent = co_await fail_refused_transaction();
    co_return sent;
  }
  co_return true;
}

asio::awaitable<bool> ClientSession::fail_refused_transaction() {
  // on_secondary_failure: fail — the primary must not commit what the
  // secondary refused: a statement that raises makes the primary's
  // transaction fail, so the client's COMMIT answers ROLLBACK, as for any
  // failed transaction. Its own reply is swallowed.
  const auto& error = *transaction_secondary_error_;
  std::string abort = protocol::query_message(
      "DO $pgdual$BEGIN RAISE EXCEPTION USING ERRCODE = '" +
      (error.sqlstate.size() == 5 ? error.sqlstate : std::string("XX000")) +
      "', MESSAGE = 'pgdual: the secondary database rejected a write of this transaction'; "
      "END$pgdual$");
  PrimaryUnit abort_unit;
  abort_unit.id = 0;
  abort_unit.sent = Clock::now();
  abort_unit.origin = UnitOrigin::abort_statement;
  // It goes before the COMMIT unit (already queued last).
  primary_leg_.insert_before_newest(std::move(abort_unit));
  const auto failed = co_await primary_->stream().write_all(abort);
  if (failed) co_return false;
  std::string notice;
  auto warning = error;
  warning.severity = "WARNING";
  warning.message =
      "pgdual: the secondary database rejected a write of this transaction, so it "
      "is rolled back: " +
      error.message;
  protocol::append_notice_response(notice, warning);
  co_await client_.write_all(notice);
  co_return true;
}

}  // namespace pgdual::proxy
