#include "journal/gate.hpp"

namespace pgdual::journal {

bool JournalGate::active() const {
  std::lock_guard lock(mutex_);
  return pending_ || journaled_ > 0 || in_flight_ > 0;
}

void JournalGate::enter() {
  std::lock_guard lock(mutex_);
  ++journaled_;
}

void JournalGate::leave() {
  std::lock_guard lock(mutex_);
  if (journaled_ > 0) --journaled_;
  pending_ = true;
  ++epoch_;
}

void JournalGate::append_queued() {
  std::lock_guard lock(mutex_);
  ++in_flight_;
  pending_ = true;
}

void JournalGate::append_finished() {
  std::lock_guard lock(mutex_);
  if (in_flight_ > 0) --in_flight_;
  pending_ = true;
  ++epoch_;
}

void JournalGate::mark_pending() {
  std::lock_guard lock(mutex_);
  pending_ = true;
  ++epoch_;
}

JournalGate::CountTicket JournalGate::begin_count() const {
  std::lock_guard lock(mutex_);
  return CountTicket{epoch_};
}

bool JournalGate::finish_count(CountTicket ticket, std::uint64_t pending) {
  std::lock_guard lock(mutex_);
  if (pending > 0) {
    pending_ = true;
  } else if (ticket.epoch == epoch_ && journaled_ == 0 && in_flight_ == 0) {
    pending_ = false;
  }
  return pending_ || journaled_ > 0 || in_flight_ > 0;
}

std::uint64_t JournalGate::journaled() const {
  std::lock_guard lock(mutex_);
  return journaled_;
}

std::uint64_t JournalGate::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace pgdual::journal
