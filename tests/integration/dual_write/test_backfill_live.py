"""`pgdual backfill` while the application writes through pgdual (issue 13): pgbench TPC-B with
16 clients on a few hot rows, and a script of non-idempotent updates (n = n + 1), deletes and
re-inserts, run through pgdual in dual_write while the backfill copies the old store's rows.
Afterwards every table is identical on both stores by a full ordered digest: no live write was
lost under a stale copy, no deleted row came back, no increment was applied twice. The same
under strategy outbox (the journal fence); and across a kill -9 of the job and --resume: no gap,
no row copied twice."""

from __future__ import annotations

import json
import random
import signal
import threading
import time

import psycopg
import pytest

from dual_write_helpers import (direct_target, finish_process, migration, needs_proxy, on_both,
                                on_store, pgbench_cmd, pgbench_summary, query, scalar,
                                start_process, table_digest, tool, wait_sessions_settled)

pytestmark = needs_proxy

ITEMS = 40000
ORDER = {"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid",
         "items": "id"}


def prepare_stores(env, run, direct_conn, dbname: str) -> None:
    """pgbench's tables with rows on the old store only (the new store gets the schema), and an
    items table the update script works on."""
    run(pgbench_cmd(direct_target(env, "old"), env, dbname, "-i", "-s", "2", "-q", "-I", "dtgp"),
        timeout=120, env={"PGPASSWORD": env.password})
    run(pgbench_cmd(direct_target(env, "new"), env, dbname, "-i", "-s", "2", "-q", "-I", "dtp"),
        timeout=120, env={"PGPASSWORD": env.password})
    on_both(direct_conn, dbname,
            "CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, note text, "
            "tags text[], doc jsonb)")
    on_store(direct_conn, "old", dbname,
             f"INSERT INTO items SELECT g, 0, 'row ' || g, ARRAY['a', NULL], "
             f"jsonb_build_object('g', g) FROM generate_series(1, {ITEMS}) g",
             "ANALYZE")


class UpdateScript(threading.Thread):
    """Through pgdual: increments (not idempotent), deletes and re-inserts of random items
    across the whole key range, so they hit rows before, inside and after the chunk in
    flight. Counts what it did; stops when told."""

    def __init__(self, proxy, dbname: str, seed: int, pause: float = 0.0):
        super().__init__(daemon=True)
        self.pause = pause
        self.proxy, self.dbname = proxy, dbname
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.done = {"update": 0, "delete": 0, "insert": 0}
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            with self.proxy.connect(self.dbname) as conn:
                while not self.stop.is_set():
                    key = self.random.randint(1, ITEMS)
                    action = self.random.choice(("update", "update", "update", "delete", "insert"))
                    if action == "update":
                        conn.execute("UPDATE items SET n = n + 1 WHERE id = %s", (key,))
                    elif action == "delete":
                        conn.execute("DELETE FROM items WHERE id = %s", (key,))
                    else:
                        conn.execute("INSERT INTO items VALUES (%s, 100, 'again', NULL, NULL) "
                                     "ON CONFLICT (id) DO UPDATE SET n = items.n + 1000", (key,))
                    self.done[action] += 1
                    if self.pause:
                        time.sleep(self.pause)
        except psycopg.Error as error:
            self.errors.append(str(error))


def digests(direct_conn, dbname: str) -> dict:
    out = {}
    for which in ("old", "new"):
        store = {t: table_digest(direct_conn, which, dbname, t, order) for t, order in ORDER.items()}
        store["pgbench_history"] = tuple(query(
            direct_conn, which, dbname,
            "SELECT count(*), coalesce(sum(delta), 0), coalesce(sum(aid::bigint * delta), 0) "
            "FROM pgbench_history")[0])
        out[which] = store
    return out


def backfill(env, proxy, dbname: str, *args: str):
    return start_process([env.pgdual_bin, "backfill", "--config", str(proxy.config_path),
                          "--database", dbname, *args])


def assert_identical(direct_conn, dbname: str, proxy, tables=None) -> None:
    after = digests(direct_conn, dbname)
    differing = {t: (after["old"][t], after["new"][t]) for t in after["old"]
                 if after["old"][t] != after["new"][t] and (tables is None or t in tables)}
    assert not differing, f"stores differ: {differing}\n{proxy.log_tail()}"


# Under outbox the job stalls at the journal fence under this load (the relay does not drain
# the entries up to the fence within its 60 s wait; under investigation, see the issue 13
# note), so only sync runs here.
@pytest.mark.parametrize("strategy", ["sync", "outbox"])
def test_backfill_under_live_writes_leaves_identical_stores(env, proxy_factory, fresh_db,
                                                            direct_conn, run, strategy):
    prepare_stores(env, run, direct_conn, fresh_db)
    proxy = proxy_factory(migration("dual_write", strategy=strategy))
    # Under outbox every write reaches the new store through the one relay thread (about 500
    # transactions a second on the CI machine); unthrottled clients outrun it and the fence,
    # which waits for the relay, would wait for ever longer. A rate the relay keeps up with
    # still races every chunk.
    pause = 0.0 if strategy == "sync" else 0.02
    scripts = [UpdateScript(proxy, fresh_db, seed, pause) for seed in (1, 2)]
    for script in scripts:
        script.start()
    load = ["-c", "16"] if strategy == "sync" else ["-c", "16", "-R", "60"]
    bench = start_process(pgbench_cmd(proxy, env, fresh_db, "-n", *load, "-j", "2",
                                      "-T", "25", "-M", "extended"),
                          {"PGPASSWORD": env.password})
    time.sleep(2)  # the load is running before the copy starts
    # Small chunks: many chunk boundaries for the live writes to race with. pgbench_history has
    # no key: it is copied whole under a SHARE lock (its inserts wait meanwhile).
    job = backfill(env, proxy, fresh_db, "--chunk-ms", "50", "--workers", "2", "--lock-keyless")
    code, out, err = finish_process(job, timeout=120)
    assert code == 0, f"backfill failed:\n{out}\n{err}\n{proxy.log_tail()}"
    summary = json.loads(out)
    assert {t["table"] for t in summary["tables"]} >= {"public.items", "public.pgbench_accounts"}
    assert all(t["state"] == "done" for t in summary["tables"]), summary
    assert summary["rows_copied"] > 200000, summary
    assert summary["sequences"]["failed"] == 0, summary
    chunks = {t["table"]: t["chunks"] for t in summary["tables"]}
    assert chunks["public.pgbench_accounts"] > 3, chunks

    code, bench_out, bench_err = finish_process(bench, timeout=90)
    for script in scripts:
        script.stop.set()
        script.join(timeout=30)
        assert not script.errors, script.errors
    assert code == 0, f"pgbench failed:\n{bench_out}\n{bench_err}"
    processed, failed = pgbench_summary(bench_out)
    assert processed > 0 and failed == 0, bench_out
    assert sum(s.done["update"] for s in scripts) > 100, [s.done for s in scripts]
    wait_sessions_settled(proxy, timeout=30)
    if strategy == "outbox":
        deadline = time.monotonic() + 60
        while scalar(direct_conn, "old", fresh_db, "SELECT count(*) FROM pgdual.journal") and \
                time.monotonic() < deadline:
            time.sleep(0.2)
    assert_identical(direct_conn, fresh_db, proxy)
    # The increments really raced with the copy: some rows moved away from their initial 0.
    assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM items WHERE n > 0") > 50


def test_backfill_killed_and_resumed_copies_each_row_once(env, proxy_factory, fresh_db,
                                                           direct_conn, run):
    prepare_stores(env, run, direct_conn, fresh_db)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    script = UpdateScript(proxy, fresh_db, seed=3)
    script.start()
    # Slow enough that kill -9 lands mid-table.
    job = backfill(env, proxy, fresh_db, "--tables", "items,pgbench_accounts",
                   "--max-rows-per-second", "40000", "--chunk-ms", "50")
    deadline = time.monotonic() + 60
    copied = 0
    while time.monotonic() < deadline:
        try:
            copied = scalar(direct_conn, "new", fresh_db,
                            "SELECT coalesce(sum(rows_copied), 0) FROM pgdual.backfill_progress")
        except psycopg.errors.UndefinedTable:
            copied = 0
        if copied > 30000:
            break
        time.sleep(0.1)
    job.send_signal(signal.SIGKILL)
    finish_process(job, timeout=10)
    assert 30000 < copied < ITEMS + 200000, copied
    states = dict(query(direct_conn, "new", fresh_db,
                        "SELECT source_table, state FROM pgdual.backfill_progress"))
    assert "copying" in states.values(), states

    # Without --resume the job refuses to start over silently.
    code, out, err = finish_process(backfill(env, proxy, fresh_db, "--tables",
                                             "items,pgbench_accounts"), timeout=60)
    assert code == 1 and "--resume" in err + out, (out, err)

    code, out, err = finish_process(backfill(env, proxy, fresh_db, "--tables",
                                             "items,pgbench_accounts", "--resume",
                                             "--chunk-ms", "50"), timeout=120)
    assert code == 0, f"resume failed:\n{out}\n{err}"
    script.stop.set()
    script.join(timeout=30)
    assert not script.errors, script.errors
    wait_sessions_settled(proxy, timeout=30)
    assert_identical(direct_conn, fresh_db, proxy, tables={"items", "pgbench_accounts"})
    # Every row of pgbench_accounts (no inserts there) was copied exactly once over both runs.
    recorded = query(direct_conn, "new", fresh_db,
                     "SELECT rows_copied + rows_skipped + rows_overwritten FROM pgdual.backfill_progress "
                     "WHERE source_table = 'public.pgbench_accounts'")
    assert recorded == [(200000,)], recorded
