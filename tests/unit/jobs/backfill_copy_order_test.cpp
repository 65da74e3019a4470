#include <catch2/catch.hpp>

#include "jobs/backfill/copy_order.hpp"

using pgdual::jobs::backfill::CopyOrder;
using pgdual::jobs::backfill::TablePlan;

namespace {
TablePlan plan(const std::string& source, const std::string& target,
               std::vector<std::string> parents = {}) {
  TablePlan out;
  out.source = source;
  out.target = target;
  out.parents = std::move(parents);
  return out;
}
}  // namespace

TEST_CASE("children wait until every parent is done", "[backfill]") {
  // 0: child -> parent, 1: parent, 2: grandchild -> child
  CopyOrder order({plan("s.child", "s.child", {"s.parent"}), plan("s.parent", "s.parent"),
                   plan("s.grand", "s.grand", {"s.child", "s.elsewhere"})});
  REQUIRE(order.next_ready() == 1u);
  REQUIRE_FALSE(order.next_ready().has_value());  // parent started, not finished
  order.finish(1);
  REQUIRE(order.next_ready() == 0u);
  REQUIRE_FALSE(order.next_ready().has_value());
  order.finish(0);
  REQUIRE(order.next_ready() == 2u);  // a parent outside the backfill does not hold it back
  REQUIRE(order.all_started());
  REQUIRE(order.unordered_edges().empty());
}

TEST_CASE("a parent made of partition leaves is done when every leaf is", "[backfill]") {
  CopyOrder order({plan("s.p1", "s.p"), plan("s.p2", "s.p"), plan("s.c", "s.c", {"s.p"})});
  REQUIRE(order.next_ready() == 0u);
  REQUIRE(order.next_ready() == 1u);
  order.finish(0);
  REQUIRE_FALSE(order.next_ready().has_value());
  order.finish(1);
  REQUIRE(order.next_ready() == 2u);
}

TEST_CASE("self-references and cycles are dropped and reported, not a deadlock", "[backfill]") {
  CopyOrder order({plan("s.a", "s.a", {"s.b"}), plan("s.b", "s.b", {"s.a"}),
                   plan("s.tree", "s.tree", {"s.tree"})});
  REQUIRE(order.next_ready().has_value());
  REQUIRE(order.next_ready().has_value());
  REQUIRE(order.next_ready().has_value());
  REQUIRE(order.all_started());
  REQUIRE(order.unordered_edges().size() == 3);
}
