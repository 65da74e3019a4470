// client -> primary (+ the secondary's copy of each unit): the client's messages are grouped
// into units (routing/unit_builder.hpp), rewritten where the migration asks for it, and sent
// to the primary; each complete unit is dispatched (session_dispatch.cpp).

#include <spdlog/spdlog.h>

#include "protocol/constants.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using protocol::TxnStatus;

namespace {
constexpr std::size_t kMaxHeldUnitBytes = 1 << 20;
}  // namespace

asio::awaitable<void> ClientSession::pump_client() {
  for (;;) {
    auto status = co_await client_reader_.fill();
    // A new transaction waits here while a fleet flip pauses the instance (session_fleet.cpp).
    if (status == FrameReader::Status::ok && !in_fleet_transaction_) {
      // Counted in without a coroutine frame unless a flip holds the instance.
      if (runtime_.fleet().try_enter()) {
        in_fleet_transaction_ = true;
      } else {
        co_await enter_fleet_transaction();
      }
      // A shadow read's cancel in flight would skip the boundary below, and with it a flip's
      // new primary: let it land first (bounded).
      if (shadow_cancelling_) co_await settle_shadow_cancel();
    }
    // Between transactions, with nothing in flight, the session takes the
    // configuration in force (a reload never splits a transaction).
    if (status == FrameReader::Status::ok && at_boundary()) {
      const bool restart = co_await take_boundary_configuration();
      if (restart) co_return;
    }
    const ClientRelayModes modes = client_relay_modes();
    bool terminate = false;
    while (auto frame = client_reader_.next()) {
      const FrameStep step = co_await relay_client_frame(*frame, modes);
      if (step == FrameStep::stop) co_return;
      if (step == FrameStep::terminate) {
        terminate = true;
        break;
      }
    }
    client_reader_.take_raw();
    const bool sent = co_await send_client_bytes(modes.rewriting);
    if (!sent) co_return;
    if (terminate) {
      co_await finish_primary_after_terminate();
      co_return;
    }
    if (status != FrameReader::Status::ok || !client_reader_.error().empty()) break;
  }
  if (!client_reader_.error().empty()) co_await close_on_framing_error();
}

asio::awaitable<void> ClientSession::finish_primary_after_terminate() {
  // A client may send COMMIT and Terminate in one write and close (PostgreSQL runs the COMMIT
  // all the same). The primary's answer decides what the secondary receives for that unit: so
  // the pumps go on until the primary answered everything, with the replies discarded; then
  // the secondary finishes (let_secondary_finish). Past the bound the outcome stays unknown
  // and is recorded as such.
  client_.discard_writes();
  const UnitId last = primary_leg_.newest_id();
  const auto deadline = Clock::now() + config_->config.limits.secondary_timeout;
  while (last != 0 && primary_leg_.pending(last) && !primary_gone_ && Clock::now() < deadline) {
    primary_progress_->expires_at(deadline);
    co_await primary_progress_->async_wait(use_tuple);
  }
}

ClientSession::ClientRelayModes ClientSession::client_relay_modes() {
  const auto& migration = config_->config.migration;
  // The secondary's bytes are collected for the secondary and for the journal's capture.
  const bool mirroring = secondary_usable() || journal_enabled();
  units_->set_reject_ddl(mirroring && migration.ddl == config::DdlPolicy::reject,
                         "DDL is not allowed during the migration (migration.ddl is \"reject\")");
  std::string writes_refused = cdc_writes_refused();
  if (writes_refused.empty()) writes_refused = fleet_writes_refused();
  units_->set_cdc_refusals(cdc() && roles_.secondary && migration.ddl == config::DdlPolicy::mirror,
                           writes_refused);
  ClientRelayModes modes;
  modes.mirroring = mirroring;
  modes.shadow_aa =
      migration.shadow_read.mode == config::ShadowMode::aa && phase_ == config::Phase::shadow_read;
  // Under cdc the new store gets the old store's own values from its WAL: nothing to make
  // deterministic (and no values query on the primary to pay for).
  modes.rewriting = mirroring && migration.rewrite && !cdc();
  modes.mapping = mapping_applies();
  return modes;
}

asio::awaitable<ClientSession::FrameStep> ClientSession::relay_client_frame(
    const protocol::Frame& frame, const ClientRelayModes& modes) {
  const auto role = units_->add(frame);
  const auto raw = raw_frame(frame);
  if ((role == routing::FrameRole::part || role == routing::FrameRole::terminator) && !unit_open_) {
    open_client_unit();
  }
  if (frame.type == protocol::frontend::kFlush) unit_has_flush_ = true;
  std::optional<std::string> rewritten;
  if (modes.rewriting && !units_->replacement() && predicted_status_ != TxnStatus::failed) {
    rewritten = co_await rewrite_client_frame(frame);
  }
  track_rewritten_statements(frame);
  // The new store's copy under migration.mapping: the secondary's before cutover, the
  // primary's after.
  std::optional<std::string> new_store_bytes;
  if (modes.mapping && frame.type == protocol::frontend::kBind) note_mapped_bind(frame);
  if (modes.mapping && !units_->replacement()) {
    auto mapped = map_client_frame(frame, rewritten ? std::string_view(*rewritten) : raw);
    if (mapped.refusal) rewritten = std::move(mapped.refusal);  // both stores refuse it alike
    new_store_bytes = std::move(mapped.new_store_bytes);
  }
  const bool new_primary = roles_.primary == routing::Store::new_store;
  if (units_->replacement()) {
    primary_out_.append(*units_->replacement());
  } else if (new_primary && new_store_bytes) {
    primary_out_.append(*new_store_bytes);
  } else if (rewritten) {
    primary_out_.append(*rewritten);
  } else {
    primary_out_.append(raw);
  }
  if (role == routing::FrameRole::terminate) co_return FrameStep::terminate;
  if (role == routing::FrameRole::copy_data) {
    if (secondary_usable() && copy_route_.second != routing::MirrorMode::none) {
      co_await secondary_->append_to_unit(copy_route_.first, raw);
      copy_bytes_held_ += raw.size();
      if (copy_bytes_held_ > config_->config.limits.max_copy_buffer) co_await bound_copy_buffer();
    }
    if (copy_captured_ && capturing_) open_capture_.append_to_newest_unit(raw);
    co_return FrameStep::next;
  }
  if (modes.mirroring) {
    if (!new_primary && new_store_bytes) {
      secondary_unit_bytes_.append(*new_store_bytes);
    } else {
      secondary_unit_bytes_.append(rewritten ? std::string_view(*rewritten) : raw);
    }
  }
  if (modes.shadow_aa) shadow_aa_bytes_.append(raw);
  if (role != routing::FrameRole::terminator) co_return FrameStep::next;
  const bool sent = co_await end_client_unit();
  co_return sent ? FrameStep::next : FrameStep::stop;
}

void ClientSession::open_client_unit() {
  // The unit is tracked from its first message: the primary may answer
  // (an error after a Flush) before the client's Sync completes it.
  unit_open_ = true;
  unit_bytes_flushed_ = false;
  unit_has_flush_ = false;
  unit_mapping_unreadable_ = false;
  unit_start_ = primary_out_.size();
  primary_leg_.open_unit(next_unit_++);
}

asio::awaitable<std::optional<std::string>> ClientSession::rewrite_client_frame(
    const protocol::Frame& frame) {
  std::optional<std::string> rewritten;
  if (frame.type == protocol::frontend::kQuery || frame.type == protocol::frontend::kParse) {
    rewritten = co_await rewrite_frame(frame);
  } else if (frame.type == protocol::frontend::kBind) {
    rewritten = co_await rewrite_bind(frame);
  }
  co_return rewritten;
}

asio::awaitable<bool> ClientSession::end_client_unit() {
  dispatch_unit();
  unit_open_ = false;
  if (predicted_status_ == TxnStatus::idle) {
    // The transaction ends with this unit: its timestamp is not the next one's.
    transaction_timestamp_.reset();
  }
  if (wrapper_commit_after_) {
    const UnitId wrapped = *wrapper_commit_after_;
    wrapper_commit_after_.reset();
    const bool held = co_await hold_wrapper_commit(wrapped);
    if (!held) co_return false;
  }
  if (catch_up_for_) {
    const UnitId commit_unit = *catch_up_for_;
    catch_up_for_.reset();
    const bool held = co_await hold_commit_for_secondary(commit_unit);
    if (!held) co_return false;
  }
  if (!serialize_locks_.empty() && predicted_status_ == TxnStatus::idle) {
    const bool released = co_await release_serialize_locks();
    if (!released) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> ClientSession::send_client_bytes(bool rewriting) {
  auto& metrics = runtime_.metrics();
  // While rewriting, an open extended batch waits for the rest of itself (the server answers
  // nothing before its Sync or Flush anyway), so that pgdual can still ask the primary for
  // rewrite values ahead of it; a batch with a Flush or a COPY, or a very large one, goes out
  // as it is.
  std::string held;
  // Under sync an autocommit batch is held the same way, so that pgdual's BEGIN can still go
  // ahead of it (session_sync_order.cpp).
  if (unit_open_ && (rewriting || sync_order_candidate()) && !unit_has_flush_ &&
      !unit_runs_copy() && unit_start_ <= primary_out_.size() &&
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
    if (ec) co_return false;
  }
  primary_out_ = std::move(held);
  unit_start_ = 0;
  if (secondary_usable()) co_await secondary_->flush();
  co_return true;
}

asio::awaitable<void> ClientSession::close_on_framing_error() {
  // Framing is lost: end this session only, with PostgreSQL's error.
  const bool oversize = client_reader_.error().find("exceeds") != std::string::npos;
  runtime_.metrics()
      .protocol_errors(oversize ? metrics::ProtocolErrorReason::oversize
                                : metrics::ProtocolErrorReason::unknown_message)
      .Increment();
  spdlog::warn("closing client session: {}", client_reader_.error());
  const std::string message = client_reader_.error();
  const std::string_view sqlstate = oversize ? "54000" : "08P01";
  co_await send_fatal(sqlstate, message);
}

}  // namespace pgdual::proxy
