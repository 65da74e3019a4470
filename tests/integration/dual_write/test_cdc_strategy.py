"""Strategy cdc (issue 15, docs/cdc.md): pgdual sends writes to the old store only and the new
store receives them from the old store's WAL through PostgreSQL's logical replication. Here the
replication objects are made with SQL (cdc.manage: false) so that these tests exercise the data
path alone; tests/integration/operations/test_cdc_cli.py tests pgdual's own setup.

Covered: pgbench TPC-B in the three protocol modes and 16 clients racing last-write-wins updates
on three hot rows leave every table identical once the new store caught up; writes made on the
old store directly, rows written by triggers and volatile defaults arrive identical; DDL through
pgdual reaches the new store (and a rolled-back one does not), DDL mixed with row writes is
refused; cdc.wait: commit makes every committed row visible on the new store when COMMIT
returns; a new store that is down for 20 s under load catches up with nothing lost."""

from __future__ import annotations

import time

import psycopg
import pytest

from cdc_helpers import assert_identical, subscribe_by_hand, unsubscribe_by_hand, wait_caught_up
from conftest import wait_for
from dual_write_helpers import (direct_target, finish_process, metric, migration, needs_proxy,
                                on_store, pg_servers, pgbench_cmd, pgbench_summary, query,
                                scalar, start_process)

pytestmark = needs_proxy
__all__ = ["pg_servers"]  # a fixture, imported for the down-store test

PGBENCH_ORDER = {"pgbench_accounts": "aid", "pgbench_tellers": "tid",
                 "pgbench_branches": "bid", "pgbench_history": "tid, bid, aid, delta, mtime"}


def cdc_migration(**cdc) -> dict:
    settings = {"manage": False, **cdc}
    return migration("dual_write", strategy="cdc", cdc=settings)


@pytest.fixture
def subscribed(env, direct_conn, fresh_db, run):
    """pgbench's tables with rows on the old store, empty on the new one, and the subscription
    that copies them; dropped after the test."""
    pw = {"PGPASSWORD": env.password}
    run(pgbench_cmd(direct_target(env, "old"), env, fresh_db, "-i", "-s", "1", "-q"),
        timeout=120, env=pw)
    run(pgbench_cmd(direct_target(env, "new"), env, fresh_db, "-i", "-I", "dtp", "-s", "1", "-q"),
        timeout=120, env=pw)
    subscribe_by_hand(env, direct_conn, fresh_db)
    yield fresh_db
    unsubscribe_by_hand(direct_conn, fresh_db)


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_tpcb_leaves_stores_identical(env, proxy_factory, subscribed, direct_conn, run,
                                              mode):
    proxy = proxy_factory(cdc_migration())
    out = run(pgbench_cmd(proxy, env, subscribed, "-n", "-c", "4", "-j", "2", "-T", "5",
                          "-M", mode), timeout=120, env={"PGPASSWORD": env.password})
    processed, failed = pgbench_summary(out.stdout)
    assert processed > 50 and failed == 0
    assert_identical(direct_conn, subscribed, PGBENCH_ORDER)
    assert scalar(direct_conn, "new", subscribed, "SELECT count(*) FROM pgbench_history") == processed
    # Rows came from replication alone: pgdual sent no write to the new store (only, in prepared
    # mode, the named Parse of each read, which shadow reads would Bind there).
    assert metric(proxy, "pgdual_backend_queries_total", {"backend": "new", "kind": "write"}) == 0
    assert metric(proxy, "pgdual_backend_queries_total", {"backend": "old", "kind": "write"}) > 0
    if mode != "prepared":
        assert metric(proxy, "pgdual_routing_decisions_total", {"decision": "both"}) == 0


def test_sixteen_clients_racing_on_hot_rows(env, proxy_factory, fresh_db, direct_conn, run,
                                            tmp_path):
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db,
                 "CREATE TABLE hot (id int PRIMARY KEY, v int NOT NULL, n int NOT NULL)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO hot SELECT g, 0, 0 FROM generate_series(1, 3) g")
    subscribe_by_hand(env, direct_conn, fresh_db)
    script = tmp_path / "hot.sql"
    script.write_text("\\set id random(1, 3)\n"
                      "UPDATE hot SET v = :client_id, n = n + 1 WHERE id = :id;\n")
    proxy = proxy_factory(cdc_migration())
    out = run(pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "16", "-j", "2", "-T", "6",
                          "-f", str(script)), timeout=120, env={"PGPASSWORD": env.password})
    processed, failed = pgbench_summary(out.stdout)
    assert processed > 100 and failed == 0
    assert_identical(direct_conn, fresh_db, {"hot": "id"})
    assert scalar(direct_conn, "new", fresh_db, "SELECT sum(n) FROM hot") == processed
    unsubscribe_by_hand(direct_conn, fresh_db)


def test_bypassing_writes_triggers_and_volatile_defaults_arrive(env, proxy_factory, fresh_db,
                                                                direct_conn):
    schema = [
        "CREATE TABLE events (id bigserial PRIMARY KEY, token uuid DEFAULT gen_random_uuid(), "
        "r float8 DEFAULT random(), at timestamptz DEFAULT clock_timestamp(), note text)",
        "CREATE TABLE audit (id bigserial PRIMARY KEY, event_id bigint, r float8, "
        "by_trigger text DEFAULT md5(random()::text))",
        "CREATE FUNCTION log_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO audit (event_id, r) VALUES (NEW.id, random()); RETURN NEW; END $$",
        "CREATE TRIGGER log_event AFTER INSERT OR UPDATE ON events "
        "FOR EACH ROW EXECUTE FUNCTION log_event()",
    ]
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, *schema)
    subscribe_by_hand(env, direct_conn, fresh_db)
    proxy = proxy_factory(cdc_migration())
    with proxy.connect(fresh_db) as conn:
        for i in range(50):
            conn.execute("INSERT INTO events (note) VALUES (%s)", (f"via pgdual {i}",))
        conn.execute("UPDATE events SET note = note || ' (updated at ' || clock_timestamp() || ')' "
                     "WHERE id % 7 = 0")
    with direct_conn("old", fresh_db) as conn:  # a writer that bypasses pgdual
        for i in range(50):
            conn.execute("INSERT INTO events (note, r) VALUES (%s, random() * 1000)",
                         (f"direct {i}",))
        conn.execute("DELETE FROM events WHERE id % 11 = 0")
    assert_identical(direct_conn, fresh_db, {"events": "id", "audit": "id"})
    # The new store's trigger did not fire on replicated rows (only the old store's rows are
    # there): 100 inserts and 7 updates.
    assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM audit") == 107
    unsubscribe_by_hand(direct_conn, fresh_db)


def test_ddl_through_pgdual_reaches_new_store(env, proxy_factory, fresh_db, direct_conn):
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, "CREATE TABLE t (id int PRIMARY KEY, a text)")
    subscribe_by_hand(env, direct_conn, fresh_db)
    proxy = proxy_factory(cdc_migration())
    with proxy.connect(fresh_db) as conn:
        conn.execute("ALTER TABLE t ADD COLUMN b int DEFAULT 7")
        conn.execute("INSERT INTO t (id, a, b) VALUES (1, 'x', 8)")
        with conn.transaction():
            conn.execute("ALTER TABLE t ADD COLUMN c text")
            conn.execute("INSERT INTO t (id, a, c) VALUES (2, 'y', 'in block')")
        try:
            with conn.transaction():
                conn.execute("INSERT INTO t (id, a) VALUES (3, 'z')")
                conn.execute("ALTER TABLE t ADD COLUMN gone int")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with pytest.raises(psycopg.Error, match="DDL must be sent apart from row writes"):
            conn.execute("ALTER TABLE t ADD COLUMN mixed int; INSERT INTO t VALUES (4, 'w')")
        with pytest.raises(psycopg.Error, match="created and filled in one statement"):
            conn.execute("CREATE TABLE copy_of_t AS SELECT * FROM t")
    columns = "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute " \
              "WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped"
    assert scalar(direct_conn, "old", fresh_db, columns) == "id,a,b,c"
    assert scalar(direct_conn, "new", fresh_db, columns) == "id,a,b,c"
    assert_identical(direct_conn, fresh_db, {"t": "id"})
    assert query(direct_conn, "new", fresh_db, "SELECT id, b, c FROM t ORDER BY id") == \
        [(1, 8, None), (2, 7, "in block")]
    unsubscribe_by_hand(direct_conn, fresh_db)


def test_wait_commit_makes_the_write_visible_on_the_new_store(env, proxy_factory, fresh_db,
                                                              direct_conn):
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, "CREATE TABLE seen (id int PRIMARY KEY, v text)")
    subscribe_by_hand(env, direct_conn, fresh_db)
    proxy = proxy_factory(cdc_migration(wait="commit"))
    with proxy.connect(fresh_db) as conn, direct_conn("new", fresh_db) as new:
        for i in range(60):
            if i % 2:
                conn.execute("INSERT INTO seen VALUES (%s, 'autocommit')", (i,))
            else:
                with conn.transaction():
                    conn.execute("INSERT INTO seen VALUES (%s, 'block')", (i,))
            # Right after COMMIT returned: the new store has it.
            assert new.execute("SELECT v FROM seen WHERE id = %s", (i,)).fetchone(), i
    assert metric(proxy, "pgdual_cdc_commit_waits_total", {"outcome": "applied"}) >= 60
    assert metric(proxy, "pgdual_cdc_commit_waits_total", {"outcome": "timeout"}) == 0
    unsubscribe_by_hand(direct_conn, fresh_db)


def test_new_store_down_for_20_seconds_under_load_catches_up(env, proxy_factory, subscribed,
                                                             direct_conn, pg_servers):
    proxy = proxy_factory(cdc_migration())
    bench = start_process(pgbench_cmd(proxy, env, subscribed, "-n", "-c", "4", "-j", "2",
                                      "-T", "32", "-M", "extended"), {"PGPASSWORD": env.password})
    time.sleep(4)
    pg_servers.stop("new")
    time.sleep(20)
    pg_servers.start("new")
    code, out, err = finish_process(bench, timeout=120)
    assert code == 0, f"{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 100 and failed == 0
    assert_identical(direct_conn, subscribed, PGBENCH_ORDER)


def test_pgdual_run_sets_up_replication_itself_and_exports_its_health(env, proxy_factory,
                                                                      fresh_db, direct_conn,
                                                                      run):
    """cdc.manage (the default): the first session of a database makes pgdual create the
    publication, subscription and slot (after the preflight checks); the initial copy brings the
    existing rows; the health metrics follow; `pgdual cdc teardown` leaves no slot."""
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, "CREATE TABLE items (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO items SELECT g, 'before ' || g FROM generate_series(1, 500) g")
    proxy = proxy_factory(migration("dual_write", strategy="cdc",
                                    cdc={"health_interval_ms": 300, "wait": "commit"}))
    try:
        with proxy.connect(fresh_db) as conn:
            conn.execute("SELECT 1")
            wait_for(lambda: metric(proxy, "pgdual_cdc_ready", {"database": fresh_db}) == 1, 90,
                     what="pgdual to set up replication and the initial copy to finish")
            for i in range(501, 521):
                conn.execute("INSERT INTO items VALUES (%s, 'through pgdual')", (i,))
            # cdc.wait: commit: on the new store once COMMIT returned.
            assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM items") == 520
        assert_identical(direct_conn, fresh_db, {"items": "id"})
        assert metric(proxy, "pgdual_cdc_tables", {"database": fresh_db, "state": "r"}) == 1
        assert metric(proxy, "pgdual_cdc_subscription_enabled", {"database": fresh_db}) == 1
        assert metric(proxy, "pgdual_cdc_slot_wal_status",
                      {"database": fresh_db, "status": "reserved"}) == 1
        wait_for(lambda: metric(proxy, "pgdual_cdc_slot_retained_bytes",
                                {"database": fresh_db}) > 0, 10, what="the slot's retained WAL")
        assert "pgdual_cdc_lag_bytes{" in proxy.metrics()
        assert metric(proxy, "pgdual_cdc_commit_waits_total", {"outcome": "applied"}) >= 20
        # A table created through pgdual joins the publication once its DDL committed, and its
        # rows (written before and after) reach the new store.
        with proxy.connect(fresh_db) as conn:
            conn.execute("CREATE TABLE later (id int PRIMARY KEY, v text)")
            conn.execute("INSERT INTO later SELECT g, 'early' FROM generate_series(1, 50) g")
            wait_for(lambda: scalar(direct_conn, "new", fresh_db,
                                    "SELECT count(*) FROM later") == 50, 60,
                     what="the new table to be published and copied")
            conn.execute("INSERT INTO later VALUES (51, 'late')")
        assert_identical(direct_conn, fresh_db, {"items": "id", "later": "id"})
    finally:
        proxy.stop()
        teardown = run([env.pgdual_bin, "cdc", "teardown", "--config", str(proxy.config_path),
                        "--database", fresh_db, "--yes"], timeout=120, check=False,
                       env={"PGDUAL_TEST_PASSWORD": env.password})
    assert teardown.returncode == 0, teardown.stdout + teardown.stderr
    assert scalar(direct_conn, "old", "postgres",
                  "SELECT count(*) FROM pg_replication_slots WHERE database = %s",
                  (fresh_db,)) == 0


def test_shadow_reads_compare_under_cdc(env, proxy_factory, fresh_db, direct_conn):
    """Phase shadow_read works unchanged under cdc: reads through pgdual are compared with the
    new store, which replication keeps identical (match), and drift made directly on the new
    store is reported (mismatch)."""
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, "CREATE TABLE accounts (id int PRIMARY KEY, v int)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO accounts SELECT g, g FROM generate_series(1, 20) g")
    subscribe_by_hand(env, direct_conn, fresh_db)
    proxy = proxy_factory(migration("shadow_read", strategy="cdc", cdc={"manage": False}))
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE accounts SET v = v + 100 WHERE id <= 5")
        wait_caught_up(direct_conn, fresh_db)
        for _ in range(10):
            conn.execute("SELECT * FROM accounts WHERE id <= 10 ORDER BY id").fetchall()
        # psycopg prepares a statement it ran five times (a named Parse): the new store gets it
        # too, or the shadow reads from the sixth on would fail there.
        wait_for(lambda: metric(proxy, "pgdual_shadow_reads_total",
                                {"table": "public.accounts", "result": "match"}) >= 10, 10,
                 what="ten compared reads")
        assert metric(proxy, "pgdual_shadow_reads_total",
                      {"table": "public.accounts", "result": "error"}) == 0
        on_store(direct_conn, "new", fresh_db, "UPDATE accounts SET v = -1 WHERE id = 3")
        conn.execute("SELECT * FROM accounts WHERE id <= 10 ORDER BY id").fetchall()
        wait_for(lambda: metric(proxy, "pgdual_shadow_reads_total",
                                {"table": "public.accounts", "result": "mismatch"}) >= 1, 10,
                 what="the drift to be reported")
    unsubscribe_by_hand(direct_conn, fresh_db)


def test_wait_commit_without_replication_follows_on_secondary_failure(env, proxy_factory,
                                                                      fresh_db, direct_conn):
    """cdc.wait: commit while the subscription is disabled: the commit stands on the old store;
    under on_secondary_failure: fail the client hears SQLSTATE 58000 after it, under continue it
    does not; both are counted, and the row reaches the new store once replication resumes."""
    for which in ("old", "new"):
        on_store(direct_conn, which, fresh_db, "CREATE TABLE t (id int PRIMARY KEY)")
    name = subscribe_by_hand(env, direct_conn, fresh_db)
    on_store(direct_conn, "new", fresh_db, f"ALTER SUBSCRIPTION {name} DISABLE")
    proxy = proxy_factory(migration("dual_write", strategy="cdc", on_secondary_failure="fail",
                                    cdc={"manage": False, "wait": "commit",
                                         "health_interval_ms": 200}),
                          limits={"secondary_timeout_ms": 1000})
    with proxy.connect(fresh_db) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("INSERT INTO t VALUES (1)")
        assert refused.value.sqlstate == "58000"
        assert "committed on the old store" in str(refused.value)
    assert scalar(direct_conn, "old", fresh_db, "SELECT count(*) FROM t") == 1
    lost = metric(proxy, "pgdual_cdc_commit_waits_total", {"outcome": "not_ready"}) + \
        metric(proxy, "pgdual_cdc_commit_waits_total", {"outcome": "timeout"})
    assert lost >= 1
    continuing = proxy_factory(migration("dual_write", strategy="cdc",
                                         cdc={"manage": False, "wait": "commit"}),
                               limits={"secondary_timeout_ms": 1000})
    with continuing.connect(fresh_db) as conn:
        conn.execute("INSERT INTO t VALUES (2)")  # continue: answered, counted
    assert metric(continuing, "pgdual_cdc_commit_waits_total", {"outcome": "not_ready"}) + \
        metric(continuing, "pgdual_cdc_commit_waits_total", {"outcome": "timeout"}) == 1
    on_store(direct_conn, "new", fresh_db, f"ALTER SUBSCRIPTION {name} ENABLE")
    assert_identical(direct_conn, fresh_db, {"t": "id"})
    unsubscribe_by_hand(direct_conn, fresh_db)
