"""Phase changes by reload (config file rewritten, then SIGHUP), through
pgdual, checked on each server directly: a session moves to the new phase
only at its next transaction boundary, a reload while pgbench runs drops no
connection and splits no transaction, and named prepared statements keep
working across phase changes."""

from __future__ import annotations

import time

import pytest

from dual_write_helpers import (STORES, change_config, finish_process, on_both, on_store,
                                migration, needs_proxy, pgbench_cmd, pgbench_summary, query,
                                start_process, table_rows)

pytestmark = needs_proxy


def ids(rows):
    return [r[0] for r in rows]


def test_reload_never_splits_transaction(proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE t (id int PRIMARY KEY)",
            "CREATE TABLE marker (v text)")
    for which in STORES:
        on_store(direct_conn, which, fresh_db, f"INSERT INTO marker VALUES ('{which}')")
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        # dual_write -> prepare in the middle of a transaction: all of it mirrored.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (1)")
        change_config(proxy, migration={"phase": "prepare"})
        conn.execute("INSERT INTO t VALUES (%s)", (2,))
        conn.execute("COMMIT")
        conn.execute("INSERT INTO t VALUES (3)")  # now in prepare: old only

        # prepare -> dual_write in the middle of a transaction: none of it mirrored.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (4)")
        change_config(proxy, migration={"phase": "dual_write"})
        conn.execute("INSERT INTO t VALUES (%s)", (5,))
        conn.execute("COMMIT")
        conn.execute("INSERT INTO t VALUES (6)")  # now in dual_write: both

        # dual_write -> cutover in the middle of a transaction: the primary
        # stays old until COMMIT, then reads come from new.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (7)")
        change_config(proxy, migration={"phase": "cutover"})
        assert conn.execute("SELECT v FROM marker").fetchone()[0] == "old"
        conn.execute("INSERT INTO t VALUES (%s)", (8,))
        conn.execute("COMMIT")
        assert conn.execute("SELECT v FROM marker").fetchone()[0] == "new"
        conn.execute("INSERT INTO t VALUES (9)")  # cutover: new primary, old follows
    rows = table_rows(direct_conn, fresh_db, "t")
    assert ids(rows["old"]) == [1, 2, 3, 4, 5, 6, 7, 8, 9], rows
    assert ids(rows["new"]) == [1, 2, 6, 7, 8, 9], rows
    assert "configuration reloaded" in proxy.log_text()


@pytest.mark.parametrize("middle", ["prepare", "cutover"])
def test_prepared_statement_survives_phase_changes(proxy_factory, fresh_db, direct_conn, middle):
    """A psycopg named prepared statement (prepare=True: Parse once, then
    Bind/Execute by name) used in dual_write, then in `middle`, then in
    dual_write again, on one connection, without any error."""
    on_both(direct_conn, fresh_db, "CREATE TABLE ps (id int PRIMARY KEY, phase text)",
            "CREATE TABLE marker (v text)")
    for which in STORES:
        on_store(direct_conn, which, fresh_db, f"INSERT INTO marker VALUES ('{which}')")
    proxy = proxy_factory(migration("dual_write"))
    primary = {"dual_write": "old", "prepare": "old", "cutover": "new"}
    insert = "INSERT INTO ps (id, phase) VALUES (%s, %s)"
    with proxy.connect(fresh_db) as conn:
        def use(first: int, count: int, phase: str, label: str) -> None:
            # The session is idle here: the reloaded phase applies from now on.
            read = conn.execute("SELECT v FROM marker").fetchone()[0]
            assert read == primary[phase], f"{label}: read from {read}"
            for i in range(first, first + count):
                assert conn.execute(insert, (i, label), prepare=True).rowcount == 1
            assert conn.execute("SELECT count(*) FROM ps WHERE id <= %s", (first + count,),
                                prepare=True).fetchone()[0] == first + count - 1
            # The primary of the moment knows the statements by name.
            named = conn.execute("SELECT count(*) FROM pg_prepared_statements "
                                 "WHERE statement LIKE 'INSERT INTO ps%'").fetchone()[0]
            assert named == 1, f"{label}: the primary holds {named} prepared INSERTs"

        use(1, 6, "dual_write", "dual_write")
        change_config(proxy, migration={"phase": middle})
        use(7, 3, middle, middle)
        change_config(proxy, migration={"phase": "dual_write"})
        use(10, 3, "dual_write", "dual_write again")
    rows = table_rows(direct_conn, fresh_db, "ps")
    assert ids(rows["old"]) == list(range(1, 13)), rows["old"]
    expected_new = list(range(1, 13)) if middle == "cutover" else [1, 2, 3, 4, 5, 6, 10, 11, 12]
    assert ids(rows["new"]) == expected_new, (rows["new"], proxy.log_tail())


def test_reload_during_pgbench(env, proxy_factory, fresh_db, direct_conn, tmp_path):
    """pgbench -c 4 -T 8 (named prepared statements, two-insert transactions)
    while the phase changes every ~1 s: no failed transaction, no dropped
    connection, and on each store every transaction is whole or absent."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE rl (client int NOT NULL, k bigint NOT NULL, part int NOT NULL)")
    proxy = proxy_factory(migration("dual_write"))
    script = tmp_path / "two_inserts.sql"
    script.write_text("\\set k random(1, 1000000000000)\n"
                      "BEGIN;\n"
                      "INSERT INTO rl (client, k, part) VALUES (:client_id, :k, 1);\n"
                      "INSERT INTO rl (client, k, part) VALUES (:client_id, :k, 2);\n"
                      "END;\n")
    process = start_process(pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "4", "-j", "2",
                                        "-T", "8", "-M", "prepared", "-f", str(script)),
                            {"PGPASSWORD": env.password})
    phases = ["cutover", "dual_write", "prepare", "dual_write", "shadow_read", "dual_write"]
    try:
        time.sleep(0.8)
        for phase in phases:
            change_config(proxy, migration={"phase": phase})
            time.sleep(0.6)
    finally:
        code, out, err = finish_process(process, timeout=60)
    assert code == 0, f"pgbench exited with {code}:\n{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 0 and failed == 0, out
    log = proxy.log_text()
    assert log.count("configuration reloaded") >= len(phases), proxy.log_tail()

    for which in STORES:
        split = query(direct_conn, which, fresh_db,
                      "SELECT client, k, array_agg(part ORDER BY part) FROM rl GROUP BY 1, 2 "
                      "HAVING array_agg(part ORDER BY part) <> ARRAY[1, 2]")
        assert not split, f"{which}: transactions split or doubled: {split[:10]}"
    pairs = {which: set(query(direct_conn, which, fresh_db, "SELECT DISTINCT client, k FROM rl"))
             for which in STORES}
    # The old store is primary or follows in every phase used here.
    assert processed <= len(pairs["old"]) <= processed + 4, (len(pairs["old"]), out)
    # The new store never has what the old one lacks, got the dual_write
    # periods, and missed the prepare period (sessions moved to prepare at
    # their next transaction boundary).
    assert pairs["new"] <= pairs["old"], len(pairs["new"] - pairs["old"])
    assert pairs["new"], "nothing reached the new store"
    assert len(pairs["new"]) < len(pairs["old"]), (
        "the new store got every transaction: the switch to prepare never reached the sessions")
