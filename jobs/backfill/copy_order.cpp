#include "jobs/backfill/copy_order.hpp"

#include <map>

namespace pgdual::jobs::backfill {

CopyOrder::CopyOrder(const std::vector<TablePlan>& plans) : plans_(plans) {
  std::set<std::string> targets;
  for (const auto& plan : plans_) targets.insert(plan.target);
  // Edges between targets of this backfill, self-references left out.
  std::map<std::string, std::set<std::string>> parents;
  for (const auto& plan : plans_) {
    auto& edges = parents[plan.target];
    for (const auto& parent : plan.parents) {
      if (parent == plan.target) {
        unordered_.push_back(plan.target + " -> " + parent + " (self-reference)");
      } else if (targets.count(parent) != 0) {
        edges.insert(parent);
      }
    }
  }
  // Peel off targets whose parents are all peeled; what remains sits on a cycle, whose edges
  // are dropped (and reported) so that the copy can go on.
  std::set<std::string> ordered;
  for (bool progress = true; progress;) {
    progress = false;
    for (const auto& [target, edges] : parents) {
      if (ordered.count(target) != 0) continue;
      bool ready = true;
      for (const auto& parent : edges) ready = ready && ordered.count(parent) != 0;
      if (ready) {
        ordered.insert(target);
        progress = true;
      }
    }
  }
  for (auto& [target, edges] : parents) {
    if (ordered.count(target) != 0) continue;
    for (auto it = edges.begin(); it != edges.end();) {
      if (ordered.count(*it) == 0) {
        unordered_.push_back(target + " -> " + *it + " (cycle)");
        it = edges.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& plan : plans_) waits_for_.push_back(parents[plan.target]);
}

bool CopyOrder::target_done(const std::string& target) const {
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    if (plans_[i].target == target && finished_.count(i) == 0) return false;
  }
  return true;
}

std::optional<std::size_t> CopyOrder::next_ready() {
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    if (started_.count(i) != 0) continue;
    bool ready = true;
    for (const auto& parent : waits_for_[i]) ready = ready && target_done(parent);
    if (ready) {
      started_.insert(i);
      return i;
    }
  }
  return std::nullopt;
}

void CopyOrder::finish(std::size_t index) { finished_.insert(index); }

}  // namespace pgdual::jobs::backfill
