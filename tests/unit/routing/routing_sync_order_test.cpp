// routing/sync_order: which autocommit units pgdual wraps under sync so that the primary's locks
// are held until the secondary applied them, and which it lets through counted.

#include <catch2/catch.hpp>

#include "classified_unit.hpp"
#include "routing/sync_order.hpp"

using namespace pgdual::routing;
using pgdual::config::Strategy;
using pgdual::protocol::TxnStatus;

namespace {

AutocommitUnit mirrored_write(TxnStatus after = TxnStatus::idle) {
  AutocommitUnit unit;
  unit.strategy = Strategy::sync;
  unit.mirrored = true;
  unit.is_write = true;
  unit.after = after;
  return unit;
}

AutocommitOrderDecision decide(std::string_view sql, AutocommitUnit unit = mirrored_write()) {
  testing::ClassifiedUnit classified(sql);
  return autocommit_order(classified.facts, unit);
}

}  // namespace

TEST_CASE("sync: an autocommit UPDATE, upsert, DELETE or multi-statement write is wrapped") {
  CHECK(decide("UPDATE hot SET v = 1 WHERE id = 2").order == AutocommitOrder::wrap);
  CHECK(decide("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2").order ==
        AutocommitOrder::wrap);
  CHECK(decide("DELETE FROM t WHERE id = 3").order == AutocommitOrder::wrap);
  CHECK(decide("UPDATE a SET v = 1, UPDATE b SET v = 2").order != AutocommitOrder::wrap);
  CHECK(decide("UPDATE a SET v = 1; SELECT 1; DELETE FROM b").order == AutocommitOrder::wrap);
}

TEST_CASE("not needed: other strategies, unmirrored units, reads, transactions already open") {
  auto async = mirrored_write();
  async.strategy = Strategy::async;
  CHECK(decide("UPDATE t SET v = 1", async).order == AutocommitOrder::not_needed);
  auto alone = mirrored_write();
  alone.mirrored = false;
  CHECK(decide("UPDATE t SET v = 1", alone).order == AutocommitOrder::not_needed);
  auto read = mirrored_write();
  read.is_write = false;
  CHECK(decide("SELECT 1", read).order == AutocommitOrder::not_needed);
  auto inside = mirrored_write(TxnStatus::in_transaction);
  inside.before = TxnStatus::in_transaction;
  CHECK(decide("UPDATE t SET v = 1", inside).order == AutocommitOrder::not_needed);
  // BEGIN; UPDATE: the transaction's own COMMIT comes later and waits as usual.
  CHECK(decide("BEGIN; UPDATE t SET v = 1", mirrored_write(TxnStatus::in_transaction)).order ==
        AutocommitOrder::not_needed);
}

TEST_CASE("unprotected, with a reason: a COMMIT inside the unit, COPY, a flushed batch, DDL") {
  const auto commit_inside = decide("BEGIN; UPDATE t SET v = 1; COMMIT");
  CHECK(commit_inside.order == AutocommitOrder::unprotected);
  CHECK(commit_inside.reason == "commit_in_unit");
  auto copy = mirrored_write();
  copy.runs_copy = true;
  CHECK(decide("COPY t FROM STDIN", copy).reason == "copy");
  auto flushed = mirrored_write();
  flushed.bytes_flushed = true;
  CHECK(decide("UPDATE t SET v = 1", flushed).reason == "unit_flushed");
  const auto ddl = decide("CREATE INDEX CONCURRENTLY i ON t (v)");
  CHECK(ddl.order == AutocommitOrder::unprotected);
  CHECK(ddl.reason == "statement_kind");
  CHECK(decide("SET search_path = x; UPDATE t SET v = 1").reason == "statement_kind");
}
