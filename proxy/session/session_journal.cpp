// The session's side of the replay journal and the outbox (docs/journal.md).
//
// Every transaction the phase mirrors is captured as the secondary gets it
// (rewritten frames, COPY data) from its first mirrored unit to its end.
//   - Sent directly: once the primary committed it, it waits in
//     unconfirmed_ until the secondary has applied it. If the secondary
//     refused part of it, broke, or overflowed, it goes to the journal.
//   - Journaled (the journal gate is open, the secondary is unreachable, or
//     strategy outbox): nothing reaches the secondary; when the primary
//     committed it, its record goes to the journal before the client has its
//     ReadyForQuery.
//   - Outbox: the record is inserted on the primary inside the transaction,
//     just before the client's COMMIT, so it commits atomically with the
//     writes; an autocommit write is wrapped in pgdual's own BEGIN ... COMMIT
//     for the same reason (the client sees an autocommit statement).

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "journal/relay/replay_policy.hpp"
#include "metrics/journal_metrics.hpp"
#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

// Journal appends this session waits for (the client's ReadyForQuery waits
// until they are durable). Shared with the service's callbacks, which may run
// after the session is gone.
struct ClientSession::AppendTracker {
  explicit AppendTracker(asio::any_io_executor executor)
      : executor(executor), signal(executor, asio::steady_timer::time_point::max()) {}
  asio::any_io_executor executor;
  asio::steady_timer signal;
  std::size_t in_flight = 0;
};

namespace {

bool has_transaction_control(const routing::UnitFacts& facts) {
  for (const auto* statement : facts.statements) {
    if (statement->transaction != routing::TransactionAction::none) return true;
    if (statement->kind == routing::StatementKind::ddl)
      return true;  // may refuse a transaction block
  }
  return false;
}

}  // namespace

bool ClientSession::journal_enabled() const {
  return config_->config.migration.journal.enabled && roles_.secondary.has_value();
}

bool ClientSession::journal_mode() const {
  return journal_enabled() && (outbox() || runtime_.journal().gate_active(identity_.database));
}

bool ClientSession::capture_unit(const PrimaryUnit& unit, bool transaction_start) {
  if (!capturing_ || transaction_start) {
    // A transaction's first mirrored unit (a capture still open here belonged to a
    // transaction whose end the primary never reported: it is replaced).
    open_capture_ = TransactionCapture{};
    open_capture_.first_unit = unit.id;
    open_capture_.session_state = replay_settings();
    // What the session had set up when the transaction began: the replay
    // recreates it first.
    for_each_frame(secondary_state_replay(), [&](const protocol::Frame& frame) {
      if (frame.type == protocol::frontend::kParse) {
        open_capture_.state_parses.append(reinterpret_cast<const char*>(frame.payload.data()) - 5,
                                          frame.size);
      } else if (frame.type == protocol::frontend::kQuery && !frame.payload.empty()) {
        open_capture_.session_state.emplace_back(
            reinterpret_cast<const char*>(frame.payload.data()), frame.payload.size() - 1);
      }
    });
    capturing_ = true;
    journaling_tx_ =
        outbox() || runtime_.journal().gate_active(identity_.database) || !secondary_usable();
    if (journaling_tx_ && !outbox() && !entered_journal_gate_) {
      runtime_.journal().enter_journaled(identity_.database);
      entered_journal_gate_ = true;
    }
    if (journaling_tx_) {
      open_capture_.reason = outbox()             ? "outbox"
                             : secondary_usable() ? "queued behind the journal"
                                                  : "secondary unavailable";
    }
  }
  open_capture_.append_unit(unit.id, secondary_unit_bytes_);
  open_capture_.last_unit = unit.id;
  open_capture_.has_write = open_capture_.has_write || unit.is_write;
  for (const auto& table : unit.tables) open_capture_.tables.push_back(table);
  return journaling_tx_;
}

std::vector<std::string> ClientSession::replay_settings() const {
  // The settings that change how the server reads the statements' text and values, as this
  // session has them (its startup parameters and `options`, as the primary reported them), so
  // the relay's own connection reads a replayed timestamp, string or name the same way. The
  // session's own SET statements follow them in the record.
  std::vector<std::string> settings;
  for (const auto& [name, value] : primary_->parameter_status()) {
    if (name == "client_encoding" || name == "DateStyle" || name == "TimeZone" ||
        name == "IntervalStyle" || name == "standard_conforming_strings") {
      settings.push_back("SET " + name + " TO " + text::quote_literal(value));
    }
  }
  if (search_path_known_) {
    std::string path;
    for (const auto& schema : search_path_) {
      path += (path.empty() ? "" : ", ") + text::quote_identifier(schema);
    }
    settings.push_back("SET search_path TO " + (path.empty() ? std::string("''") : path));
  }
  return settings;
}

void ClientSession::outbox_in_band(PrimaryUnit& unit, TxnStatus status_before) {
  // Called right after capture_unit for a journaled unit under outbox. The
  // unit's bytes are still in primary_out_ from unit_start_ unless part of
  // them went out already.
  if (!outbox() || !journaling_tx_ || unit_bytes_flushed_) return;
  const auto& facts = units_->facts();
  const bool commit = unit.decision.is_commit && status_before != TxnStatus::idle;
  // Not a COPY: its data arrives after the unit, so its record cannot be written ahead of the
  // wrapper's COMMIT (it is appended after the commit instead).
  const bool autocommit_write = status_before == TxnStatus::idle &&
                                unit.decision.ends_transaction == false &&
                                predicted_status_ == TxnStatus::idle && unit.is_write &&
                                !has_transaction_control(facts) && !unit_runs_copy();
  if (commit && !open_capture_.has_write) return;
  if (!commit && !autocommit_write) return;
  auto record = journal_record(open_capture_);
  if (!record) return;  // counted for reconciliation; the end of the transaction appends nothing
  const std::string insert = runtime_.journal().insert_sql(*record);

  PrimaryUnit marker;
  marker.sent = Clock::now();
  marker.origin = UnitOrigin::journal_insert;
  if (commit) {
    // Before the client's COMMIT: the record commits with the transaction.
    std::string tail = primary_out_.substr(unit_start_);
    primary_out_.resize(unit_start_);
    primary_out_.append(protocol::query_message(insert));
    primary_out_.append(tail);
    primary_leg_.insert_before_newest(std::move(marker));
  } else {
    // BEGIN; <the client's statement>; INSERT; COMMIT. The client's
    // ReadyForQuery waits for that COMMIT.
    PrimaryUnit begin;
    begin.sent = Clock::now();
    begin.origin = UnitOrigin::wrapper_begin;
    primary_out_.insert(unit_start_, protocol::query_message("BEGIN"));
    primary_leg_.insert_before_newest(std::move(begin));
    primary_leg_.newest().origin = UnitOrigin::client_wrapped;
    primary_out_.append(protocol::query_message(insert));
    marker.origin = UnitOrigin::wrapper_insert;
    primary_leg_.append(std::move(marker));
    PrimaryUnit commit_unit;
    commit_unit.sent = Clock::now();
    commit_unit.origin = UnitOrigin::wrapper_commit;
    primary_out_.append(protocol::query_message("COMMIT"));
    primary_leg_.append(std::move(commit_unit));
  }
  open_capture_.in_band = true;
}

std::optional<journal::JournalRecord> ClientSession::journal_record(
    const TransactionCapture& capture) {
  if (capture.oversize) {
    runtime_.metrics().journal().count_reconciliation(identity_.database, capture.tables);
    spdlog::error(
        "a transaction cannot be journaled (larger than the journal's {} MiB record limit): "
        "tables [{}] need reconciliation",
        TransactionCapture::kMaxBytes >> 20, fmt::join(capture.tables, ","));
    return std::nullopt;
  }
  journal::JournalRecordBuilder builder;
  for_each_frame(capture.state_parses, [&](const protocol::Frame& frame) { builder.add(frame); });
  for_each_frame(capture.bytes, [&](const protocol::Frame& frame) { builder.add(frame); });
  if (builder.failed()) {
    runtime_.metrics().journal().count_reconciliation(identity_.database, capture.tables);
    spdlog::error("a transaction cannot be journaled ({}): tables [{}] need reconciliation",
                  builder.error(), fmt::join(capture.tables, ","));
    return std::nullopt;
  }
  journal::JournalRecord record = builder.take();
  record.instance = runtime_.journal().instance();
  record.session = cancel_key_ ? cancel_key_->process_id : 0;
  record.created_at = std::chrono::system_clock::now();
  record.reason = capture.reason;
  record.sqlstate = capture.sqlstate;
  record.session_state = capture.session_state;
  record.tables = capture.tables;
  std::sort(record.tables.begin(), record.tables.end());
  record.tables.erase(std::unique(record.tables.begin(), record.tables.end()), record.tables.end());
  record.database = identity_.database;
  record.marker = replay_marker(capture);
  return record;
}

void ClientSession::journal_capture(TransactionCapture capture, std::string reason) {
  if (capture.reason.empty() || capture.reason == "queued behind the journal")
    capture.reason = std::move(reason);
  auto record = journal_record(capture);
  if (!record) return;
  if (!appends_) appends_ = std::make_shared<AppendTracker>(client_.socket().get_executor());
  auto tracker = appends_;
  ++tracker->in_flight;
  const bool log_values = config_->config.log.log_parameters;
  spdlog::warn("write not applied on the secondary ({}): journaled; tables=[{}]{}", capture.reason,
               fmt::join(record->tables, ","),
               log_values && !record->statements.empty()
                   ? " first statement: " + record->statements.front().sql.substr(0, 300)
                   : "");
  runtime_.journal().append(identity_.database, std::move(*record),
                            [tracker, tables = capture.tables](bool ok, const std::string& error) {
                              if (!ok) {
                                spdlog::error(
                                    "journal append failed ({}): tables [{}] need reconciliation",
                                    error, fmt::join(tables, ","));
                              }
                              asio::post(tracker->executor, [tracker] {
                                --tracker->in_flight;
                                tracker->signal.cancel();
                              });
                            });
}

void ClientSession::announce_async_write(const PrimaryUnit& unit) {
  // Strategy async acknowledges before the secondary has the write: the tables written that
  // way are recorded (once per process) before the acknowledgement, so a crash that loses
  // the in-memory queue names them at the next start (docs/journal.md).
  if (!appends_) appends_ = std::make_shared<AppendTracker>(client_.socket().get_executor());
  auto tracker = appends_;
  const bool known = runtime_.journal().announce_async_tables(
      identity_.database, unit.tables, [tracker](bool ok, const std::string& error) {
        if (!ok)
          spdlog::error("journal: could not record the tables written under async: {}", error);
        asio::post(tracker->executor, [tracker] {
          --tracker->in_flight;
          tracker->signal.cancel();
        });
      });
  if (!known) ++tracker->in_flight;
}

asio::awaitable<void> ClientSession::wait_journal_appends() {
  if (!appends_) co_return;
  auto tracker = appends_;
  while (tracker->in_flight > 0) {
    tracker->signal.expires_at(asio::steady_timer::time_point::max());
    co_await tracker->signal.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void ClientSession::leave_journaled_transaction() {
  if (entered_journal_gate_) {
    runtime_.journal().leave_journaled(identity_.database);
    entered_journal_gate_ = false;
  }
}

asio::awaitable<void> ClientSession::end_capture(const PrimaryUnit& unit, bool committed) {
  // The transaction the capture holds ended on the primary with this unit.
  capturing_ = false;
  auto capture = std::move(open_capture_);
  open_capture_ = TransactionCapture{};
  capture.last_unit = unit.id;
  const bool journaled = journaling_tx_;
  journaling_tx_ = false;
  if (committed && capture.has_write) {
    if (capture.in_band) {
      if (unit.origin != UnitOrigin::client_wrapped)
        runtime_.journal().note_appended(identity_.database);
    } else if (journaled || !unit.mirrored() || !secondary_usable()) {
      journal_capture(std::move(capture),
                      secondary_usable() ? "queued behind the journal" : "secondary unavailable");
    } else {
      unconfirmed_.push_back(std::move(capture));
    }
  }
  if (unit.origin != UnitOrigin::client_wrapped) {
    co_await wait_journal_appends();
    leave_journaled_transaction();
  }
}

void ClientSession::mark_capture_failed(UnitId unit, const std::string& reason,
                                        const std::string& sqlstate) {
  auto mark = [&](TransactionCapture& capture) {
    if (!capture.failed) {
      capture.failed = true;
      capture.reason = reason;
      capture.sqlstate = sqlstate;
    }
  };
  if (capturing_ && unit >= open_capture_.first_unit) {
    mark(open_capture_);
    return;
  }
  for (auto& capture : unconfirmed_) {
    if (unit >= capture.first_unit && unit <= capture.last_unit) mark(capture);
  }
}

void ClientSession::ask_secondary_xid(UnitId commit_unit) {
  // Just before the secondary's COMMIT, in its transaction: a cheap query, pipelined (nobody
  // waits for it). Only transactions that wrote need it. It carries the COMMIT's unit id: the
  // leg's waits compare ids at the head of its queue, so an entry with a later id ahead of the
  // COMMIT would let a wait for the COMMIT end before the COMMIT was answered.
  // Not in a transaction the secondary already refused: the query would only fail there.
  if (!open_capture_.has_write || open_capture_.secondary_xid || open_capture_.failed ||
      transaction_secondary_error_) {
    return;
  }
  open_capture_.secondary_xid = std::make_shared<shadow::ResultCapture>();
  secondary_->enqueue(commit_unit, EntryPurpose::control,
                      protocol::query_message("SELECT pg_catalog.pg_current_xact_id()"), true,
                      open_capture_.secondary_xid);
}

std::string ClientSession::replay_marker(const TransactionCapture& capture) const {
  // How a replay knows whether the direct write already committed on the secondary
  // (docs/journal.md, "Idempotency"): nothing reached it, or it was refused (the secondary
  // rolled it back): replay. An explicit transaction with a known secondary transaction id:
  // the relay asks pg_xact_status. Otherwise the outcome is unknown: never replayed.
  if (!capture.sent_to_secondary || !capture.outcome_unknown) return {};
  if (capture.secondary_xid) {
    const auto& sets = capture.secondary_xid->result_sets();
    if (sets.size() == 1 && sets.front().rows.size() == 1 &&
        !sets.front().rows.front().values.empty() && sets.front().rows.front().values.front()) {
      return "xid:" + *sets.front().rows.front().values.front();
    }
  }
  return "unknown";
}

void ClientSession::resolve_unconfirmed(UnitId unit) {
  // The secondary has answered through `unit`: transactions that end there
  // or before are settled; the failed ones go to the journal.
  while (!unconfirmed_.empty() && unconfirmed_.front().last_unit <= unit) {
    auto capture = std::move(unconfirmed_.front());
    unconfirmed_.pop_front();
    if (capture.failed) journal_capture(std::move(capture), "secondary rejected");
  }
}

void ClientSession::journal_unconfirmed(const std::string& reason) {
  // The leg broke: a transaction whose last unit was on the wire may have committed there.
  while (!unconfirmed_.empty()) {
    auto capture = std::move(unconfirmed_.front());
    unconfirmed_.pop_front();
    capture.outcome_unknown = secondary_ && secondary_->sent_unanswered(capture.last_unit);
    journal_capture(std::move(capture), reason);
  }
  if (capturing_) mark_capture_failed(open_capture_.first_unit, reason, "");
}

std::string ClientSession::on_journal_statement_error(PrimaryUnit& unit,
                                                      std::span<const std::uint8_t> payload) {
  unit.error = true;
  if (!is_journal_insert(unit.origin))
    return {};  // the wrapper's COMMIT: its error goes to the client as it is
  auto fields = protocol::parse_error_fields(payload);
  const std::string sqlstate = fields ? fields->sqlstate : "";
  if (sqlstate == "25P02") return {};  // the client's own statement failed first: nothing to record
  runtime_.metrics().journal().count_append(false);
  spdlog::error(
      "outbox: the journal INSERT failed on the primary ({} {}); the transaction is rolled back",
      sqlstate, fields ? fields->message : "");
  auto error = fields.value_or(protocol::make_error("XX000", "journal insert failed"));
  error.message = "pgdual could not record this transaction in its outbox, so it is rolled back: " +
                  error.message;
  if (!wrapped_statement_failed_ && unit.origin == UnitOrigin::wrapper_insert) {
    // An autocommit statement: the client hears an error before its ReadyForQuery.
    error.severity = "ERROR";
    outbox_insert_error_ = error;
    return {};
  }
  // The client's COMMIT answers ROLLBACK; a WARNING says why.
  error.severity = "WARNING";
  std::string notice;
  protocol::append_notice_response(notice, error);
  return notice;
}

}  // namespace pgdual::proxy
