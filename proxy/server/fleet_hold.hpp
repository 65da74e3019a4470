#pragma once
// What a fleet flip (cutover/fleet_agent.hpp) does to this instance's sessions: while paused, a
// session that starts a new transaction waits at its boundary; `busy` counts the sessions
// inside one, so that the agent knows when nothing is in flight; while fenced, writes are
// refused with the reason. Sessions and the agent's thread use it at once: atomics, and the
// reason under a mutex.
//
// The pause and the count follow the pattern of two flags: a session counts itself in, then
// looks at `paused`; the agent sets `paused`, then waits for the count to reach zero. With
// sequentially consistent atomics one of them always sees the other, so no transaction
// starts unseen after the agent found the instance drained.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace pgdual::proxy {

class FleetHold {
 public:
  // The fleet flip's pause and the admin console's PAUSE are separate flags, so that a flip's
  // resume never ends an operator's pause, nor RESUME a flip's.
  void set_paused(bool paused) { paused_.store(paused); }
  bool paused() const { return paused_.load(); }
  void set_admin_paused(bool paused) { admin_paused_.store(paused); }
  bool admin_paused() const { return admin_paused_.load(); }
  // One console PAUSE waits at a time: true for the one that may.
  bool begin_admin_pause() {
    bool expected = false;
    return admin_pausing_.compare_exchange_strong(expected, true);
  }
  void end_admin_pause() { admin_pausing_.store(false); }

  // A session about to start a transaction: true when it may (it is counted in); false while
  // paused (it is not counted, and tries again later).
  bool try_enter() {
    busy_.fetch_add(1);
    if (!paused_.load() && !admin_paused_.load()) return true;
    busy_.fetch_sub(1);
    return false;
  }
  void leave() { busy_.fetch_sub(1); }
  std::int64_t busy() const { return busy_.load(); }

  void set_fenced(std::optional<std::string> reason) {
    std::lock_guard lock(mutex_);
    fenced_.store(reason.has_value());
    reason_ = reason.value_or("");
  }
  // The reason writes are refused; empty when they are not.
  std::string fenced_reason() const {
    if (!fenced_.load(std::memory_order_relaxed)) return {};
    std::lock_guard lock(mutex_);
    return reason_;
  }

 private:
  std::atomic<bool> paused_{false};
  std::atomic<bool> admin_paused_{false};
  std::atomic<bool> admin_pausing_{false};
  std::atomic<std::int64_t> busy_{0};
  std::atomic<bool> fenced_{false};
  mutable std::mutex mutex_;
  std::string reason_;
};

}  // namespace pgdual::proxy
