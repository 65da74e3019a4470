#include "proxy/backend/secondary_leg.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/constants.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

SecondaryLeg::SecondaryLeg(std::unique_ptr<BackendConnection> connection)
    : connection_(std::move(connection)),
      progress_(
          std::make_unique<asio::steady_timer>(connection_->stream().socket().get_executor())) {
  progress_->expires_at(asio::steady_timer::time_point::max());
}

void SecondaryLeg::notify() {
  // Waking the waiters: they re-check their condition and wait again.
  progress_->cancel();
}

void SecondaryLeg::mark_broken(std::string reason) {
  if (broken_) return;
  broken_ = true;
  broken_reason_ = std::move(reason);
  connection_->stream().close();
  notify();
}

bool SecondaryLeg::sent_unanswered(UnitId unit) const {
  for (const auto& entry : in_flight_) {
    if (entry.unit == unit && entry.purpose == EntryPurpose::body) return true;
  }
  return false;
}

void SecondaryLeg::enqueue(UnitId unit, EntryPurpose purpose, std::string bytes, bool ready,
                           std::shared_ptr<shadow::ResultCapture> capture) {
  Entry entry{unit, purpose, std::move(bytes), ready, {}, std::move(capture)};
  queued_.push_back(std::move(entry));
}

void SecondaryLeg::enqueue_shadow(UnitId unit, std::string bytes,
                                  std::shared_ptr<shadow::ResultCapture> capture) {
  Entry entry{unit, EntryPurpose::shadow, std::move(bytes), true, {}, std::move(capture)};
  queued_.push_back(std::move(entry));
}

std::optional<std::pair<UnitId, std::chrono::steady_clock::time_point>>
SecondaryLeg::shadow_in_flight() const {
  for (const auto& entry : in_flight_) {
    if (entry.purpose == EntryPurpose::shadow) return std::make_pair(entry.unit, entry.sent_at);
  }
  return std::nullopt;
}

bool SecondaryLeg::may_send(const Entry& next) {
  if (!next.ready || cancel_hold_) return false;
  if (next.gate.horizon != 0 && horizon_ &&
      !horizon_->settled_through(next.gate.horizon, next.gate.own)) {
    if (on_blocked_) on_blocked_(next.gate);
    return false;
  }
  if (in_flight_.empty()) return true;
  // A shadow read runs alone (see EntryPurpose).
  return next.purpose != EntryPurpose::shadow && in_flight_.back().purpose != EntryPurpose::shadow;
}

asio::awaitable<void> SecondaryLeg::append_to_unit(UnitId unit, std::string_view bytes) {
  if (broken_) co_return;
  for (auto it = queued_.rbegin(); it != queued_.rend(); ++it) {
    if (it->unit == unit && it->purpose == EntryPurpose::body) {
      it->bytes.append(bytes);
      co_return;
    }
  }
  // The body went out already: stream the rest behind it.
  if (!in_flight_.empty() && in_flight_.back().unit == unit) {
    if (auto ec = co_await connection_->stream().write_all(bytes))
      mark_broken("write failed: " + ec.message());
  }
}

void SecondaryLeg::resolve(UnitId unit, EntryPurpose purpose, std::optional<std::string> bytes,
                           CommitGate gate) {
  for (auto it = queued_.begin(); it != queued_.end(); ++it) {
    if (it->unit != unit || it->purpose != purpose || it->ready) continue;
    if (bytes) {
      it->bytes = std::move(*bytes);
      it->ready = true;
      it->gate = gate;
    } else {
      queued_.erase(it);
      notify();
    }
    return;
  }
}

std::optional<std::string_view> SecondaryLeg::held_bytes(UnitId unit, EntryPurpose purpose) const {
  for (const auto& entry : queued_) {
    if (entry.unit == unit && entry.purpose == purpose && !entry.ready) return entry.bytes;
  }
  return std::nullopt;
}

void SecondaryLeg::resolve_keep(UnitId unit, EntryPurpose purpose, CommitGate gate) {
  for (auto& entry : queued_) {
    if (entry.unit == unit && entry.purpose == purpose && !entry.ready) {
      entry.ready = true;
      entry.gate = gate;
      return;
    }
  }
}

asio::awaitable<void> SecondaryLeg::flush() {
  // One writer at a time: a second caller's entries go out with this loop.
  if (flushing_ || broken_) co_return;
  flushing_ = true;
  std::string batch;
  while (!broken_ && !queued_.empty() && may_send(queued_.front())) {
    batch.clear();
    const auto now = std::chrono::steady_clock::now();
    while (!queued_.empty() && may_send(queued_.front())) {
      auto entry = std::move(queued_.front());
      queued_.pop_front();
      batch.append(entry.bytes);
      entry.bytes.clear();
      entry.sent_at = now;
      in_flight_.push_back(std::move(entry));
    }
    if (auto ec = co_await connection_->stream().write_all(batch)) {
      mark_broken("write failed: " + ec.message());
    }
  }
  flushing_ = false;
}

bool SecondaryLeg::done_through(UnitId unit) const {
  if (broken_) return true;
  if (!in_flight_.empty() && in_flight_.front().unit <= unit) return false;
  if (!queued_.empty() && queued_.front().unit <= unit) return false;
  return true;
}

asio::awaitable<bool> SecondaryLeg::wait_through(UnitId unit, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done_through(unit)) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    // The timer doubles as an event: notify() cancels it to wake us, and the
    // deadline bounds the wait.
    progress_->expires_at(deadline);
    co_await progress_->async_wait(use_tuple);
  }
  co_return true;
}

std::optional<UnitId> SecondaryLeg::last_sendable_unit() const {
  std::optional<UnitId> last;
  if (!in_flight_.empty()) last = in_flight_.back().unit;
  for (const auto& entry : queued_) {
    if (!entry.ready) break;
    last = entry.unit;
  }
  return last;
}

asio::awaitable<std::optional<SecondaryResult>> SecondaryLeg::read_one_reply() {
  auto& reader = connection_->reader();
  for (;;) {
    while (auto frame = reader.next()) {
      if (!in_flight_.empty() && in_flight_.front().capture) {
        in_flight_.front().capture->on_message(frame->type, frame->payload);
      }
      switch (frame->type) {
        case protocol::backend::kErrorResponse:
          current_.error = true;
          current_.error_fields = protocol::parse_error_fields(frame->payload);
          break;
        case protocol::backend::kCommandComplete:
          if (auto tag = protocol::parse_command_complete(frame->payload)) {
            current_.command_tags.push_back(std::move(*tag));
          }
          break;
        case protocol::backend::kReadyForQuery: {
          current_.status =
              protocol::parse_ready_for_query(frame->payload).value_or(protocol::txn_status::kIdle);
          if (in_flight_.empty()) {
            // A ReadyForQuery nobody asked for: the stream is out of step.
            mark_broken("unexpected ReadyForQuery from the secondary");
            co_return std::nullopt;
          }
          auto entry = std::move(in_flight_.front());
          in_flight_.pop_front();
          SecondaryResult result = std::move(current_);
          current_ = SecondaryResult{};
          result.unit = entry.unit;
          result.purpose = entry.purpose;
          result.capture = std::move(entry.capture);
          result.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - entry.sent_at)
                  .count();
          notify();
          reader.take_raw();
          // Only the client's own statements carry an outcome worth
          // comparing; pgdual's own do not, unless they failed.
          if (entry.purpose != EntryPurpose::control || result.error) co_return result;
          break;
        }
        default:  // rows, notices, ParameterStatus, notifications: consumed
          break;
      }
    }
    reader.take_raw();
    auto status = co_await reader.fill();
    if (status == FrameReader::Status::cancelled) co_return std::nullopt;  // the session is ending
    if (status != FrameReader::Status::ok) {
      mark_broken(status == FrameReader::Status::protocol_error
                      ? "invalid message: " + reader.error()
                      : "connection lost");
      co_return std::nullopt;
    }
  }
}

}  // namespace pgdual::proxy
