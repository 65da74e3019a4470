#pragma once
// Metrics of the deterministic rewrite (docs/dual-write.md, "Identical values on both
// stores"): statements rewritten by reason, and statements whose non-deterministic values
// could not be made identical, by table and by what pgdual did with them.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <string>

#include "metrics/table_counters.hpp"

namespace pgdual::metrics {

enum class RewriteReason : std::uint8_t { time, random, uuid, sequence, column_default };
inline constexpr std::size_t kRewriteReasonCount = 5;
std::string_view to_string(RewriteReason reason);

class RewriteMetrics {
 public:
  explicit RewriteMetrics(prometheus::Registry& registry);

  prometheus::Counter& rewritten(RewriteReason reason) const {
    return *rewritten_[static_cast<std::size_t>(reason)];
  }
  // action: "allowed" (sent as it is) or "rejected".
  void count_nondeterministic(const std::string& table, const std::string& action) {
    nondeterministic_by_table_.count(table, action);
  }

  // migration.mapping (docs/schema-mapping.md): statements pointed at the new store's views.
  prometheus::Counter& mapped() const { return *mapped_; }
  // A statement the mapping cannot translate exactly, by the old table and what pgdual did:
  // "allowed" (sent; the table marked for reconciliation), "rejected" (SQLSTATE 0A000), "skipped"
  // (a shadow read not run on the new store).
  void count_untranslatable(const std::string& table, const std::string& action) {
    untranslatable_by_table_.count(table, action);
  }

  static constexpr std::size_t kMaxTables = TableCounters::kMaxTables;

 private:
  std::array<prometheus::Counter*, kRewriteReasonCount> rewritten_{};
  TableCounters nondeterministic_by_table_;
  prometheus::Counter* mapped_ = nullptr;
  TableCounters untranslatable_by_table_;
};

}  // namespace pgdual::metrics
