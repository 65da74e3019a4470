"""`pgdual reconcile` while the application writes through pgdual (issue 14): pgbench TPC-B with
16 clients racing on a few hot rows (2 branches, 20 tellers) and a script of increments, deletes
and re-inserts, in dual_write under sync and under outbox. Every reconcile run during the load
reports zero differences (a write in flight between the stores is rechecked under the old
store's row locks once it has landed, never reported), and drift injected directly on the new
store during the load is found exactly and repaired with --repair execute, after which the stores
are identical by full ordered digests."""

from __future__ import annotations

import json
import time

import pytest

from dual_write_helpers import (direct_target, finish_process, migration, needs_proxy, on_both,
                                on_store, pgbench_cmd, query, RowChurn, start_process,
                                table_digest, wait_sessions_settled)

pytestmark = needs_proxy

ITEMS = 20000
UNTOUCHED = range(ITEMS + 1, ITEMS + 11)  # rows the load never writes: where drift is injected
TABLES = "pgbench_accounts,pgbench_branches,pgbench_tellers,items"
ORDER = {"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid",
         "items": "id"}
LOAD_SECONDS = 20


def prepare_stores(env, run, direct_conn, dbname: str) -> None:
    """The same pgbench tables and rows on both stores (pgbench -i is deterministic but for
    history, which starts empty), and an items table."""
    for which in ("old", "new"):
        run(pgbench_cmd(direct_target(env, which), env, dbname, "-i", "-s", "2", "-q"),
            timeout=120, env={"PGPASSWORD": env.password})
    on_both(direct_conn, dbname,
            "CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, note text)",
            f"INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, {ITEMS + 10}) g",
            "ANALYZE")


class Load:
    """pgbench (16 clients) and two increment scripts through pgdual, for LOAD_SECONDS."""

    def __init__(self, env, proxy, dbname: str, strategy: str):
        # Under outbox every write reaches the new store through the one relay thread; a rate
        # it keeps up with (the backfill's live test explains) still races every comparison.
        pause = 0.0 if strategy == "sync" else 0.02
        rate = [] if strategy == "sync" else ["-R", "60"]
        # Never UNTOUCHED: that is where the tests inject drift.
        self.scripts = [RowChurn(proxy, dbname, seed, keys=ITEMS, pause=pause,
                                 updates_per_delete=2) for seed in (1, 2)]
        for script in self.scripts:
            script.start()
        self.bench = start_process(pgbench_cmd(proxy, env, dbname, "-n", "-c", "16", "-j", "2",
                                               *rate, "-T", str(LOAD_SECONDS),
                                               "-M", "extended"),
                                   {"PGPASSWORD": env.password})
        self.proxy = proxy

    def running(self) -> bool:
        return self.bench.poll() is None

    def finish(self) -> None:
        code, out, err = finish_process(self.bench, timeout=LOAD_SECONDS + 60)
        for script in self.scripts:
            script.stop.set()
            script.join(timeout=30)
        assert code == 0, f"pgbench failed:\n{out}\n{err}\n{self.proxy.log_tail()}"
        for script in self.scripts:
            assert not script.errors, script.errors
            assert script.count > 0


def reconcile(env, proxy, dbname: str, *args: str) -> tuple[int, dict, str]:
    process = start_process([env.pgdual_bin, "reconcile", "--config", str(proxy.config_path),
                             "--database", dbname, "--tables", TABLES, "--format", "json",
                             "--chunk-ms", "20", *args])
    code, out, err = finish_process(process, timeout=180)
    try:
        report = json.loads(out)
    except ValueError:
        pytest.fail(f"no JSON report (exit {code}):\n{out}\n{err}\n{proxy.log_tail()}")
    return code, report, err


def assert_identical(direct_conn, dbname: str) -> None:
    differing = {}
    for table, order in ORDER.items():
        old = table_digest(direct_conn, "old", dbname, table, order)
        new = table_digest(direct_conn, "new", dbname, table, order)
        if old != new:
            differing[table] = (old, new)
    assert not differing, f"stores differ: {differing}"


@pytest.mark.parametrize("strategy", ["sync", "outbox"])
def test_reconcile_under_live_writes_reports_no_false_difference(env, proxy_factory, fresh_db,
                                                                 direct_conn, run, strategy,
                                                                 tmp_path):
    prepare_stores(env, run, direct_conn, fresh_db)
    proxy = proxy_factory(migration("dual_write", strategy=strategy))
    load = Load(env, proxy, fresh_db, strategy)
    time.sleep(2)
    runs, cleared = 0, 0
    while load.running() or runs == 0:
        code, report, err = reconcile(env, proxy, fresh_db)
        runs += 1
        assert code == 0, (f"run {runs} reported differences under live writes:\n"
                           f"{json.dumps(report, indent=1)}\n{err}\n{proxy.log_tail()}")
        assert all(t["state"] == "done" and t["remaining"] == 0 for t in report["tables"])
        compared = {t["table"]: t["rows_compared"] for t in report["tables"]}
        assert compared["public.pgbench_accounts"] == 200000, compared
        cleared += sum(t["cleared_in_flight"] for t in report["tables"])
    load.finish()
    print(f"{runs} reconcile runs during the load; {cleared} candidates cleared once rechecked")
    wait_sessions_settled(proxy, timeout=30)
    code, report, err = reconcile(env, proxy, fresh_db, "--proof", "--proof-dir", str(tmp_path))
    assert code == 0, f"{json.dumps(report, indent=1)}\n{err}"
    proof = json.loads((tmp_path / f"reconcile-proof-{fresh_db}.json").read_text())
    assert proof["verdict"] == "equal", proof
    assert_identical(direct_conn, fresh_db)


def test_drift_injected_during_live_writes_is_found_and_repaired(env, proxy_factory, fresh_db,
                                                                 direct_conn, run):
    prepare_stores(env, run, direct_conn, fresh_db)
    proxy = proxy_factory(migration("dual_write", strategy="sync",
                                    shadow_read={"log_values": "full"}))
    load = Load(env, proxy, fresh_db, "sync")
    time.sleep(2)
    drifted = list(UNTOUCHED)[:4]
    on_store(direct_conn, "new", fresh_db,
             f"UPDATE items SET note = 'drift' WHERE id IN ({drifted[0]}, {drifted[1]})",
             f"DELETE FROM items WHERE id = {drifted[2]}",
             f"UPDATE items SET note = NULL WHERE id = {drifted[3]}")
    code, report, err = reconcile(env, proxy, fresh_db)
    assert code == 1, f"{json.dumps(report, indent=1)}\n{err}"
    items = [t for t in report["tables"] if t["table"] == "public.items"][0]
    found = {(d["kind"], int(d["key"][0])) for d in items["differences"]}
    assert found == {("different", drifted[0]), ("different", drifted[1]),
                     ("only_on_old", drifted[2]), ("different", drifted[3])}, report
    others = [t for t in report["tables"] if t["table"] != "public.items"]
    assert all(t["remaining"] == 0 for t in others), report
    code, report, err = reconcile(env, proxy, fresh_db, "--repair", "execute")
    assert code == 0, f"{json.dumps(report, indent=1)}\n{err}"
    load.finish()
    wait_sessions_settled(proxy, timeout=30)
    assert_identical(direct_conn, fresh_db)
    assert query(direct_conn, "new", fresh_db,
                 f"SELECT count(*) FROM items WHERE id IN ({','.join(map(str, drifted))}) "
                 "AND note LIKE 'row %'") == [(4,)]
