// primary -> client: the primary's replies go to the client as they come, except the replies
// to pgdual's own statements (dropped, or captured for pgdual) and the ReadyForQuery that ends
// a unit, which may wait for the secondary (routing/sync_wait.hpp) or for pgdual's COMMIT of
// an outbox wrapper. The unit ends in finish_primary_unit (session_finish_unit.cpp).

#include <spdlog/spdlog.h>

#include "protocol/constants.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"
#include "routing/rewrite/messages.hpp"
#include "routing/sync_wait.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

namespace {
constexpr std::size_t kReadyForQuerySize = 6;  // 'Z', int32 length 5, status byte
}  // namespace

asio::awaitable<void> ClientSession::pump_primary() {
  auto& metrics = runtime_.metrics();
  auto& reader = primary_->reader();
  const auto strategy = config_->config.migration.strategy;
  for (;;) {
    auto status = co_await reader.fill();
    if (status != FrameReader::Status::ok) {
      if (status == FrameReader::Status::protocol_error) {
        spdlog::error("invalid message from backend: {}", reader.error());
      }
      primary_gone_ = true;  // nobody will answer a values query
      primary_progress_->cancel();
      co_return;
    }
    while (auto frame = reader.next()) {
      if (primary_leg_.empty()) continue;  // notifications, notices between units
      auto& unit = primary_leg_.oldest();
      if (unit.capture) unit.capture->on_message(frame->type, frame->payload);
      bool relayed = false;
      if (swallowed(unit.origin)) {
        relayed = co_await on_own_statement_reply(*frame, unit);
      } else {
        relayed = co_await on_client_unit_reply(*frame, unit, strategy);
      }
      if (!relayed) co_return;
    }
    auto raw = reader.take_raw();
    if (!raw.empty()) {
      metrics.backend(primary_->role()).bytes_received->Increment(static_cast<double>(raw.size()));
      metrics.client_bytes_sent().Increment(static_cast<double>(raw.size()));
      if (co_await client_.write_all(raw)) co_return;
    }
    if (drain_requested_ && idle()) {
      co_await send_fatal("57P01", "terminating connection due to administrator command");
      co_return;
    }
  }
}

asio::awaitable<bool> ClientSession::on_own_statement_reply(const protocol::Frame& frame,
                                                            PrimaryUnit& unit) {
  // pgdual's own statement: forward what came before, drop its reply.
  auto& reader = primary_->reader();
  auto before = reader.take_raw_before_last();
  if (!before.empty()) {
    const auto failed = co_await client_.write_all(before);
    if (failed) co_return false;
  }
  auto own = reader.take_raw();
  if (frame.type == protocol::backend::kErrorResponse &&
      (is_journal_insert(unit.origin) || unit.origin == UnitOrigin::wrapper_commit)) {
    const std::string notice = on_journal_statement_error(unit, frame.payload);
    if (!notice.empty()) {
      const auto failed = co_await client_.write_all(notice);
      if (failed) co_return false;
    }
    // The COMMIT of a wrapper failed: the client's statement did not commit.
    if (unit.origin == UnitOrigin::wrapper_commit) {
      if (!outbox()) on_wrapper_commit_refused(unit);
      const auto failed = co_await client_.write_all(own);
      if (failed) co_return false;
    }
  }
  if (frame.type != protocol::backend::kReadyForQuery) co_return true;
  if (unit.origin == UnitOrigin::wrapper_commit) {
    const bool relayed = co_await on_wrapper_committed(unit);
    if (!relayed) co_return false;
  }
  const UnitId shadowed = unit.shadow_of;
  const double seconds = seconds_since(unit.sent);
  if (unit.primary_values) {
    unit.primary_values->done = true;
    primary_progress_->cancel();
  }
  primary_leg_.drop_oldest();
  if (shadowed != 0) shadow_reads_->on_secondary_result(shadowed, seconds);
  co_return true;
}

asio::awaitable<bool> ClientSession::on_wrapper_committed(const PrimaryUnit& unit) {
  // The wrapped autocommit statement is committed (or not) now: its ReadyForQuery.
  std::string ready;
  if (outbox_insert_error_) {
    protocol::append_error_response(ready, *outbox_insert_error_);
    outbox_insert_error_.reset();
  } else if (outbox() && !unit.error && !wrapped_statement_failed_) {
    runtime_.journal().note_appended(identity_.database);
  }
  leave_journaled_transaction();
  protocol::append_ready_for_query(ready, protocol::txn_status::kIdle);
  const bool failed = static_cast<bool>(co_await client_.write_all(ready));
  co_return !failed;
}

asio::awaitable<bool> ClientSession::on_client_unit_reply(const protocol::Frame& frame,
                                                          PrimaryUnit& unit,
                                                          config::Strategy strategy) {
  // if/else, not a switch: GCC 12 miscompiles co_await inside switch
  // cases (see ClientSession::negotiate_startup).
  if (frame.type == protocol::backend::kErrorResponse) {
    unit.error = true;
    // The server skips the rest of the batch: its Describes get no answer.
    const UnitId failed = unit.id;
    std::erase_if(parameter_trims_, [&](const ParameterTrim& t) { return t.unit == failed; });
  } else if (frame.type == protocol::backend::kParameterDescription && !parameter_trims_.empty()) {
    const auto keep = parameter_trims_.front().keep;
    parameter_trims_.pop_front();
    // A rewritten statement: the client sees only its own parameters.
    if (keep) {
      const bool relayed = co_await forward_trimmed_parameters(frame, *keep);
      co_return relayed;
    }
  } else if (frame.type == protocol::backend::kEmptyQuery) {
    ++unit.completed;
  } else if (frame.type == protocol::backend::kCommandComplete) {
    ++unit.completed;
    // Also while a transaction is captured: its last tag says whether it committed.
    if (unit.route != routing::UnitRoute::primary_only || capturing_) {
      if (auto tag = protocol::parse_command_complete(frame.payload))
        unit.command_tags.push_back(*tag);
    }
  } else if (frame.type == protocol::backend::kReadyForQuery) {
    const bool relayed = co_await on_client_ready_for_query(frame, unit, strategy);
    co_return relayed;
  }
  co_return true;
}

asio::awaitable<bool> ClientSession::forward_trimmed_parameters(const protocol::Frame& frame,
                                                                std::size_t keep) {
  auto trimmed = routing::trimmed_parameter_description(frame.payload, keep);
  if (!trimmed) co_return true;
  auto& reader = primary_->reader();
  auto before = reader.take_raw_before_last();
  if (!before.empty()) {
    const auto failed = co_await client_.write_all(before);
    if (failed) co_return false;
  }
  reader.take_raw();
  const bool failed = static_cast<bool>(co_await client_.write_all(*trimmed));
  co_return !failed;
}

asio::awaitable<bool> ClientSession::on_client_ready_for_query(const protocol::Frame& frame,
                                                               PrimaryUnit& unit,
                                                               config::Strategy strategy) {
  const TxnStatus tx = protocol::txn_status_from_byte(
      protocol::parse_ready_for_query(frame.payload).value_or(protocol::txn_status::kIdle));
  if (unit.origin == UnitOrigin::client_wrapped) {
    // pgdual's BEGIN made the primary report a transaction; the client sent an autocommit
    // statement, and hears idle once pgdual's COMMIT is done.
    const bool forwarded = co_await forward_replies_before_ready();
    if (!forwarded) co_return false;
    wrapped_statement_failed_ = unit.error;
    co_await finish_primary_unit(TxnStatus::idle);
    co_return true;
  }
  // A unit that ends with the primary idle committed (or rolled back) something: under sync
  // its ReadyForQuery waits for the secondary; under cdc.wait: commit for the new store's
  // replication.
  const bool waits_for_cdc = unit.cdc_wait && tx == TxnStatus::idle && !unit.error;
  if (!routing::ready_for_query_waits(strategy, unit.mirrored(), tx, secondary_usable()) &&
      !waits_for_cdc) {
    co_await finish_primary_unit(tx);
    co_return true;
  }
  const bool forwarded = co_await forward_replies_before_ready();
  if (!forwarded) co_return false;
  defer_write_latency_ = waits_for_cdc;  // the client's wait includes the commit wait below
  co_await finish_primary_unit(tx);
  std::string ready;
  if (waits_for_cdc) ready = co_await wait_cdc_commit();
  record_deferred_write_latency();
  protocol::append_ready_for_query(ready, protocol::to_byte(primary_leg_.status()));
  const bool failed = static_cast<bool>(co_await client_.write_all(ready));
  co_return !failed;
}

asio::awaitable<bool> ClientSession::forward_replies_before_ready() {
  // The unit's replies reach the client now; its ReadyForQuery is held back.
  auto raw = primary_->reader().take_raw();
  raw.remove_suffix(kReadyForQuerySize);
  runtime_.metrics().client_bytes_sent().Increment(static_cast<double>(raw.size()));
  if (!raw.empty()) {
    const auto failed = co_await client_.write_all(raw);
    if (failed) co_return false;
  }
  co_return true;
}

}  // namespace pgdual::proxy
