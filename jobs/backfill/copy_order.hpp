#pragma once
// The order tables may be copied in: a table whose foreign keys on the new store reference
// another table of the backfill waits until that one is done, so the new store never refuses a
// child row for a missing parent. Pure: no I/O.

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jobs/backfill/table_plan.hpp"

namespace pgdual::jobs::backfill {

class CopyOrder {
 public:
  // Self-references and cycles cannot be ordered: those edges are dropped and listed in
  // unordered_edges() (the copy of such a table may meet a foreign-key refusal, reported then).
  explicit CopyOrder(const std::vector<TablePlan>& plans);

  // The index of a plan that may start now (all its parents done, not started), if any.
  std::optional<std::size_t> next_ready();
  // Marks a started plan finished; its targets then count as done once every plan that writes
  // the same target (the leaves of one root) has finished.
  void finish(std::size_t index);
  bool all_started() const { return started_.size() == plans_.size(); }
  const std::vector<std::string>& unordered_edges() const { return unordered_; }

 private:
  bool target_done(const std::string& target) const;

  std::vector<TablePlan> plans_;
  std::vector<std::set<std::string>> waits_for_;  // per plan: targets that must be done first
  std::set<std::size_t> started_, finished_;
  std::vector<std::string> unordered_;
};

}  // namespace pgdual::jobs::backfill
