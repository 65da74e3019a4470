"""Statement mirroring is exact, or it says so (issue 12): pgdual's own queries stay out of the
client's transaction where they would change its meaning, a user that is no role is refused
under trust as PostgreSQL refuses it, and writes whose values pgdual cannot make identical on
both stores are counted by table and reason.

Each check of where data landed queries the servers directly."""

from __future__ import annotations

import psycopg
import pytest

from dual_write_helpers import (metric_sum, migration, needs_proxy, on_both, query, table_rows,
                                wait_sessions_settled)

pytestmark = needs_proxy


def test_set_transaction_right_after_begin(proxy_factory, fresh_db, direct_conn, run):
    """Frameworks send BEGIN then SET TRANSACTION ISOLATION LEVEL: PostgreSQL accepts it only
    before the transaction's first query (25001 otherwise). pgdual used to ask the primary for
    the transaction's now() right after every BEGIN."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE stamped (id int PRIMARY KEY, at timestamptz NOT NULL)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:  # psycopg: the extended protocol
        conn.execute("BEGIN")
        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        assert conn.execute("SHOW transaction_isolation").fetchone()[0] == "serializable"
        conn.execute("INSERT INTO stamped VALUES (1, now())")
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE")
        conn.execute("INSERT INTO stamped VALUES (2, now())")
        conn.execute("COMMIT")
    script = ("BEGIN;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n"
              "INSERT INTO stamped VALUES (3, now());\nSHOW transaction_isolation;\nCOMMIT;\n")
    result = run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", proxy.dsn(fresh_db),
                  "-c", script], check=False)  # psql -c: one simple Query
    assert result.returncode == 0, result.stderr
    assert "serializable" in result.stdout
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "stamped")
    assert [r[0] for r in rows["old"]] == [1, 2, 3], rows
    assert rows["old"] == rows["new"], rows  # now() rewritten to the primary's value


def test_repeatable_read_snapshot_is_the_clients(proxy_factory, fresh_db, direct_conn):
    """A REPEATABLE READ transaction's snapshot is taken by its first statement: a row another
    session commits after BEGIN but before that statement is visible to it, through pgdual as
    directly (no query of pgdual's took the snapshot at BEGIN)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE seen (id int PRIMARY KEY)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as reader, proxy.connect(fresh_db) as writer:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        writer.execute("INSERT INTO seen VALUES (1)")
        assert reader.execute("SELECT count(*) FROM seen").fetchone()[0] == 1
        writer.execute("INSERT INTO seen VALUES (2)")
        assert reader.execute("SELECT count(*) FROM seen").fetchone()[0] == 1  # the snapshot
        reader.execute("COMMIT")


def test_trust_refuses_a_user_that_is_no_role(proxy_factory, env, fresh_db):
    proxy = proxy_factory()  # auth.method trust
    with pytest.raises(psycopg.OperationalError) as refused:
        proxy.connect(fresh_db, user="no_such_role_x").close()
    assert 'role "no_such_role_x" does not exist' in str(refused.value)
    assert metric_sum(proxy, "pgdual_client_connections_rejected_total", reason="auth_failed") >= 1
    with proxy.connect(fresh_db) as conn:  # a real role still gets in
        assert conn.execute("SELECT 1").fetchone() == (1,)


VOLATILE_DEFAULTS = [
    "CREATE FUNCTION pick() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT (random() * 1000)::int'",
    "CREATE TABLE stamped_defaults (id int PRIMARY KEY, "
    "utc timestamp DEFAULT timezone('utc', now()), "
    "clock timestamptz DEFAULT clock_timestamp(), "
    "r double precision DEFAULT random(), "
    "p int DEFAULT pick(), "
    "fixed text DEFAULT lower('X'))",
]


@pytest.mark.parametrize("column", ["utc", "clock", "r", "p"])
def test_volatile_defaults_are_counted_by_the_catalogs_volatility(proxy_factory, fresh_db,
                                                                  direct_conn, column):
    """Defaults outside the rewrite's exact forms (now(), nextval, gen_random_uuid) used to
    differ silently. pgdual reads every default's volatility from the primary's catalog: an
    INSERT that leaves such a column to its default is counted for its table, and refused
    under migration.nondeterministic: reject. Naming the column explicitly is exact."""
    on_both(direct_conn, fresh_db, *VOLATILE_DEFAULTS)
    others = [c for c in ("utc", "clock", "r", "p") if c != column]
    given = ", ".join(others)
    values = "'2026-01-01', '2026-01-01', 0.5, 7"
    values = ", ".join(dict(zip(("utc", "clock", "r", "p"), values.split(", ")))[c]
                       for c in others)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    table = "public.stamped_defaults"
    with proxy.connect(fresh_db) as conn:
        conn.execute(f"INSERT INTO stamped_defaults (id, {given}) VALUES (1, {values})")
        assert metric_sum(proxy, "pgdual_nondeterministic_statements_total", table=table,
                          action="allowed") == 1
        conn.execute("INSERT INTO stamped_defaults (id, utc, clock, r, p) "
                     "VALUES (2, '2026-01-01', '2026-01-01', 0.5, 7)")  # every value given
        assert metric_sum(proxy, "pgdual_nondeterministic_statements_total", table=table) == 1
    wait_sessions_settled(proxy, timeout=20)
    exact = [query(direct_conn, which, fresh_db,
                   "SELECT * FROM stamped_defaults WHERE id = 2") for which in ("old", "new")]
    assert exact[0] == exact[1], exact

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    with strict.connect(fresh_db) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(f"INSERT INTO stamped_defaults (id, {given}) VALUES (3, {values})")
        assert "different values on the two stores" in str(refused.value)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM stamped_defaults WHERE id = 3") == [(0,)]


ROW_CHOICE_WRITES = {
    "skip_locked": "UPDATE jobs SET taken = true WHERE id = (SELECT id FROM jobs WHERE NOT taken "
                   "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)",
    "limit": "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs LIMIT 1)",
    "ctid": "DELETE FROM jobs WHERE ctid = (SELECT min(ctid) FROM jobs)",
}


@pytest.mark.parametrize("kind", sorted(ROW_CHOICE_WRITES))
def test_writes_that_choose_rows_per_store_are_counted_or_refused(proxy_factory, fresh_db,
                                                                  direct_conn, kind):
    """SKIP LOCKED skips rows other sessions lock on the primary (not on the new store), LIMIT
    without ORDER BY takes the scan order of each store, ctid names one store's physical rows:
    such a write may change other rows on the new store. It is counted for its table under
    migration.nondeterministic: allow, and refused under reject."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE jobs (id int PRIMARY KEY, taken boolean NOT NULL DEFAULT false)",
            "INSERT INTO jobs SELECT g, false FROM generate_series(1, 5) g")
    table = "public.jobs"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as holder, proxy.connect(fresh_db) as worker:
        holder.execute("BEGIN")
        # A lock only the old store has: SKIP LOCKED passes row 1 there; the other writes
        # take a row the holder does not lock (they would wait for it).
        locked = 1 if kind == "skip_locked" else 5
        holder.execute("SELECT * FROM jobs WHERE id = %s FOR UPDATE", (locked,))
        worker.execute(ROW_CHOICE_WRITES[kind])
        assert metric_sum(proxy, "pgdual_nondeterministic_statements_total", table=table,
                          action="allowed") == 1
        holder.execute("ROLLBACK")
    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    before = table_rows(direct_conn, fresh_db, "jobs")
    with strict.connect(fresh_db) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(ROW_CHOICE_WRITES[kind])
        assert "different" in str(refused.value)
    wait_sessions_settled(strict, timeout=20)
    assert table_rows(direct_conn, fresh_db, "jobs") == before
