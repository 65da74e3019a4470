#include "routing/commit_horizon.hpp"

#include <utility>

namespace pgdual::routing {

CommitHorizon::Ticket CommitHorizon::open() {
  std::lock_guard lock(mutex_);
  const Ticket ticket = ++issued_;
  open_.insert(ticket);
  return ticket;
}

void CommitHorizon::close(Ticket ticket) {
  std::vector<std::function<void()>> woken;
  {
    std::lock_guard lock(mutex_);
    if (open_.erase(ticket) == 0) return;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (settled_locked(it->horizon, it->own)) {
        woken.push_back(std::move(it->wake));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Outside the lock: a waker may ask the horizon again.
  for (auto& wake : woken) wake();
}

CommitHorizon::Ticket CommitHorizon::issued() const {
  std::lock_guard lock(mutex_);
  return issued_;
}

bool CommitHorizon::settled_locked(Ticket horizon, Ticket own) const {
  for (const Ticket ticket : open_) {
    if (ticket > horizon) return true;  // ordered: nothing further is in the way
    if (ticket != own) return false;
  }
  return true;
}

bool CommitHorizon::settled_through(Ticket horizon, Ticket own) const {
  std::lock_guard lock(mutex_);
  return settled_locked(horizon, own);
}

std::size_t CommitHorizon::open_count() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

void CommitHorizon::notify_when_settled(Ticket horizon, Ticket own, std::function<void()> wake) {
  {
    std::lock_guard lock(mutex_);
    if (!settled_locked(horizon, own)) {
      waiters_.push_back({horizon, own, std::move(wake)});
      return;
    }
  }
  wake();
}

}  // namespace pgdual::routing
