#include <catch2/catch.hpp>

#include "routing/sync_wait.hpp"

using namespace pgdual::routing;
using pgdual::config::Strategy;
using pgdual::protocol::TxnStatus;

TEST_CASE("under sync a COMMIT waits for the secondary to catch up before the primary runs it") {
  MirrorDecision commit;
  commit.ends_transaction = true;
  CHECK(commit_waits_for_catch_up(Strategy::sync, commit));
  CHECK_FALSE(commit_waits_for_catch_up(Strategy::async, commit));
  CHECK_FALSE(commit_waits_for_catch_up(Strategy::outbox, commit));
  CHECK_FALSE(commit_waits_for_catch_up(Strategy::sync, MirrorDecision{}));
}

TEST_CASE("under sync the ReadyForQuery that leaves the primary idle waits for the secondary") {
  CHECK(ready_for_query_waits(Strategy::sync, true, TxnStatus::idle, true));
}

TEST_CASE("no wait inside a transaction, for an unmirrored unit, or without a secondary") {
  CHECK_FALSE(ready_for_query_waits(Strategy::sync, true, TxnStatus::in_transaction, true));
  CHECK_FALSE(ready_for_query_waits(Strategy::sync, true, TxnStatus::failed, true));
  CHECK_FALSE(ready_for_query_waits(Strategy::sync, false, TxnStatus::idle, true));
  CHECK_FALSE(ready_for_query_waits(Strategy::sync, true, TxnStatus::idle, false));
}

TEST_CASE("async and outbox acknowledge without waiting") {
  CHECK_FALSE(ready_for_query_waits(Strategy::async, true, TxnStatus::idle, true));
  CHECK_FALSE(ready_for_query_waits(Strategy::outbox, true, TxnStatus::idle, true));
}
