"""Dual-write routing through pgdual, checked on each server directly: for
every migration phase, reads come from the store the spec's table names and
writes land on exactly the stores it names, with the simple protocol
(psql), the extended protocol (psycopg, prepared and binary) and pgjdbc;
pgbench inserts; tenant and table overrides; the DDL policy; the async
strategy."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dual_write_helpers import (PHASES, READ_STORE, STORES, WRITE_STORES, finish_process,
                                migration, on_both, on_store, pgbench_cmd, pgbench_summary,
                                needs_proxy, query, start_process, table_exists, table_rows,
                                tool, wait_for)

pytestmark = needs_proxy

JDBC_SOURCE = Path(__file__).resolve().parent.parent / "clients" / "DualWriteCheck.java"
JDBC_JAR = "/usr/share/java/postgresql.jar"

# What the standard workload leaves in its table (see DualWriteCheck.java).
EXPECTED_ROWS = [(1, "u")] + [(i, "c") for i in range(3, 12)]


CLIENTS = ("psql_simple", "psycopg_extended", "pgjdbc")


def prepare_schema(direct_conn, dbname: str, tables=("items",)) -> None:
    """The workload's tables on both stores, and a marker row that tells the
    stores apart when read through the proxy."""
    on_both(direct_conn, dbname, "CREATE TABLE marker (id int PRIMARY KEY, v text NOT NULL)",
            *[f"CREATE TABLE {t} (id int PRIMARY KEY, src text NOT NULL)" for t in tables])
    for which in STORES:
        on_store(direct_conn, which, dbname, f"INSERT INTO marker VALUES (1, '{which}')")


def run_psql_workload(proxy, dbname: str, run, table: str) -> str:
    """The workload as a psql script, one simple Query per statement.
    Returns what the marker read returned."""
    lines = ["SELECT v FROM marker WHERE id = 1;"]
    lines += [f"INSERT INTO {table} (id, src) VALUES ({i}, 'c');" for i in range(1, 11)]
    lines += [f"UPDATE {table} SET src = 'u' WHERE id = 1;",
              f"DELETE FROM {table} WHERE id = 2;",
              "BEGIN;", f"INSERT INTO {table} (id, src) VALUES (11, 'c');", "COMMIT;",
              "BEGIN;", f"INSERT INTO {table} (id, src) VALUES (12, 'c');", "ROLLBACK;"]
    result = run([tool("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                  "-d", proxy.dsn(dbname)], input="\n".join(lines) + "\n", timeout=30)
    return result.stdout.strip()


def run_psycopg_workload(proxy, dbname: str, table: str) -> str:
    """The workload with psycopg's extended protocol: every statement
    prepared (a named server-side statement) and binary."""
    with proxy.connect(dbname) as conn:
        ext = {"prepare": True, "binary": True}
        value = None
        for _ in range(3):
            value = conn.execute("SELECT v FROM marker WHERE id = %s", (1,), **ext).fetchone()[0]
        insert = f"INSERT INTO {table} (id, src) VALUES (%s, %s)"
        for i in range(1, 11):
            assert conn.execute(insert, (i, "c"), **ext).rowcount == 1
        assert conn.execute(f"UPDATE {table} SET src = %s WHERE id = %s", ("u", 1),
                            **ext).rowcount == 1
        assert conn.execute(f"DELETE FROM {table} WHERE id = %s", (2,), **ext).rowcount == 1
        with conn.transaction():
            conn.execute(insert, (11, "c"), **ext)
        with conn.transaction():
            conn.execute(insert, (12, "c"), **ext)
            raise psycopg.Rollback()
        return value


def run_jdbc_workload(proxy, env, dbname: str, run, table: str) -> str:
    url = (f"jdbc:postgresql://{proxy.host}:{proxy.port}/{dbname}"
           "?sslmode=disable&prepareThreshold=3&connectTimeout=10&socketTimeout=60")
    result = run(["java", "-cp", JDBC_JAR, JDBC_SOURCE, url, env.user, env.password, table],
                 timeout=120, check=False)
    assert result.returncode == 0 and "ALL OK" in result.stdout, \
        f"pgjdbc workload failed:\n{result.stdout}\n{result.stderr}"
    reads = [line[5:] for line in result.stdout.splitlines() if line.startswith("READ ")]
    assert len(reads) == 1, result.stdout
    return reads[0]


@pytest.mark.parametrize("phase", list(PHASES) + ["cutover_no_keep"])
def test_phase_routing(env, proxy_factory, fresh_db, direct_conn, run, phase):
    """One proxy per phase; each client runs the workload on its own table."""
    tables = {client: f"items_{client}" for client in CLIENTS}
    prepare_schema(direct_conn, fresh_db, tables.values())
    proxy = proxy_factory(migration(phase))

    problems = []
    for client, table in tables.items():
        try:
            if client == "psql_simple":
                read = run_psql_workload(proxy, fresh_db, run, table)
            elif client == "psycopg_extended":
                read = run_psycopg_workload(proxy, fresh_db, table)
            else:
                read = run_jdbc_workload(proxy, env, fresh_db, run, table)
        except (psycopg.Error, AssertionError, pytest.fail.Exception) as exc:
            problems.append(f"{client}: the workload failed: {exc!r}")
            continue
        if read != READ_STORE[phase]:
            problems.append(f"{client}: a read came from the {read} store, "
                            f"expected {READ_STORE[phase]}")
        rows = table_rows(direct_conn, fresh_db, table)
        for which in STORES:
            expected = EXPECTED_ROWS if which in WRITE_STORES[phase] else []
            if rows[which] != expected:
                problems.append(f"{client}: the {which} store holds {rows[which]}, "
                                f"expected {expected}")
    assert not problems, f"phase {phase}:\n" + "\n".join(problems) + "\n" + proxy.log_tail()


def test_pgbench_inserts_land_on_both(env, proxy_factory, fresh_db, direct_conn, tmp_path):
    """A short custom pgbench run (named prepared statements) in dual_write:
    every inserted row is on both stores, and only those rows."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE bench_ins (client int NOT NULL, r bigint NOT NULL, note text)")
    proxy = proxy_factory(migration("dual_write"))
    script = tmp_path / "inserts.sql"
    script.write_text("\\set r random(1, 1000000000)\n"
                      "INSERT INTO bench_ins (client, r, note) VALUES (:client_id, :r, 'x');\n")
    process = start_process(pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "2", "-j", "2",
                                        "-T", "3", "-M", "prepared", "-f", str(script)),
                            {"PGPASSWORD": env.password})
    code, out, err = finish_process(process, timeout=60)
    assert code == 0, f"pgbench failed:\n{out}\n{err}"
    processed, failed = pgbench_summary(out)
    assert failed == 0 and processed > 0, out
    rows = table_rows(direct_conn, fresh_db, "bench_ins", order="client, r")
    # -T may cut a client off after it sent a statement it does not count.
    assert processed <= len(rows["old"]) <= processed + 2, out
    assert rows["new"] == rows["old"], (
        f"old has {len(rows['old'])} rows, new has {len(rows['new'])}")


def test_tenant_overrides(env, proxy_factory, make_db, direct_conn):
    db_a, db_b = make_db(), make_db()
    for db in (db_a, db_b):
        prepare_schema(direct_conn, db)
    # Under trust pgdual still refuses a user that is no role (as PostgreSQL does).
    for which in ("old", "new"):
        direct_conn(which).execute(
            "DO $$BEGIN CREATE ROLE trust_user LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    proxy = proxy_factory(migration(
        "prepare",
        tenants=[{"match": {"database": db_a}, "phase": "dual_write"},
                 {"match": {"application_name": "cut_app"}, "phase": "cutover"},
                 {"match": {"user": "trust_user"}, "phase": "cleanup"}],
        confirm_cleanup=True))

    def session(db, row_id, **kw) -> str:
        with proxy.connect(db, **kw) as conn:
            conn.execute("INSERT INTO items (id, src) VALUES (%s, 's')", (row_id,))
            return conn.execute("SELECT v FROM marker WHERE id = 1").fetchone()[0]

    # db_a matches the first rule, even with the application_name of the second.
    assert session(db_a, 1) == "old"
    assert session(db_a, 2, application_name="cut_app") == "old"
    # db_b: default phase (prepare), unless the application or user matches.
    assert session(db_b, 3) == "old"
    assert session(db_b, 4, application_name="cut_app") == "new"
    assert session(db_b, 5, user="trust_user") == "new"

    a = table_rows(direct_conn, db_a, "items")
    assert [r[0] for r in a["old"]] == [1, 2] and [r[0] for r in a["new"]] == [1, 2], a
    b = table_rows(direct_conn, db_b, "items")
    assert [r[0] for r in b["old"]] == [3, 4], b   # prepare: old; cutover: both
    assert [r[0] for r in b["new"]] == [4, 5], b   # cutover: both; cleanup: new only


def test_table_override_writes(env, proxy_factory, fresh_db, direct_conn):
    """Session in dual_write; a table at prepare or cleanup is not mirrored,
    a table at cutover is."""
    tables = ("t_dual", "t_prep", "t_clean", "t_cut")
    on_both(direct_conn, fresh_db, *[f"CREATE TABLE {t} (id int PRIMARY KEY)" for t in tables])
    proxy = proxy_factory(migration(
        "dual_write", confirm_cleanup=True,
        tables={"public.t_prep": {"phase": "prepare"}, "t_clean": {"phase": "cleanup"},
                "public.t_cut": {"phase": "cutover"}}))
    with proxy.connect(fresh_db) as conn:
        for t in tables:
            conn.execute(f"INSERT INTO {t} VALUES (1)")
            conn.execute(f"INSERT INTO {t} VALUES (%s)", (2,))
    expected_new = {"t_dual": [(1,), (2,)], "t_prep": [], "t_clean": [], "t_cut": [(1,), (2,)]}
    for t in tables:
        rows = table_rows(direct_conn, fresh_db, t)
        assert rows["old"] == [(1,), (2,)], (t, rows)
        assert rows["new"] == expected_new[t], (t, rows)


def test_table_override_reads(env, proxy_factory, fresh_db, direct_conn):
    """docs/configuration.md: the session's phase decides which store answers
    all of its statements; a table override (here: cutover) only decides
    whether writes to the table are mirrored."""
    on_both(direct_conn, fresh_db, "CREATE TABLE r_cut (v text)", "CREATE TABLE r_dual (v text)")
    for which in STORES:
        on_store(direct_conn, which, fresh_db, f"INSERT INTO r_cut VALUES ('{which}')",
                 f"INSERT INTO r_dual VALUES ('{which}')")
    proxy = proxy_factory(migration("dual_write", tables={"public.r_cut": {"phase": "cutover"}}))
    with proxy.connect(fresh_db) as conn:
        reads = [conn.execute(sql).fetchone()[0] for sql in
                 ("SELECT v FROM r_dual", "SELECT c.v FROM r_cut c, r_dual d",
                  "SELECT v FROM r_cut")]
    assert reads == ["old", "old", "old"]
    # And the other way round: a dual_write table in a cutover session.
    proxy2 = proxy_factory(migration("cutover", tables={"public.r_dual": {"phase": "dual_write"}}))
    with proxy2.connect(fresh_db) as conn:
        assert conn.execute("SELECT v FROM r_dual").fetchone()[0] == "new"


@pytest.mark.parametrize("policy", ["mirror", "primary_only", "reject"])
def test_ddl_policy(env, proxy_factory, fresh_db, direct_conn, policy):
    proxy = proxy_factory(migration("dual_write", ddl=policy))
    with proxy.connect(fresh_db) as conn:
        if policy == "reject":
            with pytest.raises(psycopg.Error) as info:
                conn.execute("CREATE TABLE ddl_t (id int PRIMARY KEY)")
            assert info.value.sqlstate == "0A000", info.value
            assert info.value.diag.message_primary.startswith("pgdual:"), info.value
            # The session goes on.
            assert conn.execute("SELECT 1").fetchone()[0] == 1
        else:
            conn.execute("CREATE TABLE ddl_t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO ddl_t VALUES (1)")
    expected = {"mirror": {"old", "new"}, "primary_only": {"old"}, "reject": set()}[policy]
    for which in STORES:
        assert table_exists(direct_conn, which, fresh_db, "public.ddl_t") == (which in expected), \
            f"ddl {policy}: table on {which}? expected {which in expected}"
    if policy == "mirror":
        assert table_rows(direct_conn, fresh_db, "ddl_t")["new"] == [(1,)]


def test_async_strategy_reaches_secondary(env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE a_t (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy="async"))
    with proxy.connect(fresh_db) as conn:
        for i in range(1, 51):
            conn.execute("INSERT INTO a_t VALUES (%s, %s)", (i, f"v{i}"))
        with conn.transaction():
            for i in range(51, 61):
                conn.execute("INSERT INTO a_t VALUES (%s, %s)", (i, f"v{i}"))
        conn.execute("UPDATE a_t SET v = 'upd' WHERE id <= 5")
        conn.execute("DELETE FROM a_t WHERE id = 60")
    old = table_rows(direct_conn, fresh_db, "a_t")["old"]
    assert len(old) == 59
    wait_for(lambda: query(direct_conn, "new", fresh_db, "SELECT * FROM a_t ORDER BY 1") == old,
             timeout=10, what="the async secondary to receive every write")
