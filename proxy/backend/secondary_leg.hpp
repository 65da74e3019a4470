#pragma once
// The secondary store's side of a session: the connection, the ordered queue
// of what it must receive, and the reader of its replies, which pgdual
// consumes and never forwards (the client sees one server: the primary).
//
// Every entry is one message group that ends in exactly one ReadyForQuery
// (a Query, or an extended batch ending in Sync). Entries are sent strictly
// in order; an entry waits for the primary's outcome (it runs only after the
// primary executed and accepted it) and holds back everything behind it, so
// the secondary applies the primary's writes in the primary's order.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/constants.hpp"
#include "protocol/messages.hpp"
#include "proxy/backend/backend_connection.hpp"
#include "proxy/shadow/result_capture.hpp"
#include "routing/commit_horizon.hpp"

namespace pgdual::proxy {

using UnitId = std::uint64_t;

// body: the client's own unit. control: pgdual's own statement (ROLLBACK
// after a failure), whose outcome is not compared unless it fails. shadow: a
// read of the shadow_read phase, whose rows are captured for comparison.
// A shadow entry runs alone: it is sent only when nothing else is in flight,
// and nothing is sent behind it until it is answered, so cancelling it after
// its timeout can never hit a write.
enum class EntryPurpose { body, control, shadow };

// What the secondary did with one unit's body.
struct SecondaryResult {
  UnitId unit = 0;
  EntryPurpose purpose = EntryPurpose::body;
  bool error = false;
  std::optional<protocol::ErrorFields> error_fields;
  std::vector<std::string> command_tags;
  char status = protocol::txn_status::kIdle;
  double seconds = 0;
  std::shared_ptr<shadow::ResultCapture> capture;  // shadow entries: the rows it returned
};

// The commits of other sessions an entry waits for (routing/commit_horizon.hpp): sent only
// once every ticket up to `horizon` is closed, its own commit's `own` aside. 0: no wait.
struct CommitGate {
  routing::CommitHorizon::Ticket horizon = 0, own = 0;
};

class SecondaryLeg {
 public:
  explicit SecondaryLeg(std::unique_ptr<BackendConnection> connection);

  BackendConnection& connection() { return *connection_; }
  bool broken() const { return broken_; }
  const std::string& broken_reason() const { return broken_reason_; }
  // True once after the leg broke: its failure is counted and recorded once.
  bool take_failure_report() {
    const bool first = broken_ && !failure_reported_;
    failure_reported_ = failure_reported_ || broken_;
    return first;
  }
  // Stops using the connection (I/O error, timeout, overflow): the server
  // rolls back whatever was open on it when it closes.
  void mark_broken(std::string reason);

  // Appends an entry; ready entries at the head are sent by flush(). With a
  // capture, its replies also feed the capture (pgdual's own queries).
  void enqueue(UnitId unit, EntryPurpose purpose, std::string bytes, bool ready,
               std::shared_ptr<shadow::ResultCapture> capture = nullptr);
  // Appends a shadow read (ready at once) whose replies feed `capture`.
  void enqueue_shadow(UnitId unit, std::string bytes,
                      std::shared_ptr<shadow::ResultCapture> capture);
  // The shadow read in flight, if any, and when it was sent.
  std::optional<std::pair<UnitId, std::chrono::steady_clock::time_point>> shadow_in_flight() const;
  // While set, nothing more is sent: a CancelRequest for the shadow read in
  // flight is on its way and must not reach whatever would run after it.
  void hold_for_cancel(bool hold) { cancel_hold_ = hold; }
  // Bytes for the newest entry of `unit` (CopyData streaming after a COPY
  // statement): sent at once if that entry was already sent.
  boost::asio::awaitable<void> append_to_unit(UnitId unit, std::string_view bytes);
  using CommitGate = proxy::CommitGate;
  // Entries with a gate consult `horizon`; `on_blocked` hears of the first entry that waits,
  // so the session can flush again once that gate opens.
  void watch_commit_order(std::shared_ptr<routing::CommitHorizon> horizon,
                          std::function<void(CommitGate)> on_blocked) {
    horizon_ = std::move(horizon);
    on_blocked_ = std::move(on_blocked);
  }
  // Completes a held entry of `unit`: with bytes it becomes ready; without,
  // it is dropped (the primary failed, nothing must follow).
  void resolve(UnitId unit, EntryPurpose purpose, std::optional<std::string> bytes,
               CommitGate gate = {});
  // The bytes of a held entry of `unit`, if there is one.
  std::optional<std::string_view> held_bytes(UnitId unit, EntryPurpose purpose) const;
  // Makes a held entry ready as it is.
  void resolve_keep(UnitId unit, EntryPurpose purpose, CommitGate gate = {});
  // Hands the connection over (the secondary becomes primary at cutover).
  // Only while nothing is outstanding.
  BackendConnection* release_connection() { return connection_.release(); }
  // Sends every ready entry at the head of the queue.
  boost::asio::awaitable<void> flush();

  // True when nothing of `unit` (or before it) is queued or awaiting replies.
  bool done_through(UnitId unit) const;
  std::size_t outstanding() const { return queued_.size() + in_flight_.size(); }
  // True when a body entry of `unit` went out on the wire and its reply has not been read:
  // after a failure, whether the server may have run it is unknown.
  bool sent_unanswered(UnitId unit) const;
  // Waits until done_through(unit), the leg breaks, or the timeout passes.
  // Returns false on timeout.
  boost::asio::awaitable<bool> wait_through(UnitId unit, std::chrono::milliseconds timeout);

  // Reads the secondary's replies until the connection fails; each body's
  // outcome is handed to on_result. Runs for the life of the leg.
  template <typename OnResult>
  boost::asio::awaitable<void> pump(OnResult on_result);

  // The newest unit that is sent or ready to be sent (nothing held before
  // it), if any: what the secondary can still finish without the primary.
  std::optional<UnitId> last_sendable_unit() const;

 private:
  struct Entry {
    UnitId unit;
    EntryPurpose purpose;
    std::string bytes;
    bool ready;
    std::chrono::steady_clock::time_point sent_at{};
    std::shared_ptr<shadow::ResultCapture> capture;
    CommitGate gate;
  };
  bool may_send(const Entry& next);

  boost::asio::awaitable<std::optional<SecondaryResult>> read_one_reply();
  void notify();

  std::unique_ptr<BackendConnection> connection_;
  std::deque<Entry> queued_;                             // not yet sent
  std::deque<Entry> in_flight_;                          // sent, ReadyForQuery not yet back
  std::unique_ptr<boost::asio::steady_timer> progress_;  // cancelled to wake waiters
  bool flushing_ = false;
  bool cancel_hold_ = false;
  bool broken_ = false;
  bool failure_reported_ = false;
  std::string broken_reason_;
  SecondaryResult current_;
  std::shared_ptr<routing::CommitHorizon> horizon_;
  std::function<void(CommitGate)> on_blocked_;
};

template <typename OnResult>
boost::asio::awaitable<void> SecondaryLeg::pump(OnResult on_result) {
  while (!broken_) {
    auto result = co_await read_one_reply();
    if (!result) co_return;
    on_result(*result);
    // What waited behind a shadow read can go now.
    if (in_flight_.empty() && !queued_.empty() && queued_.front().ready) co_await flush();
  }
}

}  // namespace pgdual::proxy
