"""Deterministic dual writes through pgdual against real servers: now(),
CURRENT_TIMESTAMP, random(), gen_random_uuid(), sequences and volatile column
defaults reach both stores as the same literal values, so the stores stay
identical; what cannot be rewritten follows migration.nondeterministic."""

from __future__ import annotations

import threading

import psycopg
import psycopg.errors as errors
import pytest

from dual_write_helpers import (finish_process, metric, migration, needs_proxy, on_both,
                                on_store, pgbench_cmd, pgbench_summary, scalar, start_process,
                                table_digest, table_rows)

pytestmark = needs_proxy

PGBENCH_SECONDS = 30
PGBENCH_TABLES = {"pgbench_accounts": "aid", "pgbench_tellers": "tid",
                  "pgbench_branches": "bid", "pgbench_history": "tid, bid, aid, delta, mtime"}


def direct_target(env, which: str):
    class Target:
        host = env.host
        port = env.port(which)
    return Target


def digests(direct_conn, dbname: str, which: str) -> dict:
    return {t: table_digest(direct_conn, which, dbname, t, order)
            for t, order in PGBENCH_TABLES.items()}


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_tpcb_every_table_identical(env, proxy_factory, fresh_db, direct_conn, run, mode):
    """pgbench's TPC-B writes CURRENT_TIMESTAMP into pgbench_history: with the
    rewrite, even that table is identical on both stores (full sorted dumps)."""
    for which in ("old", "new"):
        run(pgbench_cmd(direct_target(env, which), env, fresh_db, "-i", "-s", "1", "-q"),
            timeout=120, env={"PGPASSWORD": env.password})
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    process = start_process(pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "8", "-j", "2",
                                        "-T", str(PGBENCH_SECONDS), "-M", mode),
                            {"PGPASSWORD": env.password})
    code, out, err = finish_process(process, timeout=PGBENCH_SECONDS + 90)
    assert code == 0, f"{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 0 and failed == 0, out
    old, new = digests(direct_conn, fresh_db, "old"), digests(direct_conn, fresh_db, "new")
    assert old["pgbench_history"][0] >= processed
    assert old == new, (old, new)
    assert metric(proxy, "pgdual_statements_rewritten_total", {"reason": "time"}) >= processed


def test_concurrent_serial_and_identity_inserts_get_the_same_ids(env, proxy_factory, fresh_db,
                                                                 direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE s (id serial PRIMARY KEY, who text NOT NULL)",
            "CREATE TABLE i (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, who text NOT NULL)")
    proxy = proxy_factory(migration("dual_write"))
    returned: dict[str, set] = {"s": set(), "i": set()}
    failures = []
    lock = threading.Lock()

    def client(n: int) -> None:
        try:
            with proxy.connect(fresh_db) as conn:
                for k in range(20):
                    for table in ("s", "i"):
                        if k % 2:  # extended protocol, unnamed statement
                            # psycopg prepares it (a named statement) from the 6th time on
                            row = conn.execute(f"INSERT INTO {table} (who) VALUES (%s) RETURNING id",
                                               (f"c{n}",)).fetchone()
                        else:     # simple protocol, two rows
                            row = conn.execute(f"INSERT INTO {table} (who) VALUES ('c{n}'), "
                                               f"('c{n}') RETURNING id").fetchall()[-1]
                        with lock:
                            returned[table].add(row[0])
        except Exception as exc:  # reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    for table in ("s", "i"):
        rows = table_rows(direct_conn, fresh_db, table)
        assert len(rows["old"]) == 16 * 30, len(rows["old"])
        assert rows["old"] == rows["new"], table
        assert returned[table] <= {r[0] for r in rows["old"]}
    assert metric(proxy, "pgdual_statements_rewritten_total", {"reason": "column_default"}) > 0


def test_volatile_defaults_and_functions_identical(env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE ev (id int PRIMARY KEY, at timestamptz DEFAULT now(), "
            "day date DEFAULT CURRENT_DATE, ref uuid DEFAULT gen_random_uuid(), r float8, "
            "u uuid, t timestamp)")
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO ev (id) VALUES (1)")
        conn.execute("INSERT INTO ev (id, r, u, t) VALUES (2, random(), gen_random_uuid(), "
                     "LOCALTIMESTAMP)")
        conn.execute("INSERT INTO ev (id, r) VALUES (%s, random()), (%s, random())", (3, 4))
        conn.execute("INSERT INTO ev VALUES (5, DEFAULT, DEFAULT, DEFAULT, random())")
        with conn.transaction():
            conn.execute("INSERT INTO ev (id) VALUES (6)")
            # now() inside the transaction is the value written: the primary's own
            assert conn.execute("SELECT at = now() FROM ev WHERE id = 6").fetchone()[0]
    rows = table_rows(direct_conn, fresh_db, "ev")
    assert len(rows["old"]) == 6
    assert rows["old"] == rows["new"], rows
    assert all(r[3] is not None for r in rows["old"])


def test_nondeterministic_allow_counts_and_reject_refuses(env, proxy_factory, fresh_db,
                                                          direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE nd (r float8)", "CREATE TABLE nd2 (r float8)")
    per_row = "INSERT INTO nd SELECT random() FROM generate_series(1, 3)"
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        conn.execute(per_row)
    rows = table_rows(direct_conn, fresh_db, "nd")
    assert len(rows["old"]) == 3 and len(rows["new"]) == 3
    assert metric(proxy, "pgdual_nondeterministic_statements_total",
                  {"table": "public.nd", "action": "allowed"}) == 1
    assert "public.nd needs reconciliation" in proxy.log_text()

    strict = proxy_factory(migration("dual_write", nondeterministic="reject"))
    with strict.connect(fresh_db) as conn:
        with pytest.raises(errors.FeatureNotSupported) as refused:
            conn.execute(per_row)
        assert "random" in str(refused.value), refused.value
        conn.execute("INSERT INTO nd2 VALUES (random())")  # rewritable: accepted
    rows = table_rows(direct_conn, fresh_db, "nd")
    assert len(rows["old"]) == 3 and len(rows["new"]) == 3  # the refused insert wrote nothing
    rows2 = table_rows(direct_conn, fresh_db, "nd2")
    assert len(rows2["old"]) == 1 and rows2["old"] == rows2["new"], rows2
    assert metric(strict, "pgdual_nondeterministic_statements_total",
                  {"table": "public.nd", "action": "rejected"}) == 1


def test_named_prepared_statements_get_values_as_parameters(env, proxy_factory, fresh_db,
                                                            direct_conn):
    """A named prepared statement serves every execution, so its values become
    extra parameters that pgdual adds to each Bind; the client still sees only
    its own parameters in the statement's description."""
    from psycopg import pq

    on_both(direct_conn, fresh_db,
            "CREATE TABLE p (id serial PRIMARY KEY, n int, at timestamptz, r float8)")
    proxy = proxy_factory(migration("dual_write"))
    pg = pq.PGconn.connect(proxy.dsn(fresh_db).encode())
    try:
        assert pg.status == pq.ConnStatus.OK, pg.error_message
        prepared = pg.prepare(b"ins", b"INSERT INTO p (n, at, r) VALUES ($1, now(), random()) "
                                      b"RETURNING id")
        assert prepared.status == pq.ExecStatus.COMMAND_OK, prepared.error_message
        described = pg.describe_prepared(b"ins")
        assert described.status == pq.ExecStatus.COMMAND_OK, described.error_message
        assert described.nparams == 1 and described.param_type(0) == 23  # int4, as without pgdual
        ids = []
        for n in range(5):
            result = pg.exec_prepared(b"ins", [str(n).encode()])
            assert result.status == pq.ExecStatus.TUPLES_OK, result.error_message
            ids.append(int(result.get_value(0, 0)))
        assert pg.exec_(b"BEGIN").status == pq.ExecStatus.COMMAND_OK
        pg.exec_prepared(b"ins", [b"10"])
        pg.exec_prepared(b"ins", [b"11"])
        assert pg.exec_(b"COMMIT").status == pq.ExecStatus.COMMAND_OK
    finally:
        pg.finish()
    rows = table_rows(direct_conn, fresh_db, "p")
    assert len(rows["old"]) == 7 and rows["old"] == rows["new"], rows
    assert [r[0] for r in rows["old"][:5]] == ids
    assert rows["old"][5][2] == rows["old"][6][2]  # one now() per transaction
    assert metric(proxy, "pgdual_nondeterministic_statements_total",
                  {"table": "public.p", "action": "allowed"}) == 0


def test_rewrite_off_sends_statements_as_they_are(env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE off (r float8)")
    proxy = proxy_factory(migration("dual_write", rewrite=False))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO off VALUES (random())")
    rows = table_rows(direct_conn, fresh_db, "off")
    assert rows["old"] != rows["new"]  # each store drew its own number
    assert metric(proxy, "pgdual_statements_rewritten_total", {"reason": "random"}) == 0


def test_serialize_runs_unrewritable_writes_in_the_same_order(env, proxy_factory, fresh_db,
                                                              direct_conn):
    """INSERT ... SELECT nextval(...) FROM generate_series(...) cannot take literals (one value
    per row of a scan). Under serialize each such write holds the table's lock on the primary
    until both stores applied it, so concurrent sessions draw the sequences of both stores in
    the same order and the stores end up identical."""
    on_both(direct_conn, fresh_db, "CREATE SEQUENCE q", "CREATE TABLE sr (id bigint, who text)")
    proxy = proxy_factory(migration("dual_write", nondeterministic="serialize"))
    failures = []

    def client(n: int) -> None:
        try:
            with proxy.connect(fresh_db) as conn:
                for k in range(10):
                    sql = f"INSERT INTO sr SELECT nextval('q'), 'c{n}' FROM generate_series(1, 3)"
                    if k % 2:
                        with conn.transaction():
                            conn.execute(sql)
                    else:
                        conn.execute(sql)
        except Exception as exc:  # reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    rows = table_rows(direct_conn, fresh_db, "sr", order="id")
    assert len(rows["old"]) == 8 * 10 * 3
    assert rows["old"] == rows["new"]
    assert metric(proxy, "pgdual_nondeterministic_statements_total",
                  {"table": "public.sr", "action": "serialized"}) == 80


def test_sequences_sync_moves_the_new_store_past_the_old(env, proxy_factory, fresh_db,
                                                         direct_conn, run):
    """`pgdual sequences sync`: the new store's sequences end at the old store's value plus the
    headroom (a sequence missing on the new store is reported and fails the command)."""
    on_both(direct_conn, fresh_db, "CREATE SEQUENCE a", "CREATE SEQUENCE d INCREMENT -1",
            "CREATE TABLE t (id serial PRIMARY KEY)")
    with direct_conn("old", fresh_db) as conn:
        for _ in range(5):
            conn.execute("SELECT nextval('a'), nextval('d')")
        conn.execute("INSERT INTO t DEFAULT VALUES")
    proxy = proxy_factory(migration("dual_write"))
    command = [env.pgdual_bin, "sequences", "sync", "--config", str(proxy.config_path),
               "--database", fresh_db, "--headroom", "100"]
    dry = run(command + ["--dry-run"], timeout=60)
    assert "public.a\told=5\tnew=105" in dry.stdout, dry.stdout
    assert scalar(direct_conn, "new", fresh_db, "SELECT last_value FROM a") == 1  # untouched
    done = run(command, timeout=60)
    assert "3 sequences processed" in done.stdout, done.stdout
    assert scalar(direct_conn, "new", fresh_db, "SELECT last_value FROM a") == 105
    assert scalar(direct_conn, "new", fresh_db, "SELECT last_value FROM d") == -105
    assert scalar(direct_conn, "new", fresh_db, "SELECT last_value FROM t_id_seq") == 101
    with direct_conn("new", fresh_db) as conn:
        assert conn.execute("SELECT nextval('a')").fetchone()[0] == 106

    on_store(direct_conn, "old", fresh_db, "CREATE SEQUENCE only_old")
    missing = run(command, timeout=60, check=False)
    assert missing.returncode == 1
    assert "public.only_old" in missing.stdout and "FAILED" in missing.stdout
