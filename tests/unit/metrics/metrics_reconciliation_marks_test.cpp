// Tests of the reconciliation marks metrics::JournalMetrics keeps for the queue
// (count_reconciliation, take_reconciliation_marks, return_reconciliation_marks): the counter
// counts as it always did, marks drain and come back added to newer ones, a table not named
// marks the whole database, and the bound folds further tables into it.

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "metrics/journal_metrics.hpp"

using namespace pgdual;
using metrics::JournalMetrics;
using Marks = JournalMetrics::ReconciliationMarks;

namespace {

std::optional<double> needed(prometheus::Registry& registry, const std::string& table) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "pgdual_reconciliation_needed_total") continue;
    for (const auto& metric : family.metric) {
      if (metric.label.size() == 1 && metric.label[0].value == table) return metric.counter.value;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("marks are counted per database and table and drained") {
  prometheus::Registry registry;
  JournalMetrics journal(registry);
  journal.count_reconciliation("app", {"public.orders", "public.items"});
  journal.count_reconciliation("app", {"public.orders"});
  journal.count_reconciliation("shop", {"public.orders"});
  CHECK(needed(registry, "public.orders") == 3);  // the counter has no database
  CHECK(needed(registry, "public.items") == 1);
  CHECK(journal.pending_reconciliation_marks() == 3);
  CHECK(journal.take_reconciliation_marks() == Marks{{{"app", "public.items"}, 1},
                                                     {{"app", "public.orders"}, 2},
                                                     {{"shop", "public.orders"}, 1}});
  CHECK(journal.take_reconciliation_marks().empty());
  CHECK(needed(registry, "public.orders") == 3);  // draining leaves the counter alone
}

TEST_CASE("marks given back add to those made since") {
  prometheus::Registry registry;
  JournalMetrics journal(registry);
  journal.count_reconciliation("app", {"public.orders"});
  auto taken = journal.take_reconciliation_marks();
  journal.count_reconciliation("app", {"public.orders", "public.items"});
  journal.return_reconciliation_marks(taken);
  CHECK(journal.take_reconciliation_marks() ==
        Marks{{{"app", "public.items"}, 1}, {{"app", "public.orders"}, 2}});
  CHECK(needed(registry, "public.orders") == 2);  // giving back counts nothing again
}

TEST_CASE("no table named marks the whole database, no database marks nothing") {
  prometheus::Registry registry;
  JournalMetrics journal(registry);
  journal.count_reconciliation("app", {});
  journal.count_reconciliation("app", {""});
  journal.count_reconciliation("", {"public.orders"});
  CHECK(journal.take_reconciliation_marks() == Marks{{{"app", "(unknown)"}, 2}});
  CHECK(needed(registry, "public.orders") == 1);           // counted all the same
  CHECK_FALSE(needed(registry, "(unknown)").has_value());  // as before: no table, no count
}

TEST_CASE("beyond the bound a database's further tables mark the whole database") {
  prometheus::Registry registry;
  JournalMetrics journal(registry);
  for (std::size_t i = 0; i < JournalMetrics::kMaxPendingMarks; ++i) {
    journal.count_reconciliation("app", {"public.t" + std::to_string(i)});
  }
  CHECK(journal.pending_reconciliation_marks() == JournalMetrics::kMaxPendingMarks);
  journal.count_reconciliation("app", {"public.t0", "public.beyond", "public.further"});
  journal.count_reconciliation("shop", {"public.beyond"});
  // One "(unknown)" per database over the bound, each carrying every mark folded into it.
  CHECK(journal.pending_reconciliation_marks() == JournalMetrics::kMaxPendingMarks + 2);
  auto marks = journal.take_reconciliation_marks();
  CHECK(marks[{"app", "public.t0"}] == 2);  // a known pair still counts as itself
  CHECK(marks[{"app", "(unknown)"}] == 2);
  CHECK(marks[{"shop", "(unknown)"}] == 1);
  CHECK_FALSE(marks.contains({"app", "public.beyond"}));

  // Given back over the bound: folded the same way, no mark lost.
  journal.count_reconciliation("app", {"public.new"});
  journal.return_reconciliation_marks(marks);
  auto back = journal.take_reconciliation_marks();
  std::int64_t total = 0;
  for (const auto& [key, count] : back) total += count;
  // The first kMaxPendingMarks, public.t0 again, app's two folded, shop's one, public.new.
  CHECK(total == static_cast<std::int64_t>(JournalMetrics::kMaxPendingMarks) + 1 + 2 + 1 + 1);
  CHECK(back[{"app", "public.new"}] == 1);  // made after the drain, before the bound was reached
  CHECK(back.size() <= JournalMetrics::kMaxPendingMarks + 2);
}
