// Tests for config/loader.hpp: the migration section (rules, shadow_read, rewrite,
// nondeterministic, journal and strategy outbox).

#include "config_loader_test_support.hpp"

using namespace config_loader_test;

TEST_CASE("migration rules", "[config]") {
  SECTION("cleanup needs confirm_cleanup, wherever it appears") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  phase: cleanup
  tables:
    orders: { phase: cleanup }
  tenants:
    - match: { database: t1 }
      phase: cleanup
)");
    CHECK(has_error_at(r, "migration.phase", "cannot be rolled back"));
    CHECK(has_error_at(r, "migration.tables[\"public.orders\"].phase", "confirm_cleanup: true"));
    CHECK(has_error_at(r, "migration.tenants[0].phase", "cannot be rolled back"));
    const LoadResult confirmed =
        load(kTrust + kBackends + "migration: { phase: cleanup, confirm_cleanup: true }\n");
    CHECK(confirmed.ok());
  }
  SECTION("tenant rules") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  tenants:
    - match: {}
      phase: cutover
    - match: { database: x }
    - phase: cutover
    - match: { schema: x }
      phase: cutover
)");
    CHECK(has_error_at(r, "migration.tenants[0].match", "empty match would apply to every"));
    CHECK(has_error(r, "migration.tenants[1].phase: required"));
    CHECK(has_error_at(r, "migration.tenants[2].match", "required"));
    CHECK(has_error_at(r, "migration.tenants[3].match.schema", "unknown key"));
  }
  SECTION("enums") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  phase: dual-write
  strategy: eventual
  on_secondary_failure: ignore
  ddl: allow
  keep_old_in_sync: sometimes
)");
    CHECK(has_error(r,
                    "migration.phase: expected one of prepare, dual_write, backfill, "
                    "shadow_read, cutover, cleanup, got \"dual-write\""));
    CHECK(has_error_at(r, "migration.strategy", "sync, async, outbox"));
    CHECK(has_error_at(r, "migration.on_secondary_failure", "continue, fail"));
    CHECK(has_error_at(r, "migration.ddl", "mirror, primary_only, reject"));
    CHECK(has_error_at(r, "migration.keep_old_in_sync", "true or false"));
  }
  SECTION("tables: names, duplicates, shape") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  tables:
    orders: { phase: cutover }
    public.orders: { phase: backfill }
    a.b.c: { phase: cutover }
    items: cutover
    lines: {}
)");
    CHECK(has_error_at(r, "migration.tables[\"public.orders\"]", "already listed"));
    CHECK(has_error_at(r, "migration.tables[\"a.b.c\"]", "not a valid table name"));
    CHECK(has_error_at(r, "migration.tables.items", "expected a mapping"));
    CHECK(has_error(r, "migration.tables.lines.phase: required"));
  }
  SECTION("async cannot fail the client; function lists") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: async
  on_secondary_failure: fail
  write_functions: [audit, "bad name"]
  read_only_functions: [AUDIT]
)");
    CHECK(has_error_at(r, "migration.on_secondary_failure", "fail needs strategy sync"));
    CHECK(has_error_at(r, "migration.write_functions[1]", "not a valid function name"));
    CHECK(has_error_at(r, "migration.read_only_functions", "also listed"));
  }
}

TEST_CASE("migration.shadow_read: defaults, every key, and bad values", "[config]") {
  {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    const auto& s = r.config->migration.shadow_read;
    CHECK(s.sample_rate == 1.0);
    CHECK(s.mode == ShadowMode::compare);
    CHECK(s.timeout == std::chrono::milliseconds(2000));
    CHECK(s.log_values == LogValues::redacted);
    CHECK(s.max_buffered_bytes == std::size_t{1} << 20);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  shadow_read:
    sample_rate: 0.25
    mode: aa
    timeout_ms: 300
    max_concurrent: 8
    log_values: full
    ignore_columns: [updated_at]
    ignore_tables: [Sessions, audit.log]
    float_tolerance: 1e-9
    timestamp_precision: 3
    max_detail_rows: 5
    max_buffered_bytes: 64kB
    match_window: 100
)");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    const auto& s = r.config->migration.shadow_read;
    CHECK(s.sample_rate == 0.25);
    CHECK(s.mode == ShadowMode::aa);
    CHECK(s.timeout == std::chrono::milliseconds(300));
    CHECK(s.max_concurrent == 8);
    CHECK(s.log_values == LogValues::full);
    CHECK(s.ignore_columns == std::vector<std::string>{"updated_at"});
    CHECK(s.ignore_tables == std::vector<std::string>{"public.sessions", "audit.log"});
    CHECK(s.float_tolerance == 1e-9);
    CHECK(s.timestamp_precision == 3);
    CHECK(s.max_detail_rows == 5);
    CHECK(s.max_buffered_bytes == 64 * 1024);
    CHECK(s.match_window == 100);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  shadow_read:
    sample_rate: 1.5
    mode: sometimes
    timestamp_precision: 9
    surprise: 1
)");
    CHECK_FALSE(r.ok());
    CHECK(has_error_at(r, "migration.shadow_read.sample_rate", "between 0 and 1"));
    CHECK(has_error_at(r, "migration.shadow_read.mode", "compare, aa"));
    CHECK(has_error_at(r, "migration.shadow_read.timestamp_precision"));
    CHECK(has_error_at(r, "migration.shadow_read.surprise"));
  }
}

TEST_CASE("migration.rewrite and migration.nondeterministic", "[config]") {
  {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    CHECK(r.config->migration.rewrite);
    CHECK(r.config->migration.nondeterministic == Nondeterministic::allow);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  rewrite: false
  nondeterministic: reject
)");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    CHECK_FALSE(r.config->migration.rewrite);
    CHECK(r.config->migration.nondeterministic == Nondeterministic::reject);
  }
  {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  nondeterministic: sometimes
)");
    CHECK(has_error_at(r, "migration.nondeterministic", "allow, serialize, reject"));
  }
}

TEST_CASE("migration.journal and strategy outbox", "[config]") {
  SECTION("defaults") {
    const LoadResult r = load(kTrust + kBackends);
    REQUIRE(r.ok());
    const auto& j = r.config->migration.journal;
    CHECK(j.enabled);
    CHECK(j.store == JournalStore::table);
    CHECK(j.schema == "pgdual");
    CHECK(j.instance.empty());
    CHECK(j.max_attempts == 5);
    CHECK(j.retry_base == std::chrono::milliseconds(100));
    CHECK(j.retry_max == std::chrono::milliseconds(30000));
  }
  SECTION("every key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: outbox
  journal:
    store: table
    schema: mig_state
    instance: pod-7
    databases: [app, billing]
    max_attempts: 3
    retry_base_ms: 10
    retry_max_ms: 500
    poll_interval_ms: 50
    permanent_sqlstates: ["23505", "22"]
)");
    REQUIRE(r.ok());
    const auto& m = r.config->migration;
    CHECK(m.strategy == Strategy::outbox);
    CHECK(m.journal.schema == "mig_state");
    CHECK(m.journal.instance == "pod-7");
    CHECK(m.journal.databases == std::vector<std::string>{"app", "billing"});
    CHECK(m.journal.max_attempts == 3);
    CHECK(m.journal.poll_interval == std::chrono::milliseconds(50));
    CHECK(m.journal.permanent_sqlstates == std::vector<std::string>{"23505", "22"});
  }
  SECTION("bad values are refused with the key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  journal:
    schema: "Bad-Schema"
    permanent_sqlstates: ["2350", "x"]
    retry_base_ms: 1000
    retry_max_ms: 10
    store: disk
)");
    CHECK(has_error_at(r, "migration.journal.schema", "plain lower-case identifier"));
    CHECK(has_error_at(r, "migration.journal.permanent_sqlstates[0]", "SQLSTATE"));
    CHECK(has_error_at(r, "migration.journal.permanent_sqlstates[1]", "SQLSTATE"));
    CHECK(has_error_at(r, "migration.journal.retry_max_ms", "retry_base_ms"));
    CHECK(has_error_at(r, "migration.journal.store", "table, file"));
  }
  SECTION("outbox needs the table journal and continue") {
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, journal: { enabled: false } }\n"),
        "migration.strategy", "journal.enabled"));
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, journal: { store: file } }\n"),
        "migration.strategy", "store: table"));
    CHECK(has_error_at(
        load(kTrust + kBackends + "migration: { strategy: outbox, on_secondary_failure: fail }\n"),
        "migration.on_secondary_failure", "outbox"));
  }
}

TEST_CASE("strategy cdc", "[config]") {
  SECTION("defaults and every key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  phase: dual_write
  strategy: cdc
  cdc:
    copy_data: none
    wait: commit
    publisher: { host: old.internal, port: 5433, user: replicator }
    replica_identity_full: true
    poll_interval_ms: 2
    health_interval_ms: 1000
    manage: false
)");
    REQUIRE(r.ok());
    const auto& cdc = r.config->migration.cdc;
    CHECK(r.config->migration.strategy == Strategy::cdc);
    CHECK(cdc.copy_data == CdcCopyData::none);
    CHECK(cdc.wait == CdcWait::commit);
    REQUIRE(cdc.publisher);
    CHECK(cdc.publisher->host == "old.internal");
    CHECK(cdc.publisher->port == 5433);
    CHECK(cdc.replica_identity_full);
    CHECK(cdc.poll_interval == std::chrono::milliseconds(2));
    CHECK(cdc.health_interval == std::chrono::milliseconds(1000));
    CHECK_FALSE(cdc.manage);
    const LoadResult defaults =
        load(kTrust + kBackends + "migration: { phase: dual_write, strategy: cdc }\n");
    REQUIRE(defaults.ok());
    CHECK(defaults.config->migration.cdc.copy_data == CdcCopyData::postgres);
    CHECK(defaults.config->migration.cdc.wait == CdcWait::none);
    CHECK_FALSE(defaults.config->migration.cdc.publisher);
    CHECK(defaults.config->migration.cdc.manage);
    const LoadResult own_copy = load(kTrust + kBackends +
                                     "migration: { phase: dual_write, strategy: cdc, "
                                     "cdc: { copy_data: pgdual } }\n");
    REQUIRE(own_copy.ok());
    CHECK(own_copy.config->migration.cdc.copy_data == CdcCopyData::pgdual);
  }
  SECTION("bad values name the key") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: cdc
  cdc: { copy_data: pgcopydb, wait: apply, poll_interval_ms: 0, slot: x }
)");
    CHECK(has_error_at(r, "migration.cdc.copy_data", "postgres, pgdual, none"));
    CHECK(has_error_at(r, "migration.cdc.wait", "none, commit"));
    CHECK(has_error_at(r, "migration.cdc.poll_interval_ms", ""));
    CHECK(has_error_at(r, "migration.cdc.slot", "unknown key"));
  }
  SECTION("tenant rules may match only the database") {
    const LoadResult r = load(kTrust + kBackends + R"(
migration:
  strategy: cdc
  tenants:
    - match: { database: a }
      phase: dual_write
    - match: { user: app }
      phase: dual_write
)");
    CHECK(has_error_at(r, "migration.tenants[1].match", "match only on database"));
    CHECK_FALSE(has_error_at(r, "migration.tenants[0].match", ""));
  }
  SECTION(
      "cutover is a phase like the others (the session refuses writes until the reverse "
      "replication is ready)") {
    const LoadResult r =
        load(kTrust + kBackends + "migration: { phase: cutover, strategy: cdc }\n");
    CHECK(r.ok());
  }
}

TEST_CASE("migration.cutover: the gate's criteria and force", "[config]") {
  const LoadResult r = load(kTrust + kBackends + R"(
migration:
  cutover:
    force: true
    criteria:
      window_s: 60
      min_match_rate: 0.99
      min_comparisons: 10
      min_secondary_success_rate: 0.9
      min_writes: 5
      max_p99_latency_increase: 0.5
      max_unresolved: 2
      max_journal_entries: 3
      max_replication_lag_bytes: 4096
      sequences_synced: false
)");
  REQUIRE(r.ok());
  const auto& cutover = r.config->migration.cutover;
  CHECK(cutover.force);
  CHECK(cutover.criteria.window == std::chrono::seconds(60));
  CHECK(cutover.criteria.min_match_rate == 0.99);
  CHECK(cutover.criteria.min_comparisons == 10);
  CHECK(cutover.criteria.min_secondary_success_rate == 0.9);
  CHECK(cutover.criteria.min_writes == 5);
  CHECK(cutover.criteria.max_p99_latency_increase == 0.5);
  CHECK(cutover.criteria.max_unresolved == 2);
  CHECK(cutover.criteria.max_journal_entries == 3);
  CHECK(cutover.criteria.max_replication_lag_bytes == 4096);
  CHECK_FALSE(cutover.criteria.sequences_synced);
  const LoadResult defaults = load(kTrust + kBackends + "migration: { phase: dual_write }\n");
  REQUIRE(defaults.ok());
  CHECK_FALSE(defaults.config->migration.cutover.force);
  CHECK(defaults.config->migration.cutover.criteria.min_match_rate == 0.999);
  CHECK(defaults.config->migration.cutover.criteria.min_secondary_success_rate == 0.9995);
  CHECK(defaults.config->migration.cutover.criteria.max_p99_latency_increase == 0.2);
  const LoadResult bad = load(kTrust + kBackends + R"(
migration:
  cutover: { criteria: { min_match_rate: 1.5, window: 3 } }
)");
  CHECK(has_error_at(bad, "migration.cutover.criteria.min_match_rate", ""));
  CHECK(has_error_at(bad, "migration.cutover.criteria.window", "unknown key"));
}

TEST_CASE("migration.cutover: coordination and the flip's pause bound", "[config]") {
  const LoadResult r = load(kTrust + kBackends + R"(
migration:
  cutover: { coordination: local, pause_timeout_ms: 1500 }
)");
  REQUIRE(r.ok());
  CHECK(r.config->migration.cutover.coordination == Coordination::local);
  CHECK(r.config->migration.cutover.pause_timeout == std::chrono::milliseconds(1500));
  const LoadResult defaults = load(kTrust + kBackends + "migration: { phase: dual_write }\n");
  REQUIRE(defaults.ok());
  CHECK(defaults.config->migration.cutover.coordination == Coordination::fleet);
  CHECK(defaults.config->migration.cutover.pause_timeout == std::chrono::milliseconds(5000));
  const LoadResult bad = load(kTrust + kBackends + R"(
migration:
  cutover: { coordination: everyone, pause_timeout_ms: 10 }
)");
  CHECK(has_error_at(bad, "migration.cutover.coordination", "fleet, local"));
  CHECK(has_error_at(bad, "migration.cutover.pause_timeout_ms", ""));
}
