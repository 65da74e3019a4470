// Tests of routing/cdc_rules.hpp: what strategy cdc still sends to the new store (DDL, REFRESH
// MATERIALIZED VIEW, session state, the end of a transaction pgdual opened there) and what it
// refuses (DDL with row writes, CREATE TABLE AS).

#include <catch2/catch.hpp>

#include "classified_unit.hpp"
#include "routing/cdc_rules.hpp"

using namespace pgdual;
using namespace pgdual::routing;
using routing::testing::ClassifiedUnit;

namespace {

config::MigrationConfig cdc_migration(config::DdlPolicy ddl = config::DdlPolicy::mirror) {
  config::MigrationConfig m;
  m.phase = config::Phase::dual_write;
  m.strategy = config::Strategy::cdc;
  m.ddl = ddl;
  return m;
}

MirrorDecision decide(std::string_view sql, bool in_transaction = false,
                      config::DdlPolicy ddl = config::DdlPolicy::mirror) {
  const ClassifiedUnit unit(sql);
  return decide_cdc_mirror(unit.facts, cdc_migration(ddl), in_transaction);
}

}  // namespace

TEST_CASE("cdc leaves row writes to replication", "[routing][cdc]") {
  for (const char* sql :
       {"INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "DELETE FROM t", "COPY t FROM STDIN",
        "TRUNCATE t", "SELECT 1", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "BEGIN; INSERT INTO t VALUES (1); COMMIT"}) {
    INFO(sql);
    CHECK(decide(sql).mode == MirrorMode::none);
  }
}

TEST_CASE("cdc mirrors what replication does not carry", "[routing][cdc]") {
  CHECK(decide("ALTER TABLE t ADD COLUMN b int").mode == MirrorMode::follow);
  CHECK(decide("CREATE INDEX ON t (a)").mode == MirrorMode::follow);
  CHECK(decide("REFRESH MATERIALIZED VIEW mv").mode == MirrorMode::follow);
  CHECK(decide("SET search_path TO app, public").mode == MirrorMode::follow);
  const auto block = decide("BEGIN; ALTER TABLE t ADD COLUMN b int; COMMIT");
  CHECK(block.mode == MirrorMode::follow);
  CHECK(block.ends_transaction);
}

TEST_CASE("cdc mirrors the named statements of reads, not of writes", "[routing][cdc]") {
  ClassifiedUnit read("SELECT * FROM t WHERE id = $1");
  read.facts.changes_statement_state = true;  // a named Parse, as psycopg sends after 5 runs
  CHECK(decide_cdc_mirror(read.facts, cdc_migration(), false).mode == MirrorMode::follow);
  ClassifiedUnit write("INSERT INTO t VALUES ($1)");
  write.facts.changes_statement_state = true;
  CHECK(decide_cdc_mirror(write.facts, cdc_migration(), false).mode == MirrorMode::none);
}

TEST_CASE("cdc ends on the secondary only the transactions it opened there", "[routing][cdc]") {
  CHECK(decide("COMMIT", false).mode == MirrorMode::none);
  const auto commit = decide("COMMIT", true);
  CHECK(commit.mode == MirrorMode::follow);
  CHECK(commit.ends_transaction);
  CHECK(commit.is_commit);
  CHECK(decide("ROLLBACK", true).mode == MirrorMode::follow);
  CHECK(decide("ROLLBACK TO SAVEPOINT s", true).mode == MirrorMode::follow);
  // A row write inside that transaction still goes to replication alone.
  CHECK(decide("INSERT INTO t VALUES (1)", true).mode == MirrorMode::none);
}

TEST_CASE("cdc refuses what it cannot split exactly", "[routing][cdc]") {
  const auto mixed = decide("ALTER TABLE t ADD COLUMN b int; INSERT INTO t VALUES (1, 2)");
  CHECK(mixed.mode == MirrorMode::reject);
  CHECK_THAT(mixed.reject_reason, Catch::Contains("apart from row writes"));
  const auto ctas = decide("CREATE TABLE t2 AS SELECT * FROM t");
  CHECK(ctas.mode == MirrorMode::reject);
  CHECK_THAT(ctas.reject_reason, Catch::Contains("CREATE TABLE AS"));
  CHECK(decide("SELECT * INTO t3 FROM t").mode == MirrorMode::reject);

  const ClassifiedUnit mixed_text("CREATE INDEX ON t (a); UPDATE t SET a = 1");
  CHECK(cdc_refusal(mixed_text.facts.statements, config::DdlPolicy::mirror));
  // With DDL kept on the primary nothing reaches the new store: nothing to refuse.
  CHECK_FALSE(cdc_refusal(mixed_text.facts.statements, config::DdlPolicy::primary_only));
  const ClassifiedUnit plain("INSERT INTO t VALUES (1); UPDATE t SET a = 2");
  CHECK_FALSE(cdc_refusal(plain.facts.statements, config::DdlPolicy::mirror));
}

TEST_CASE("cdc follows migration.ddl", "[routing][cdc]") {
  CHECK(decide("ALTER TABLE t ADD b int", false, config::DdlPolicy::primary_only).mode ==
        MirrorMode::none);
  const auto refused = decide("ALTER TABLE t ADD b int", false, config::DdlPolicy::reject);
  CHECK(refused.mode == MirrorMode::reject);
  CHECK_THAT(refused.reject_reason, Catch::Contains("migration.ddl"));
}
