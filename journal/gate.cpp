#include "journal/gate.hpp"

namespace pgdual::journal {

JournalGate::State& JournalGate::state(std::string_view key) {
  auto it = states_.find(key);
  if (it == states_.end()) {
    it = states_.emplace(std::string(key), State{}).first;
    it->second.pending = new_keys_pending_;
  }
  return it->second;
}

const JournalGate::State* JournalGate::find(std::string_view key) const {
  auto it = states_.find(key);
  return it == states_.end() ? nullptr : &it->second;
}

bool JournalGate::active(std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto* found = find(key);
  return found ? found->active() : new_keys_pending_;
}

std::vector<std::string> JournalGate::active_keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  for (const auto& [key, value] : states_) {
    if (value.active()) keys.push_back(key);
  }
  return keys;
}

void JournalGate::enter(std::string_view key) {
  std::lock_guard lock(mutex_);
  ++state(key).journaled;
}

void JournalGate::leave(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto& value = state(key);
  if (value.journaled > 0) --value.journaled;
  value.pending = true;
  ++value.epoch;
}

void JournalGate::append_queued(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto& value = state(key);
  ++value.in_flight;
  value.pending = true;
}

void JournalGate::append_finished(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto& value = state(key);
  if (value.in_flight > 0) --value.in_flight;
  value.pending = true;
  ++value.epoch;
}

void JournalGate::mark_pending(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto& value = state(key);
  value.pending = true;
  ++value.epoch;
}

void JournalGate::mark_all_pending() {
  std::lock_guard lock(mutex_);
  new_keys_pending_ = true;
  for (auto& [key, value] : states_) {
    value.pending = true;
    ++value.epoch;
  }
}

void JournalGate::forget(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = states_.find(key);
  if (it == states_.end()) {
    // Not seen yet: remember it as counted-empty so new_keys_pending_ does not apply.
    states_.emplace(std::string(key), State{});
    return;
  }
  if (it->second.journaled == 0 && it->second.in_flight == 0) {
    it->second.pending = false;
    ++it->second.epoch;
  }
}

JournalGate::CountTicket JournalGate::begin_count(std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto* found = find(key);
  return CountTicket{found ? found->epoch : 0};
}

bool JournalGate::finish_count(std::string_view key, CountTicket ticket, std::uint64_t pending) {
  std::lock_guard lock(mutex_);
  auto& value = state(key);
  if (pending > 0) {
    value.pending = true;
  } else if (ticket.epoch == value.epoch && value.journaled == 0 && value.in_flight == 0) {
    value.pending = false;
  }
  return value.active();
}

std::uint64_t JournalGate::journaled(std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto* found = find(key);
  return found ? found->journaled : 0;
}

std::uint64_t JournalGate::in_flight(std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto* found = find(key);
  return found ? found->in_flight : 0;
}

}  // namespace pgdual::journal
