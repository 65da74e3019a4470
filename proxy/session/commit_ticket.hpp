#pragma once

#include <memory>
#include <utility>

#include "routing/commit_horizon.hpp"

namespace pgdual::proxy {

// A session's ticket in its database's commit order (routing/commit_horizon.hpp), closed when
// it is dropped: whatever ends the session or its secondary leg also stops making others wait.
class CommitTicket {
 public:
  CommitTicket(std::shared_ptr<routing::CommitHorizon> horizon, routing::CommitHorizon::Ticket id)
      : horizon_(std::move(horizon)), id_(id) {}
  CommitTicket(CommitTicket&& other) noexcept
      : horizon_(std::move(other.horizon_)), id_(other.id_) {}
  CommitTicket& operator=(CommitTicket&&) = delete;
  CommitTicket(const CommitTicket&) = delete;
  CommitTicket& operator=(const CommitTicket&) = delete;
  ~CommitTicket() {
    if (horizon_) horizon_->close(id_);
  }

 private:
  std::shared_ptr<routing::CommitHorizon> horizon_;
  routing::CommitHorizon::Ticket id_;
};

}  // namespace pgdual::proxy
