"""Strategy cdc with copy_data: pgdual (issue 15, docs/cdc.md "Initial copy"): `pgdual backfill`
creates the forward slot over a replication connection that exports its snapshot, copies every
published table under that snapshot with its chunked copier, and attaches the subscription to
the slot, which streams every change committed after the snapshot.

Covered: pgbench TPC-B with 16 clients and a script of non-idempotent increments, deletes and
re-inserts run through pgdual while the copy runs, and every table (pgbench_history, which has
no key, included) is identical once the new store caught up; a copy stopped by SIGINT drops its
slot and empties what it copied, and a second run then copies everything; the backfill is
refused under copy_data: postgres and none (a chunked copy next to a running subscription would
collide with its inserts), and the preflight refuses tables that already hold rows on the new
store before anything is created."""

from __future__ import annotations

import json
import signal
import time

import pytest

from cdc_helpers import assert_identical, replication_name
from conftest import wait_for
from dual_write_helpers import (direct_target, finish_process, migration, needs_proxy, on_both,
                                on_store, pgbench_cmd, pgbench_summary, query, RowChurn,
                                scalar, start_process)

pytestmark = needs_proxy

ITEMS = 40000
ORDER = {"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid",
         "pgbench_history": "tid, bid, aid, delta, mtime", "items": "id"}


def cdc_migration(manage: bool = True, copy_data: str = "pgdual") -> dict:
    return migration("dual_write", strategy="cdc",
                     cdc={"manage": manage, "copy_data": copy_data,
                          "replica_identity_full": True, "health_interval_ms": 300})


def prepare_stores(env, run, direct_conn, dbname: str, items: int = ITEMS) -> None:
    """pgbench's tables with rows on the old store, empty on the new one, and an items table
    the update script works on."""
    pw = {"PGPASSWORD": env.password}
    run(pgbench_cmd(direct_target(env, "old"), env, dbname, "-i", "-s", "2", "-q"),
        timeout=120, env=pw)
    run(pgbench_cmd(direct_target(env, "new"), env, dbname, "-i", "-I", "dtp", "-s", "2", "-q"),
        timeout=120, env=pw)
    on_both(direct_conn, dbname, "CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, note text)")
    on_store(direct_conn, "old", dbname,
             f"INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, {items}) g",
             "ANALYZE")


def backfill(env, proxy, dbname: str, *args: str):
    return start_process([env.pgdual_bin, "backfill", "--config", str(proxy.config_path),
                          "--database", dbname, *args])


def slots(direct_conn, dbname: str) -> list:
    return query(direct_conn, "old", "postgres",
                 "SELECT slot_name FROM pg_replication_slots WHERE database = %s", (dbname,))


def subscriptions(direct_conn, dbname: str) -> list:
    return query(direct_conn, "new", dbname,
                 "SELECT subname, subslotname FROM pg_subscription WHERE subdbid = "
                 "(SELECT oid FROM pg_database WHERE datname = current_database())")


def drop_replication(env, run, proxy, dbname: str, direct_conn) -> None:
    result = run([env.pgdual_bin, "cdc", "teardown", "--config", str(proxy.config_path),
                  "--database", dbname, "--yes"], timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert slots(direct_conn, dbname) == []


def test_initial_copy_under_live_writes_leaves_identical_stores(env, proxy_factory, fresh_db,
                                                                direct_conn, run):
    prepare_stores(env, run, direct_conn, fresh_db)
    proxy = proxy_factory(cdc_migration())
    try:
        # The proxy's own setup (cdc.manage) publishes the tables but leaves the subscription
        # to the backfill.
        with proxy.connect(fresh_db) as conn:
            conn.execute("SELECT 1")
        name = replication_name(fresh_db)
        wait_for(lambda: scalar(direct_conn, "old", fresh_db,
                                "SELECT count(*) FROM pg_publication_tables WHERE pubname = %s",
                                (name,)) == 5, 60, what="pgdual to publish the tables")
        time.sleep(1)  # a further upkeep pass of the proxy changes nothing
        assert subscriptions(direct_conn, fresh_db) == []
        assert slots(direct_conn, fresh_db) == []

        scripts = [RowChurn(proxy, fresh_db, seed, keys=ITEMS) for seed in (1, 2)]
        for script in scripts:
            script.start()
        bench = start_process(pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "16", "-j", "2",
                                          "-T", "20", "-M", "extended"),
                              {"PGPASSWORD": env.password})
        time.sleep(2)  # the load runs before the slot and its snapshot exist
        job = backfill(env, proxy, fresh_db, "--chunk-ms", "50", "--workers", "2")
        code, out, err = finish_process(job, timeout=180)
        assert code == 0, f"backfill failed:\n{out}\n{err}\n{proxy.log_tail()}"
        summary = json.loads(out)
        assert all(t["state"] == "done" for t in summary["tables"]), summary
        assert {t["table"] for t in summary["tables"]} == {
            "public." + t for t in ORDER}, summary
        assert summary["rows_copied"] >= 200000 + ITEMS, summary
        chunks = {t["table"]: t["chunks"] for t in summary["tables"]}
        assert chunks["public.pgbench_accounts"] > 3, chunks
        notes = "\n".join(summary["notes"])
        assert f"created replication slot {name}" in notes, notes
        assert f"created subscription {name} on the new store on slot {name}" in notes, notes
        assert summary["sequences"]["failed"] == 0, summary
        assert subscriptions(direct_conn, fresh_db) == [(name, name)]

        code, bench_out, bench_err = finish_process(bench, timeout=90)
        for script in scripts:
            script.stop.set()
            script.join(timeout=30)
            assert not script.errors, script.errors
        assert code == 0, f"pgbench failed:\n{bench_out}\n{bench_err}"
        processed, failed = pgbench_summary(bench_out)
        assert processed > 0 and failed == 0, bench_out
        assert sum(s.count for s in scripts) > 100
        assert_identical(direct_conn, fresh_db, ORDER)
        # The increments raced with the copy: rows moved away from their initial 0.
        assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM items WHERE n > 0") > 50
        # The cutover gate under cdc: the subscription's tables stand for the backfill, the
        # replication lag is measured, and pgdual's own writes to the new store do not apply.
        gate = run([env.pgdual_bin, "cutover", "check", "--config", str(proxy.config_path),
                    "--database", fresh_db, "--format", "json"], timeout=60, check=False)
        assert gate.returncode in (0, 1), gate.stdout + gate.stderr
        criteria = {(c["name"], c["database"]): c for c in json.loads(gate.stdout)["criteria"]}
        assert criteria[("backfill", fresh_db)]["ok"], criteria
        assert criteria[("backfill", fresh_db)]["measured"] == "5 of 5 tables ready", criteria
        assert criteria[("replication_lag", fresh_db)]["measured"].endswith(" bytes"), criteria
        assert criteria[("rollback_path", fresh_db)]["ok"], criteria  # wal_level logical
        assert criteria[("secondary_write_success", None)]["measured"].startswith(
            "not applicable"), criteria
        # A second run finds the subscription and copies nothing.
        code, out, err = finish_process(backfill(env, proxy, fresh_db), timeout=120)
        assert code == 0, out + err
        assert "nothing to copy" in "\n".join(json.loads(out)["notes"]), out
    finally:
        proxy.stop()
        drop_replication(env, run, proxy, fresh_db, direct_conn)


def test_a_stopped_initial_copy_drops_its_slot_and_a_second_run_copies_all(env, proxy_factory,
                                                                            fresh_db, direct_conn,
                                                                            run):
    prepare_stores(env, run, direct_conn, fresh_db, items=200000)
    proxy = proxy_factory(cdc_migration(manage=False))
    try:
        # `pgdual cdc setup` publishes and leaves the subscription to the backfill.
        setup = run([env.pgdual_bin, "cdc", "setup", "--config", str(proxy.config_path),
                     "--database", fresh_db, "--format", "json"], timeout=120, check=False)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        assert json.loads(setup.stdout)["initial_copy_pending"] is True, setup.stdout
        assert slots(direct_conn, fresh_db) == []
        # Throttled so that the signal lands in the middle of the copy.
        job = backfill(env, proxy, fresh_db, "--chunk-ms", "50", "--max-rows-per-second",
                       "30000")
        wait_for(lambda: scalar(direct_conn, "new", fresh_db,
                                "SELECT count(*) FROM items") > 0 or
                 scalar(direct_conn, "new", fresh_db,
                        "SELECT count(*) FROM pgbench_accounts") > 0,
                 60, what="the copy to write its first chunks", interval=0.1)
        assert len(slots(direct_conn, fresh_db)) == 1
        job.send_signal(signal.SIGINT)
        code, out, err = finish_process(job, timeout=60)
        assert code == 1, out + err
        summary = json.loads(out)
        assert summary["stopped"] is True, summary
        notes = "\n".join(summary["notes"])
        assert "dropped replication slot" in notes, notes
        assert "emptied the partly copied tables" in notes, notes
        assert slots(direct_conn, fresh_db) == []
        assert subscriptions(direct_conn, fresh_db) == []
        for table in ("items", "pgbench_accounts"):
            assert scalar(direct_conn, "new", fresh_db, f"SELECT count(*) FROM {table}") == 0

        # Rows change between the runs: the second snapshot has them.
        on_store(direct_conn, "old", fresh_db,
                 "UPDATE items SET n = 7 WHERE id % 10 = 0", "DELETE FROM items WHERE id < 100")
        code, out, err = finish_process(backfill(env, proxy, fresh_db, "--workers", "2"),
                                        timeout=180)
        assert code == 0, out + err
        on_store(direct_conn, "old", fresh_db, "UPDATE items SET n = n + 1 WHERE id % 3 = 0")
        assert_identical(direct_conn, fresh_db, ORDER)
    finally:
        proxy.stop()
        drop_replication(env, run, proxy, fresh_db, direct_conn)


@pytest.mark.parametrize("copy_data", ["postgres", "none"])
def test_backfill_is_refused_when_the_subscription_copies_or_needs_no_copy(
        env, proxy_factory, fresh_db, direct_conn, copy_data):
    on_both(direct_conn, fresh_db, "CREATE TABLE items (id int PRIMARY KEY)")
    proxy = proxy_factory(cdc_migration(manage=False, copy_data=copy_data))
    code, out, err = finish_process(backfill(env, proxy, fresh_db), timeout=60)
    assert code == 1, out + err
    assert f"copy_data: {copy_data}" in err and "copy_data: pgdual" in err, err
    assert slots(direct_conn, fresh_db) == []


def test_rows_already_on_the_new_store_are_refused_before_anything_is_created(
        env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE items (id int PRIMARY KEY, v text)",
            "INSERT INTO items VALUES (1, 'x')")
    proxy = proxy_factory(cdc_migration(manage=False))
    code, out, err = finish_process(backfill(env, proxy, fresh_db), timeout=60)
    assert code == 1, out + err
    assert "already hold rows on the new store" in err, err
    assert slots(direct_conn, fresh_db) == []
    assert subscriptions(direct_conn, fresh_db) == []
    assert query(direct_conn, "old", fresh_db, "SELECT pubname FROM pg_publication") == []


def test_resume_tables_and_a_bad_format_are_refused_with_a_reason(env, proxy_factory, fresh_db,
                                                                  direct_conn, run):
    on_both(direct_conn, fresh_db, "CREATE TABLE items (id int PRIMARY KEY)")
    proxy = proxy_factory(cdc_migration(manage=False))
    code, out, err = finish_process(backfill(env, proxy, fresh_db, "--resume"), timeout=60)
    assert code == 1 and "cannot resume" in err, out + err
    code, out, err = finish_process(backfill(env, proxy, fresh_db, "--tables", "items"),
                                    timeout=60)
    assert code == 1 and "covers every published table" in err, out + err
    assert slots(direct_conn, fresh_db) == []
    assert query(direct_conn, "old", fresh_db, "SELECT pubname FROM pg_publication") == []
    gate = run([env.pgdual_bin, "cutover", "check", "--config", str(proxy.config_path),
                "--format", "xml"], timeout=60, check=False)
    assert gate.returncode == 2 and "--format: expected table or json" in gate.stderr, gate
