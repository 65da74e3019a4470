"""The fleet flip (issue 16, docs/cutover.md "The fleet flip") against two real PostgreSQL 15
servers and three pgdual instances in front of them, each with its own config file, under
pgbench TPC-B and a last-write-wins script racing on three hot rows.

Covered:
- the three configs are switched to cutover seconds apart, then back to dual_write (the
  rollback) the same way: one flip each, every instance acknowledges, zero client errors, no
  write lost (pgbench_history holds every transaction on both stores), both stores identical;
  and at no moment did two instances write in different orders: a trigger on each store
  records, per hot row, the sequence of values written, and the two sequences are the same;
- an instance started later with a file still in the old phase takes the fleet's phases;
- a flip whose member is paused and never acknowledges (SIGSTOP) aborts: every instance
  resumes on the old primary, the coordinator's reload is refused, nothing is lost;
- an instance that cannot read the control state refuses writes (with the reason) and
  accepts them again once it can.
Each test has a journal schema of its own, so other tests' instances are not members."""

from __future__ import annotations

import signal
import time

import psycopg
import pytest

from conftest import connect, run, wait_for
from dual_write_helpers import (direct_target, finish_process, metric, migration, needs_proxy,
                                on_both, pgbench_cmd, pgbench_summary, query, scalar,
                                start_process, table_digest, wait_sessions_settled)

pytestmark = needs_proxy

LOAD_SECONDS = 26
PAUSE_TIMEOUT_MS = 3000
TABLES = {"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid",
          "pgbench_history": "tid, bid, aid, delta, mtime", "lww": "id"}
LWW_SCRIPT = """\\set id random(1, 3)
\\set v random(1, 1000000000)
UPDATE lww SET v = :v, writer = :client_id WHERE id = :id;
"""


def fleet_migration(schema: str, phase: str = "dual_write") -> dict:
    return migration(phase, strategy="sync", journal={"schema": schema},
                     cutover={"coordination": "fleet", "force": True,
                              "pause_timeout_ms": PAUSE_TIMEOUT_MS})


def start_fleet(proxy_factory, schema: str, count: int = 3) -> list:
    return [proxy_factory(fleet_migration(schema)) for _ in range(count)]


def schema_of(dbname: str) -> str:
    """A journal schema per test: other tests' instances are not members of its flips."""
    return f"pgdual_fleet_{dbname[-12:]}"


def prepare(env, direct_conn, dbname: str, tmp_path):
    """pgbench's tables and the hot rows on both stores; returns the last-write-wins script."""
    for which in ("old", "new"):
        run(pgbench_cmd(direct_target(env, which), env, dbname, "-i", "-s", "1", "-q"),
            timeout=120, env={"PGPASSWORD": env.password})
    on_both(direct_conn, dbname,
            "CREATE TABLE lww (id int PRIMARY KEY, v bigint NOT NULL, writer int)",
            "INSERT INTO lww SELECT g, 0, NULL FROM generate_series(1, 3) g",
            # Per store, the values each hot row took, in the order that store applied them.
            "CREATE TABLE lww_audit (seq bigserial PRIMARY KEY, id int NOT NULL, v bigint)",
            "CREATE FUNCTION lww_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO lww_audit (id, v) VALUES (NEW.id, NEW.v); RETURN NEW; END $$",
            "CREATE TRIGGER lww_audit AFTER UPDATE ON lww FOR EACH ROW "
            "EXECUTE FUNCTION lww_audit()")
    script = tmp_path / "lww.sql"
    script.write_text(LWW_SCRIPT)
    return script


def phase_of(proxy) -> str | None:
    for phase in ("prepare", "dual_write", "backfill", "shadow_read", "cutover", "cleanup"):
        if metric(proxy, "pgdual_phase_info", {"scope": "default", "name": "", "phase": phase}):
            return phase
    return None


def flips(direct_conn, dbname: str, schema: str) -> list[tuple]:
    del dbname  # the control database is the old store's default database
    return query(direct_conn, "old", "postgres",
                 f"SELECT id, state, reason, assignment FROM {schema}.fleet_flips ORDER BY id")


def acks(direct_conn, schema: str, flip_id: int) -> set[tuple]:
    return set(query(direct_conn, "old", "postgres",
                     f"SELECT instance, stage FROM {schema}.fleet_acks WHERE flip_id = %s",
                     (flip_id,)))


def switch_fleet(proxies: list, phase: str, gap: float) -> None:
    """Each instance's file switched to `phase`, `gap` seconds apart (the ConfigMap reaching
    each pod at its own moment), with a SIGHUP as well as the file watcher."""
    for index, proxy in enumerate(proxies):
        if index:
            time.sleep(gap)
        proxy.update_config(migration={"phase": phase})
        proxy.reload()


def assert_identical(direct_conn, dbname: str, proxies: list) -> None:
    for proxy in proxies:
        wait_sessions_settled(proxy, timeout=30)
    digests = {which: {table: table_digest(direct_conn, which, dbname, table, order)
                       for table, order in TABLES.items()} for which in ("old", "new")}
    differ = [table for table in TABLES if digests["old"][table] != digests["new"][table]]
    if differ:
        table = differ[0]
        rows = {which: set(query(direct_conn, which, dbname, f"SELECT * FROM {table}"))
                for which in ("old", "new")}
        only_old = sorted(rows["old"] - rows["new"], key=str)[:5]
        only_new = sorted(rows["new"] - rows["old"], key=str)[:5]
        pytest.fail(f"the stores differ in {differ}: only on old {only_old}, only on new "
                    f"{only_new}")
    # The write order: per hot row, the values in the order each store applied them.
    order = {which: query(direct_conn, which, dbname,
                          "SELECT id, array_agg(v ORDER BY seq) FROM lww_audit GROUP BY id "
                          "ORDER BY id") for which in ("old", "new")}
    assert order["old"] == order["new"], "the stores applied the hot rows' writes in other orders"
    assert all(len(values) > 20 for _, values in order["old"]), order["old"]


def start_load(env, proxies: list, dbname: str, script_path, seconds: int) -> list:
    return [start_process(pgbench_cmd(proxy, env, dbname, "-n", "-c", "6", "-j", "2",
                                      "-T", str(seconds), "-b", "tpcb-like@3",
                                      "-f", f"{script_path}@2"),
                          {"PGPASSWORD": env.password}) for proxy in proxies]


def finish_load(processes: list, proxies: list, seconds: int) -> int:
    total = 0
    for process, proxy in zip(processes, proxies):
        code, out, err = finish_process(process, timeout=seconds + 90)
        assert code == 0, f"pgbench through {proxy.port} failed:\n{out}\n{err}\n{proxy.log_tail()}"
        processed, failed = pgbench_summary(out)
        assert processed > 0 and failed == 0, out
        total += processed
    return total


def test_three_instances_flip_to_cutover_and_back_as_one(env, proxy_factory, fresh_db,
                                                         direct_conn, tmp_path):
    schema = schema_of(fresh_db)
    script = prepare(env, direct_conn, fresh_db, tmp_path)
    proxies = start_fleet(proxy_factory, schema)
    load = start_load(env, proxies, fresh_db, script, LOAD_SECONDS)

    time.sleep(4)
    switch_fleet(proxies, "cutover", gap=2.0)
    wait_for(lambda: all(phase_of(p) == "cutover" for p in proxies), 20,
             what="every instance in cutover")
    time.sleep(3)
    switch_fleet(proxies, "dual_write", gap=2.0)
    wait_for(lambda: all(phase_of(p) == "dual_write" for p in proxies), 20,
             what="every instance back in dual_write")
    transactions = finish_load(load, proxies, LOAD_SECONDS)

    # One flip each way, acknowledged by all three; nothing aborted.
    rows = flips(direct_conn, fresh_db, schema)
    states = [(state, reason) for _, state, reason, _ in rows]
    assert states == [("done", "baseline"), ("done", ""), ("done", "")], rows
    for flip_id, _, _, assignment in rows[1:]:
        stages = acks(direct_conn, schema, flip_id)
        assert len({instance for instance, stage in stages if stage == "flipped"}) == 3, stages
        assert len({instance for instance, stage in stages if stage == "paused"}) == 3, stages
    assert "phase: cutover" in rows[1][3] and "phase: dual_write" in rows[2][3], rows
    coordinated = sum(metric(p, "pgdual_fleet_flips_total", {"outcome": "done"}) for p in proxies)
    assert coordinated == 2

    # Nothing lost, both stores identical, and written in one order.
    tpcb = scalar(direct_conn, "old", fresh_db, "SELECT count(*) FROM pgbench_history")
    assert 0 < tpcb < transactions
    assert_identical(direct_conn, fresh_db, proxies)

    # A fourth instance whose file still says dual_write while the fleet is in cutover (its
    # ConfigMap not updated yet) runs the fleet's phases.
    switch_fleet(proxies, "cutover", gap=0.5)
    wait_for(lambda: all(phase_of(p) == "cutover" for p in proxies), 20,
             what="every instance in cutover again")
    late = proxy_factory(fleet_migration(schema))
    wait_for(lambda: phase_of(late) == "cutover", 10, what="the late instance in cutover")
    with late.connect(fresh_db) as conn:
        conn.execute("UPDATE lww SET v = -1 WHERE id = 1")
    assert scalar(direct_conn, "new", fresh_db, "SELECT v FROM lww WHERE id = 1") == -1
    assert scalar(direct_conn, "old", fresh_db, "SELECT v FROM lww WHERE id = 1") == -1


def test_a_member_that_never_acknowledges_aborts_the_flip(env, proxy_factory, fresh_db,
                                                          direct_conn, tmp_path):
    schema = schema_of(fresh_db)
    script = prepare(env, direct_conn, fresh_db, tmp_path)
    proxies = start_fleet(proxy_factory, schema)
    frozen = proxies[2]
    # Every instance wrote its heartbeat before it listened: the frozen one is a member.
    time.sleep(1)
    load = start_load(env, proxies[:2], fresh_db, script, 12)
    time.sleep(2)
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        coordinator = proxies[0]
        log_mark = len(coordinator.log_text())
        coordinator.update_config(migration={"phase": "cutover"})
        coordinator.reload()
        wait_for(lambda: "ABORTED" in coordinator.log_text()[log_mark:], 20,
                 what="the flip aborted")
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    transactions = finish_load(load, proxies[:2], 12)
    assert transactions > 0
    rows = flips(direct_conn, fresh_db, schema)
    assert rows[-1][1] == "aborted" and "did not acknowledge" in rows[-1][2], rows
    assert all(phase_of(p) == "dual_write" for p in proxies), [phase_of(p) for p in proxies]
    assert metric(proxies[0], "pgdual_fleet_flips_total", {"outcome": "aborted"}) == 1
    # The old store stayed the primary: a write through the thawed instance lands there first,
    # and nothing written during the attempt is missing.
    with frozen.connect(fresh_db) as conn:
        conn.execute("UPDATE lww SET v = -2 WHERE id = 2")
    assert_identical(direct_conn, fresh_db, proxies)


def test_an_instance_that_cannot_read_the_control_state_refuses_writes(proxy_factory, fresh_db,
                                                                        direct_conn, env):
    schema = schema_of(fresh_db)
    on_both(direct_conn, fresh_db, "CREATE TABLE t (id int PRIMARY KEY, v int)")
    proxy = proxy_factory(fleet_migration(schema))
    prepared = proxy.connect(fresh_db)
    # Prepared before the fence: its later Execute (no Parse) must be refused as well.
    prepared.execute("INSERT INTO t VALUES (%s, %s)", (1, 1), prepare=True)
    # A session holding an exclusive lock on the control table: the agent's reads time out.
    blocker = connect(env.host, env.port("old"), "postgres", env.user, env.password,
                      autocommit=False)
    try:
        blocker.execute(f"LOCK TABLE {schema}.fleet_flips IN ACCESS EXCLUSIVE MODE")
        wait_for(lambda: metric(proxy, "pgdual_fleet_writes_fenced") == 1, 20,
                 what="writes fenced")
        with proxy.connect(fresh_db) as conn:
            with pytest.raises(psycopg.Error) as refused:
                conn.execute("INSERT INTO t VALUES (2, 2)")
            assert "control state" in str(refused.value)
            # Reads go on.
            assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone() == (1,)
        with pytest.raises(psycopg.Error) as refused:
            prepared.execute("INSERT INTO t VALUES (%s, %s)", (3, 3), prepare=True)
        assert "control state" in str(refused.value)
    finally:
        blocker.rollback()
        blocker.close()
        prepared.close()
    wait_for(lambda: metric(proxy, "pgdual_fleet_writes_fenced") == 0, 20, what="writes allowed")
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO t VALUES (2, 2)")
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT id, v FROM t ORDER BY id") == \
            [(1, 1), (2, 2)]
    assert metric(proxy, "pgdual_fleet_refused_writes_total") >= 1
