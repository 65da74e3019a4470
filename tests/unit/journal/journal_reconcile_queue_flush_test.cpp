// Tests of the reconciliation queue's part of the backfill watch without a database
// (journal/reconcile_queue_flush.hpp): marks grouped by the new store's dbname and given back
// unless flushed, how a queue row is read, the existence check's quoting. Flushing to and
// reading a real queue is tests/integration/operations/test_reconcile_queue_metrics.py.

#include <prometheus/registry.h>

#include <catch2/catch.hpp>

#include "journal/reconcile_queue_flush.hpp"

using namespace pgdual;
using journal::PendingMarks;
using journal::ReconcileQueueSync;
using Marks = metrics::JournalMetrics::ReconciliationMarks;

TEST_CASE("pending marks are grouped by the client database and given back unless flushed") {
  prometheus::Registry registry;
  metrics::JournalMetrics journal(registry);
  journal.count_reconciliation("app", {"public.orders", "public.items"});
  journal.count_reconciliation("shop", {"public.carts"});
  {
    PendingMarks pending(journal, std::nullopt);
    CHECK(journal.pending_reconciliation_marks() == 0);  // taken for the pass
    REQUIRE(pending.by_dbname().size() == 2);
    CHECK(pending.of("app") == Marks{{{"app", "public.items"}, 1}, {{"app", "public.orders"}, 1}});
    CHECK(pending.of("elsewhere").empty());
    pending.erase("app");                                    // in the queue
    journal.count_reconciliation("shop", {"public.carts"});  // marked during the pass
  }
  CHECK(journal.take_reconciliation_marks() == Marks{{{"shop", "public.carts"}, 2}});
}

TEST_CASE("a backend dbname gathers every client database's marks") {
  prometheus::Registry registry;
  metrics::JournalMetrics journal(registry);
  journal.count_reconciliation("app", {"public.orders"});
  journal.count_reconciliation("shop", {"public.orders"});
  {
    PendingMarks pending(journal, std::string("target"));
    REQUIRE(pending.by_dbname().size() == 1);
    // Kept under their own database, so that giving them back changes nothing.
    CHECK(pending.of("target") ==
          Marks{{{"app", "public.orders"}, 1}, {{"shop", "public.orders"}, 1}});
  }
  CHECK(journal.pending_reconciliation_marks() == 2);
}

TEST_CASE("a queue row counts its unresolved marks and differences") {
  auto row = ReconcileQueueSync::parse_row("app", {"public.orders", "7", "5", "3"});
  REQUIRE(row.has_value());
  CHECK(row->database == "app");
  CHECK(row->table == "public.orders");
  CHECK(row->unresolved == 5);  // 2 marks not covered, 3 differences left

  auto resolved = ReconcileQueueSync::parse_row("app", {"public.items", "4", "4", "0"});
  REQUIRE(resolved.has_value());
  CHECK(resolved->unresolved == 0);
  // A reconcile that read a later mark than this instance has seen yet: never negative.
  auto ahead = ReconcileQueueSync::parse_row("app", {"public.items", "4", "9", "0"});
  REQUIRE(ahead.has_value());
  CHECK(ahead->unresolved == 0);

  CHECK_FALSE(ReconcileQueueSync::parse_row("app", {"public.orders", "", "0", "0"}).has_value());
  CHECK_FALSE(ReconcileQueueSync::parse_row("app", {"public.orders", "1", "x", "0"}).has_value());
  CHECK_FALSE(ReconcileQueueSync::parse_row("app", {"public.orders", "1", "0", "2.5"}).has_value());
}

TEST_CASE("the queue is looked for in the quoted schema") {
  CHECK(ReconcileQueueSync::exists_sql("pgdual") ==
        "SELECT to_regclass('\"pgdual\".reconcile_queue') IS NOT NULL");
  CHECK(ReconcileQueueSync::exists_sql("we'ird\"s") ==
        "SELECT to_regclass('\"we''ird\"\"s\".reconcile_queue') IS NOT NULL");
}
