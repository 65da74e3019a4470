// The data path of a client session: client -> primary (+ secondary per the
// migration phase), primary -> client, and the secondary's replies, which are
// consumed for comparison and never forwarded.

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/constants.hpp"
#include "proxy/session/classifier_context.hpp"
#include "proxy/session/client_session.hpp"
#include "routing/rewrite/messages.hpp"
#include "routing/sync_wait.hpp"
#include "routing/transaction_status_prediction.hpp"
#include "routing/unit_settlement.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using protocol::TxnStatus;
using routing::MirrorMode;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadyForQuerySize = 6;  // 'Z', int32 length 5, status byte
constexpr auto kMaxSecondaryBackoff = std::chrono::milliseconds(30000);
constexpr std::size_t kMaxHeldUnitBytes = 1 << 20;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string_view raw_frame(const protocol::Frame& frame) {
  // A regular frame is its type byte and length word followed by the payload.
  return {reinterpret_cast<const char*>(frame.payload.data()) - 5, frame.size};
}

QueryKind metric_kind(const routing::UnitFacts& facts) {
  if (facts.parse_failed) return QueryKind::unknown;
  if (facts.statements.empty()) return QueryKind::other;
  using routing::StatementKind;
  StatementKind strongest = StatementKind::read;
  auto rank = [](StatementKind kind) {
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
  };
  for (const auto* statement : facts.statements) {
    if (rank(statement->kind) > rank(strongest)) strongest = statement->kind;
  }
  switch (strongest) {
    case StatementKind::read:
      return QueryKind::read;
    case StatementKind::write:
      return QueryKind::write;
    case StatementKind::ddl:
      return QueryKind::ddl;
    case StatementKind::transaction:
      return QueryKind::transaction;
    case StatementKind::session:
      return QueryKind::session;
    case StatementKind::other:
      return QueryKind::other;
  }
  return QueryKind::unknown;
}

}  // namespace

asio::awaitable<void> ClientSession::relay() {
  auto& cache = worker_classification_cache(*config_);
  units_ = std::make_unique<routing::UnitBuilder>(cache, config_->classifier_options);
  shadow_timer_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  primary_progress_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  for (;;) {
    reconfigure_ = false;
    // The pumps run together; when one ends (client gone, backend gone,
    // Terminate, or a phase change that swaps connections) the others are
    // cancelled. A reconfiguration happens only while idle, so nothing is in
    // flight when the pumps restart.
    co_await (pump_client() || pump_primary() || pump_secondary() || shadow_watchdog());
    if (shadow_cancelling_ && secondary_) {
      // The watchdog was stopped in the middle of a cancel (the client left).
      shadow_cancelling_ = false;
      secondary_->hold_for_cancel(false);
    }
    if (!reconfigure_) co_return;
    if (catalog_refresh_pending_) {
      catalog_refresh_pending_ = false;
      co_await load_catalog();
      if (!pending_client_bytes_.empty()) {
        const std::string bytes = std::move(pending_client_bytes_);
        pending_client_bytes_.clear();
        if (co_await client_.write_all(bytes)) co_return;
      }
    }
  }
}

asio::awaitable<bool> ClientSession::refresh_phase_at_boundary() {
  // Only between transactions, with nothing in flight: a reload never
  // changes the rules under an open transaction (invariant 12).
  auto latest = runtime_.config();
  const bool config_changed = latest != config_;
  if (config_changed) {
    config_ = std::move(latest);
    worker_classification_cache(*config_);  // clears it if the classifier options changed
    units_->set_options(config_->classifier_options);
    client_reader_.set_max_message_size(config_->config.limits.max_message_size);
  }
  const auto& migration = config_->config.migration;
  phase_ = routing::session_phase(migration, identity_);
  auto roles = routing::roles_for(phase_, migration.keep_old_in_sync);
  bool changed = false;

  if (secondary_ && secondary_missed_units_ && !journal_mode() && secondary_->outstanding() == 0) {
    // The leg stayed open while writes went through the journal, so it lacks what those
    // units prepared: a fresh connection gets the session's state replayed instead.
    drop_secondary();
    next_secondary_attempt_ = Clock::now();
    changed = true;
  }

  if (roles.primary != roles_.primary) {
    // Cutover (or its rollback): the other store becomes primary. A leg that followed every
    // write holds the same session state; one that missed units (they went through the
    // journal) or none at all (outbox) is replaced by a fresh connection with the state
    // replayed.
    if (secondary_ && secondary_missed_units_ && secondary_->outstanding() == 0) drop_secondary();
    if (!secondary_usable()) {
      // Open one now; the switch happens at a later boundary, once the new connection has
      // the session's state (its replay runs when the pumps restart).
      if (co_await connect_secondary(roles.primary)) co_return true;
      spdlog::warn(
          "phase {} wants the other store as primary, but this session has no healthy "
          "connection to it; the switch waits",
          config::to_string(phase_));
      co_return changed;
    }
    if (secondary_missed_units_ || secondary_->outstanding() != 0) co_return changed;
    auto old_primary = std::move(primary_);
    primary_ = std::unique_ptr<BackendConnection>(secondary_->release_connection());
    secondary_ = std::make_unique<SecondaryLeg>(std::move(old_primary));
    roles_ = roles;
    if (!roles_.secondary || (outbox() && migration.journal.enabled)) drop_secondary();
    register_cancel_targets();
    catalog_generation_ = 0;  // the new primary's catalog entry is looked up at the next boundary
    spdlog::info("session switched primary to the {} store (phase {})",
                 roles_.primary == routing::Store::old_store ? "old" : "new",
                 config::to_string(phase_));
    co_return true;
  }
  roles_ = roles;

  if (!roles_.secondary || (outbox() && migration.journal.enabled)) {
    if (secondary_) {
      // Rolled back to a phase without a secondary (or outbox: the relay writes it): stop
      // writing it from this session.
      drop_secondary();
      co_return true;
    }
    co_return changed;
  }
  if (secondary_usable() || Clock::now() < next_secondary_attempt_ || journal_mode())
    co_return changed;
  co_return co_await connect_secondary(*roles_.secondary) || changed;
}

void ClientSession::drop_secondary() {
  if (!secondary_) return;
  secondary_->mark_broken("closed by pgdual");
  secondary_->take_failure_report();  // not a failure of the secondary
  runtime_.metrics().backend(secondary_->connection().role()).connections->Decrement();
  secondary_->connection().stream().close();
  secondary_.reset();
  secondary_missed_units_ = false;
  register_cancel_targets();
}

asio::awaitable<bool> ClientSession::connect_secondary(routing::Store store) {
  // (Re)connect the secondary, with backoff while it stays down.
  BackendFailure failure;
  auto connection = co_await open_backend(store, failure);
  if (!connection) {
    runtime_.metrics().secondary_failures(SecondaryFailure::connect).Increment();
    secondary_backoff_ = std::min(
        kMaxSecondaryBackoff, std::max(std::chrono::milliseconds(1000), secondary_backoff_ * 2));
    next_secondary_attempt_ = Clock::now() + secondary_backoff_;
    spdlog::warn("secondary still unavailable (next attempt in {} ms): {}",
                 secondary_backoff_.count(),
                 failure.server_error ? failure.server_error->message : failure.reason);
    co_return false;
  }
  if (secondary_)
    runtime_.metrics().backend(secondary_->connection().role()).connections->Decrement();
  secondary_ = std::make_unique<SecondaryLeg>(std::move(connection));
  secondary_missed_units_ = false;
  secondary_backoff_ = std::chrono::milliseconds(0);
  if (auto replay = units_->session_state_replay(); !replay.empty()) {
    // A new connection mid-session: give it the session's prepared
    // statements and settings before any unit that refers to them.
    secondary_->enqueue(next_unit_++, EntryPurpose::control, std::move(replay), true);
  }
  register_cancel_targets();
  spdlog::info("secondary connection (re)established");
  co_return true;
}

asio::awaitable<void> ClientSession::pump_client() {
  auto& metrics = runtime_.metrics();
  for (;;) {
    auto status = co_await client_reader_.fill();
    // Between transactions, with nothing in flight, the session takes the
    // configuration in force (a reload never splits a transaction).
    if (status == FrameReader::Status::ok && idle() && predicted_status_ == TxnStatus::idle &&
        !unit_open_ && !shadow_cancelling_) {
      if (co_await refresh_phase_at_boundary()) {
        reconfigure_ = true;
        co_return;
      }
      if (catalog_refresh_due()) {
        catalog_refresh_pending_ = true;
        reconfigure_ = true;
        co_return;
      }
    }
    bool terminate = false;
    // The secondary's bytes are collected for the secondary and for the journal's capture.
    const bool mirroring = secondary_usable() || journal_enabled();
    const bool shadow_aa = config_->config.migration.shadow_read.mode == config::ShadowMode::aa &&
                           phase_ == config::Phase::shadow_read;
    units_->set_reject_ddl((secondary_usable() || journal_enabled()) &&
                               config_->config.migration.ddl == config::DdlPolicy::reject,
                           "DDL is not allowed during the migration (migration.ddl is \"reject\")");
    const bool rewriting =
        (secondary_usable() || journal_enabled()) && config_->config.migration.rewrite;
    while (auto frame = client_reader_.next()) {
      const auto role = units_->add(*frame);
      const auto raw = raw_frame(*frame);
      const bool opens_unit =
          (role == routing::FrameRole::part || role == routing::FrameRole::terminator) &&
          !unit_open_;
      if (opens_unit) {
        // The unit is tracked from its first message: the primary may answer
        // (an error after a Flush) before the client's Sync completes it.
        unit_open_ = true;
        unit_bytes_flushed_ = false;
        unit_has_flush_ = false;
        unit_start_ = primary_out_.size();
        PrimaryUnit opened;
        opened.id = next_unit_++;
        opened.sent = Clock::now();
        primary_units_.push_back(std::move(opened));
      }
      if (frame->type == protocol::frontend::kFlush) unit_has_flush_ = true;
      std::optional<std::string> rewritten;
      if (rewriting && !units_->replacement() && predicted_status_ != TxnStatus::failed) {
        if (frame->type == protocol::frontend::kQuery ||
            frame->type == protocol::frontend::kParse) {
          rewritten = co_await rewrite_frame(*frame);
        } else if (frame->type == protocol::frontend::kBind) {
          rewritten = co_await rewrite_bind(*frame);
        }
      }
      track_rewritten_statements(*frame);
      if (units_->replacement()) {
        primary_out_.append(*units_->replacement());
      } else if (rewritten) {
        primary_out_.append(*rewritten);
      } else {
        primary_out_.append(raw);
      }
      if (role == routing::FrameRole::terminate) {
        terminate = true;
        break;
      }
      if (role == routing::FrameRole::copy_data) {
        if (secondary_usable() && copy_route_.second != MirrorMode::none) {
          co_await secondary_->append_to_unit(copy_route_.first, raw);
        }
        if (copy_captured_ && capturing_) open_capture_.bytes.append(raw);
        continue;
      }
      if (mirroring) secondary_unit_bytes_.append(rewritten ? std::string_view(*rewritten) : raw);
      if (shadow_aa) shadow_aa_bytes_.append(raw);
      if (role != routing::FrameRole::terminator) continue;
      const TxnStatus status_before = predicted_status_;
      dispatch_unit();
      unit_open_ = false;
      if (predicted_status_ == TxnStatus::idle) {
        // The transaction ends with this unit: its timestamp is not the next one's.
        transaction_timestamp_.reset();
        transaction_timestamp_request_.reset();
      }
      if (rewriting && status_before == TxnStatus::idle &&
          predicted_status_ == TxnStatus::in_transaction)
        request_transaction_timestamp();
      if (catch_up_for_) {
        // A COMMIT: what came before it goes out first, then the secondary
        // must catch up before the primary may commit.
        const UnitId commit_unit = *catch_up_for_;
        catch_up_for_.reset();
        std::string commit_bytes = primary_out_.substr(unit_start_);
        primary_out_.resize(unit_start_);
        if (!primary_out_.empty()) {
          if (co_await primary_->stream().write_all(primary_out_)) co_return;
          primary_out_.clear();
        }
        if (secondary_usable()) co_await secondary_->flush();
        if (!co_await catch_up_before_commit(commit_unit)) co_return;
        primary_out_.append(commit_bytes);
      }
      if (!serialize_locks_.empty() && predicted_status_ == TxnStatus::idle) {
        if (!co_await release_serialize_locks()) co_return;
      }
    }
    client_reader_.take_raw();
    // While rewriting, an open extended batch waits for the rest of itself (the server answers
    // nothing before its Sync or Flush anyway), so that pgdual can still ask the primary for
    // rewrite values ahead of it; a batch with a Flush or a COPY, or a very large one, goes out
    // as it is.
    std::string held;
    if (unit_open_ && rewriting && !unit_has_flush_ && !unit_runs_copy() &&
        unit_start_ <= primary_out_.size() &&
        primary_out_.size() - unit_start_ <= kMaxHeldUnitBytes) {
      held = primary_out_.substr(unit_start_);
      primary_out_.resize(unit_start_);
    } else if (unit_open_) {
      unit_bytes_flushed_ = true;
    }
    if (!primary_out_.empty()) {
      metrics.client_bytes_received().Increment(static_cast<double>(primary_out_.size()));
      metrics.backend(primary_->role())
          .bytes_sent->Increment(static_cast<double>(primary_out_.size()));
      auto ec = co_await primary_->stream().write_all(primary_out_);
      primary_out_.clear();
      if (ec) co_return;
    }
    primary_out_ = std::move(held);
    unit_start_ = 0;
    if (secondary_usable()) co_await secondary_->flush();
    if (terminate) co_return;
    if (status != FrameReader::Status::ok || !client_reader_.error().empty()) break;
  }
  if (!client_reader_.error().empty()) {
    // Framing is lost: end this session only, with PostgreSQL's error.
    const bool oversize = client_reader_.error().find("exceeds") != std::string::npos;
    metrics
        .protocol_errors(oversize ? ProtocolErrorReason::oversize
                                  : ProtocolErrorReason::unknown_message)
        .Increment();
    spdlog::warn("closing client session: {}", client_reader_.error());
    {
      const std::string message = client_reader_.error();
      const std::string_view sqlstate = oversize ? "54000" : "08P01";
      co_await send_fatal(sqlstate, message);
    }
  }
}

void ClientSession::dispatch_unit() {
  auto& metrics = runtime_.metrics();
  const auto& facts = units_->facts();
  const QueryKind kind = metric_kind(facts);
  PrimaryUnit& unit = primary_units_.back();  // opened at the unit's first message
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
  metrics.backend(primary_->role()).queries(kind).Increment();
  if (secondary_ || roles_.secondary) {
    unit.decision = routing::decide_mirror(facts, protocol::to_byte(predicted_status_),
                                           config_->config.migration, phase_, name_context());
    if (unit.decision.mode == MirrorMode::reject) unit.decision.mode = MirrorMode::none;
    if (unit.decision.write_by_function) unit.is_write = true;
  }
  if (facts.parse_failed) metrics.parse_failures().Increment();

  const MirrorMode mode = unit.decision.mode;
  const auto& migration = config_->config.migration;
  const TxnStatus status_before = predicted_status_;
  const bool capture = mode == MirrorMode::follow && journal_enabled();
  const bool journaling = capture && capture_unit(unit, status_before == TxnStatus::idle);
  if (mode == MirrorMode::follow && secondary_usable() &&
      migration.strategy == config::Strategy::async &&
      secondary_->outstanding() >= migration.async_queue_capacity) {
    // The secondary cannot keep up: rather than grow without bound, detach
    // it (its server rolls back what was open) and record what it missed.
    metrics.async_queue_overflow().Increment();
    spdlog::warn("async queue full ({} units): detaching the secondary from this session",
                 migration.async_queue_capacity);
    secondary_->mark_broken("async queue full");
    on_secondary_broken();
  }
  unit.route = routing::route_unit(mode, journaling, secondary_usable());
  if (unit.route == routing::UnitRoute::journaled) {
    // The journal has it; the secondary gets it from the relay.
    if (secondary_) secondary_missed_units_ = true;
    metrics.routing_decisions(RoutingDecision::both).Increment();
  } else if (unit.mirrored()) {
    if (capture) {
      open_capture_.sent_to_secondary = true;
      if (unit.decision.is_commit && status_before != TxnStatus::idle) ask_secondary_xid(unit.id);
    }
    // Held until the primary has executed it (see routing/phase_rules.hpp).
    secondary_->enqueue(unit.id, EntryPurpose::body, std::move(secondary_unit_bytes_), false);
    metrics.routing_decisions(RoutingDecision::both).Increment();
    metrics.backend(secondary_->connection().role()).queries(kind).Increment();
    if (routing::commit_waits_for_catch_up(migration.strategy, unit.decision))
      catch_up_for_ = unit.id;
    if (capture && migration.strategy == config::Strategy::async && !unit.tables.empty()) {
      announce_async_write(unit);
    }
  } else {
    metrics
        .routing_decisions(roles_.primary == routing::Store::old_store ? RoutingDecision::old_only
                                                                       : RoutingDecision::new_only)
        .Increment();
    if (mode == MirrorMode::follow && unit.is_write && !capture) {
      // The phase wants this write on the secondary, which is unreachable.
      record_unmirrored_write("secondary unavailable", unit.text, unit.tables, "");
    }
  }
  if ((phase_ == config::Phase::shadow_read || !config_->config.migration.tables.empty()) &&
      !journal_mode()) {
    // Not while writes go through the journal: the secondary is behind.
    start_shadow(unit, facts);
  }
  secondary_unit_bytes_.clear();
  shadow_aa_bytes_.clear();
  copy_route_ = {unit.id, unit.mirrored() ? mode : MirrorMode::none};
  copy_captured_ = capture;
  predicted_status_ = routing::predict_transaction_status(facts, unit.decision, status_before);
  for (const auto& table : unit.tables) transaction_write_tables_.push_back(table);
  if (capture) outbox_in_band(unit, status_before);
  units_->reset();
}

bool ClientSession::unit_runs_copy() const {
  // COPY FROM STDIN waits for the server's CopyInResponse, which comes without a Sync: such a
  // batch must reach the server as it is.
  for (const auto* statement : units_->facts().statements) {
    if (statement->command == "COPY") return true;
  }
  return false;
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
    primary_units_.insert(primary_units_.end() - 1, std::move(abort_unit));
    if (co_await primary_->stream().write_all(abort)) co_return false;
    std::string notice;
    auto warning = error;
    warning.severity = "WARNING";
    warning.message =
        "pgdual: the secondary database rejected a write of this transaction, so it "
        "is rolled back: " +
        error.message;
    protocol::append_notice_response(notice, warning);
    co_await client_.write_all(notice);
  }
  co_return true;
}

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
      if (primary_units_.empty()) continue;  // notifications, notices between units
      auto& unit = primary_units_.front();
      if (unit.capture) unit.capture->on_message(frame->type, frame->payload);
      if (swallowed(unit.origin)) {
        // pgdual's own statement: forward what came before, drop its reply.
        auto before = reader.take_raw_before_last();
        if (!before.empty() && co_await client_.write_all(before)) co_return;
        auto own = reader.take_raw();
        if (frame->type == protocol::backend::kErrorResponse &&
            (is_journal_insert(unit.origin) || unit.origin == UnitOrigin::wrapper_commit)) {
          const std::string notice = on_journal_statement_error(unit, frame->payload);
          if (!notice.empty() && co_await client_.write_all(notice)) co_return;
          // The COMMIT of an outbox wrapper failed: the client's statement did not commit.
          if (unit.origin == UnitOrigin::wrapper_commit && co_await client_.write_all(own))
            co_return;
        }
        if (frame->type == protocol::backend::kReadyForQuery &&
            unit.origin == UnitOrigin::wrapper_commit) {
          // The wrapped autocommit statement is committed (or not) now: its ReadyForQuery.
          std::string ready;
          if (outbox_insert_error_) {
            protocol::append_error_response(ready, *outbox_insert_error_);
            outbox_insert_error_.reset();
          } else if (!unit.error && !wrapped_statement_failed_) {
            runtime_.journal().note_appended(identity_.database);
          }
          leave_journaled_transaction();
          protocol::append_ready_for_query(ready, protocol::txn_status::kIdle);
          if (co_await client_.write_all(ready)) co_return;
        }
        if (frame->type == protocol::backend::kReadyForQuery) {
          const UnitId shadowed = unit.shadow_of;
          const double seconds = seconds_since(unit.sent);
          if (unit.primary_values) {
            unit.primary_values->done = true;
            primary_progress_->cancel();
          }
          primary_units_.pop_front();
          if (shadowed != 0) on_shadow_side_done(shadowed, false, seconds);
        }
        continue;
      }
      // if/else, not a switch: GCC 12 miscompiles co_await inside switch
      // cases (see ClientSession::negotiate_startup).
      if (frame->type == protocol::backend::kErrorResponse) {
        unit.error = true;
        // The server skips the rest of the batch: its Describes get no answer.
        const UnitId failed = unit.id;
        std::erase_if(parameter_trims_, [&](const ParameterTrim& t) { return t.unit == failed; });
      } else if (frame->type == protocol::backend::kParameterDescription &&
                 !parameter_trims_.empty()) {
        const auto keep = parameter_trims_.front().keep;
        parameter_trims_.pop_front();
        if (keep) {
          // A rewritten statement: the client sees only its own parameters.
          auto trimmed = trimmed_parameter_description(frame->payload, *keep);
          if (trimmed) {
            auto before = reader.take_raw_before_last();
            if (!before.empty() && co_await client_.write_all(before)) co_return;
            reader.take_raw();
            if (co_await client_.write_all(*trimmed)) co_return;
          }
        }
      } else if (frame->type == protocol::backend::kCommandComplete) {
        // Also while a transaction is captured: its last tag says whether it committed.
        if (unit.route != routing::UnitRoute::primary_only || capturing_) {
          if (auto tag = protocol::parse_command_complete(frame->payload))
            unit.command_tags.push_back(*tag);
        }
      } else if (frame->type == protocol::backend::kReadyForQuery) {
        const TxnStatus tx = protocol::txn_status_from_byte(
            protocol::parse_ready_for_query(frame->payload).value_or(protocol::txn_status::kIdle));
        // A unit that ends with the primary idle committed (or rolled back)
        // something: under sync its ReadyForQuery waits for the secondary.
        const bool wait =
            routing::ready_for_query_waits(strategy, unit.mirrored(), tx, secondary_usable()) ||
            unit.origin == UnitOrigin::client_wrapped;
        if (unit.origin == UnitOrigin::client_wrapped) {
          // pgdual's BEGIN made the primary report a transaction; the client sent an autocommit
          // statement, and hears idle once pgdual's COMMIT is done.
          auto raw = reader.take_raw();
          raw.remove_suffix(kReadyForQuerySize);
          metrics.client_bytes_sent().Increment(static_cast<double>(raw.size()));
          if (!raw.empty() && co_await client_.write_all(raw)) co_return;
          wrapped_statement_failed_ = unit.error;
          co_await finish_primary_unit(TxnStatus::idle);
        } else if (!wait) {
          co_await finish_primary_unit(tx);
        } else {
          auto raw = reader.take_raw();
          raw.remove_suffix(kReadyForQuerySize);
          metrics.client_bytes_sent().Increment(static_cast<double>(raw.size()));
          if (!raw.empty() && co_await client_.write_all(raw)) co_return;
          co_await finish_primary_unit(tx);
          std::string ready;
          protocol::append_ready_for_query(ready, protocol::to_byte(transaction_status_));
          if (co_await client_.write_all(ready)) co_return;
        }
      }
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

asio::awaitable<void> ClientSession::finish_primary_unit(TxnStatus status) {
  auto& metrics = runtime_.metrics();
  auto unit = std::move(primary_units_.front());
  primary_units_.pop_front();
  primary_progress_->cancel();  // wakes release_serialize_locks
  const double primary_seconds = seconds_since(unit.sent);
  metrics.backend(primary_->role()).query_duration->Observe(primary_seconds);
  transaction_status_ = status;
  if (primary_units_.empty()) predicted_status_ = status;

  if (status == TxnStatus::idle && transaction_had_ddl_) {
    // Committed (or rolled back) DDL: functions and tables may have changed.
    transaction_had_ddl_ = false;
    runtime_.catalogs().mark_stale(catalog_key());
  }
  if (unit.capture) on_shadow_side_done(unit.id, true, primary_seconds);
  if (unit.is_write) {
    auto& primary_metrics = metrics.backend(primary_->role());
    (unit.error ? primary_metrics.writes_error : primary_metrics.writes_ok)->Increment();
    primary_metrics.write_duration->Observe(primary_seconds);
  }
  if (capturing_ && status == TxnStatus::idle && unit.id >= open_capture_.first_unit &&
      !unit.mirrored()) {
    // Journaled, or nothing reached the secondary: settled now. (A mirrored unit is settled
    // further down, after the secondary had its chance.)
    co_await end_capture(unit, routing::transaction_committed(unit.error, unit.command_tags));
  }
  if (!unit.mirrored()) {
    if (status == TxnStatus::idle) transaction_write_tables_.clear();
    co_return;
  }

  if (capturing_ && status == TxnStatus::idle && unit.id >= open_capture_.first_unit) {
    // Into unconfirmed_ until the secondary answers. Before the flush below: the secondary's
    // answer can arrive while the flush is suspended, and must find it there.
    co_await end_capture(unit, routing::transaction_committed(unit.error, unit.command_tags));
  }
  if (secondary_usable()) {
    // The secondary follows only what the primary accepted (invariants 5, 7).
    const auto settlement = routing::settle_unit(unit.error, unit.decision, unit.command_tags);
    if (settlement == routing::Settlement::drop) {
      secondary_->resolve(unit.id, EntryPurpose::body, std::nullopt);
    } else if (settlement == routing::Settlement::rollback_instead) {
      secondary_->resolve(unit.id, EntryPurpose::body, protocol::query_message("ROLLBACK"));
    } else {
      secondary_->resolve_keep(unit.id, EntryPurpose::body);
    }
    co_await secondary_->flush();
  }
  if (unit.error && status == TxnStatus::idle && unit.decision.ends_transaction) {
    // A string like "BEGIN; ...; COMMIT; <fails>" committed part of itself.
    record_unmirrored_write("partially committed multi-statement string", unit.text, unit.tables,
                            "");
  }

  PrimaryOutcome outcome{unit.error, status, std::move(unit.command_tags), std::move(unit.tables),
                         std::move(unit.text)};
  if (unit.error) {
    // Nothing went to the secondary: nothing to compare.
  } else if (unit.secondary) {
    const UnitId answered = unit.id;
    compare(outcome, *unit.secondary);
    resolve_unconfirmed(answered);
  } else {
    awaiting_secondary_.emplace(unit.id, std::move(outcome));
  }

  if (routing::ready_for_query_waits(config_->config.migration.strategy, unit.mirrored(), status,
                                     secondary_usable())) {
    const bool in_time =
        co_await secondary_->wait_through(unit.id, config_->config.limits.secondary_timeout);
    if (!in_time) {
      spdlog::warn("secondary did not answer within {} ms: detaching it from this session",
                   config_->config.limits.secondary_timeout.count());
      secondary_->mark_broken("timeout");
      on_secondary_broken();
    }
  }
  co_await wait_journal_appends();  // what failed (or, under async, what it wrote) is durable first
  report_secondary_depth();

  if (auto rejected = secondary_rejections_.find(unit.id);
      rejected != secondary_rejections_.end()) {
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
  if (status == TxnStatus::idle) {
    transaction_write_tables_.clear();
    transaction_secondary_error_.reset();
  }
}

asio::awaitable<void> ClientSession::let_secondary_finish() {
  // The client left. What the primary already did and the secondary has not
  // applied yet (under async, the client never waited for it) is finished
  // now, within the secondary timeout; only then is the connection closed.
  if (!secondary_usable()) co_return;
  co_await secondary_->flush();
  const auto last = secondary_->last_sendable_unit();
  if (!last || secondary_->done_through(*last)) co_return;
  co_await (pump_secondary() ||
            secondary_->wait_through(*last, config_->config.limits.secondary_timeout));
}

asio::awaitable<void> ClientSession::pump_secondary() {
  if (secondary_usable()) {
    co_await secondary_->pump(
        [this](const SecondaryResult& result) { on_secondary_result(result); });
    if (secondary_ && secondary_->broken()) on_secondary_broken();
  }
  // No (more) secondary: idle until the relay is cancelled.
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(use_tuple);
}

}  // namespace pgdual::proxy
