"""Statement mirroring is exact, or it says so (issue 12), for what spans a transaction or a
session: a COMMIT the primary refuses, a client that leaves right after COMMIT, a journaled
transaction that recovered from an error with ROLLBACK TO SAVEPOINT, and the session
settings (TimeZone, DateStyle, search_path) a store's database or role defaults differently,
and batches the primary rejects partway with a savepoint among their completed statements
(psycopg's pipeline mode, pgjdbc's autosave).

Each check of where data landed queries the servers directly."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from dual_write_helpers import (journal_count, journal_migration, metric, migration,
                                needs_proxy, on_both, on_store, pg_servers, query, table_rows,
                                wait_journal_drained, wait_sessions_settled)

AUTOSAVE_SOURCE = Path(__file__).resolve().parent.parent / "clients" / "AutosaveCheck.java"
JDBC_JAR = "/usr/share/java/postgresql.jar"

pytestmark = needs_proxy
_fixtures = (pg_servers,)  # a fixture imported from the helpers, used by name below


@pytest.mark.parametrize("strategy", ["sync", "async"])
def test_commit_the_primary_refuses_leaves_neither_store_with_the_rows(
        proxy_factory, fresh_db, direct_conn, strategy):
    """A deferred foreign key fails only at COMMIT, on the primary: the secondary's open
    transaction (which had the same rows) must roll back too, and the session goes on."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE parent (id int PRIMARY KEY)",
            "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent "
            "DEFERRABLE INITIALLY DEFERRED)")
    proxy = proxy_factory(migration("dual_write", strategy=strategy))
    with proxy.connect(fresh_db) as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO child VALUES (1, 99)")  # no parent 99: checked at COMMIT
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("COMMIT")
        conn.execute("INSERT INTO parent VALUES (7)")
        conn.execute("INSERT INTO child VALUES (2, 7)")
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "child")
    assert rows["old"] == [(2, 7)], rows
    assert rows["new"] == rows["old"], (rows, proxy.log_tail())


def test_client_that_leaves_right_after_commit_leaves_both_stores_committed(
        proxy_factory, fresh_db, direct_conn):
    """The client sends COMMIT and Terminate in one go and closes its socket: the primary
    commits, so the secondary must commit the same transaction (not roll it back with the
    session)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE left_behind (id int PRIMARY KEY)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    conn = proxy.connect(fresh_db)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO left_behind SELECT generate_series(1, 100)")
    conn.pgconn.send_query(b"COMMIT")
    conn.pgconn.flush()
    conn.pgconn.finish()  # Terminate right behind the COMMIT, without reading the reply
    wait_sessions_settled(proxy, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT count(*) FROM left_behind") == \
            [(100,)], which


def test_journaled_transaction_that_recovered_with_rollback_to_savepoint_replays(
        fresh_db, proxy_factory, direct_conn, pg_servers):
    """A transaction written while the secondary is down is journaled. One that recovered from
    an error with ROLLBACK TO SAVEPOINT holds the statement the primary refused: replayed as
    it was sent it fails the same way, and the savepoint's recovery must be replayed too, so the
    secondary ends with the primary's rows and no dead letter."""
    on_both(direct_conn, fresh_db, "CREATE TABLE saved (id int PRIMARY KEY, v text NOT NULL)")
    proxy = proxy_factory(journal_migration("dual_write", max_attempts=3))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO saved VALUES (1, 'mirrored')")
        pg_servers.stop("new")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO saved VALUES (2, 'before')")
        conn.execute("SAVEPOINT attempt")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO saved VALUES (1, 'duplicate')")
        conn.execute("ROLLBACK TO SAVEPOINT attempt")
        conn.execute("INSERT INTO saved VALUES (3, 'after')")
        conn.execute("RELEASE SAVEPOINT attempt")
        conn.execute("COMMIT")
    pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    assert journal_count(direct_conn, "old", fresh_db, "dead_letter") == 0, proxy.log_tail()
    rows = table_rows(direct_conn, fresh_db, "saved")
    assert rows["old"] == [(1, "mirrored"), (2, "before"), (3, "after")], rows
    assert rows["new"] == rows["old"], rows


def test_session_settings_follow_the_primary_not_the_new_stores_defaults(
        proxy_factory, fresh_db, direct_conn):
    """The new store's database says TimeZone Asia/Tokyo, DateStyle DMY and a search_path that
    starts with another schema: a literal timestamp, a literal date and an unqualified table
    name must still mean on the new store what they mean on the primary."""
    on_both(direct_conn, fresh_db,
            "CREATE SCHEMA elsewhere",
            "CREATE TABLE public.settled (id int PRIMARY KEY, at timestamptz, day date)",
            "CREATE TABLE elsewhere.settled (id int PRIMARY KEY, at timestamptz, day date)")
    on_store(direct_conn, "old", fresh_db,
             f"ALTER DATABASE {fresh_db} SET TimeZone TO 'UTC'",
             f"ALTER DATABASE {fresh_db} SET DateStyle TO 'ISO, MDY'")
    on_store(direct_conn, "new", fresh_db,
             f"ALTER DATABASE {fresh_db} SET TimeZone TO 'Asia/Tokyo'",
             f"ALTER DATABASE {fresh_db} SET DateStyle TO 'SQL, DMY'",
             f"ALTER DATABASE {fresh_db} SET search_path TO elsewhere, public")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO settled VALUES (1, '2024-03-04 05:06:07', '03/04/2024')")
        conn.execute("UPDATE settled SET day = day + 1 WHERE at = '2024-03-04 05:06:07'")
    wait_sessions_settled(proxy, timeout=20)
    read = ("SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
            "to_char(day, 'YYYY-MM-DD') "
            "FROM public.settled ORDER BY id")
    old = query(direct_conn, "old", fresh_db, read)
    new = query(direct_conn, "new", fresh_db, read)
    assert old == [(1, "2024-03-04 05:06:07", "2024-03-05")], old
    assert new == old
    assert query(direct_conn, "new", fresh_db, "SELECT count(*) FROM elsewhere.settled") == [(0,)]


def fail_a_pipeline_after_its_savepoint(conn) -> None:
    """psycopg's pipeline: SAVEPOINT s and a duplicate of row 1 in one batch. The primary runs
    the SAVEPOINT and rejects the INSERT; the client then rolls back to that newest s."""
    with pytest.raises(psycopg.errors.UniqueViolation):
        with conn.pipeline():
            conn.execute("SAVEPOINT s")
            conn.execute("INSERT INTO piped VALUES (1, 'duplicate')")
    conn.execute("ROLLBACK TO SAVEPOINT s")


@pytest.mark.parametrize("strategy", ["sync", "async"])
def test_pipeline_rejected_after_its_savepoint_rolls_back_to_that_savepoint(
        proxy_factory, fresh_db, direct_conn, strategy):
    """psycopg's pipeline sends SAVEPOINT s and a failing INSERT in one batch; the primary runs
    the SAVEPOINT, then rejects the INSERT. ROLLBACK TO SAVEPOINT s then returns to that newest
    s. Had the secondary dropped the whole batch, it would roll back to the older s and lose
    row 3, with equal command tags: a silent divergence."""
    on_both(direct_conn, fresh_db, "CREATE TABLE piped (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy=strategy))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO piped VALUES (1, 'first')")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO piped VALUES (2, 'kept')")
        conn.execute("SAVEPOINT s")
        conn.execute("INSERT INTO piped VALUES (3, 'kept after the older s')")
        fail_a_pipeline_after_its_savepoint(conn)
        conn.execute("INSERT INTO piped VALUES (4, 'after the rollback')")
        conn.execute("COMMIT")
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "piped")
    assert [r[0] for r in rows["old"]] == [1, 2, 3, 4], rows
    assert rows["new"] == rows["old"], (rows, proxy.log_tail())


def test_pipeline_rejected_partway_is_replayed_from_the_journal_as_the_primary_ran_it(
        fresh_db, proxy_factory, direct_conn, pg_servers):
    """The same batch while the secondary is down: the journaled transaction holds the
    SAVEPOINT the primary ran and not the INSERT it rejected, so the replay ends equal."""
    on_both(direct_conn, fresh_db, "CREATE TABLE piped (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(journal_migration("dual_write", max_attempts=3))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO piped VALUES (1, 'first')")
        pg_servers.stop("new")
        conn.execute("BEGIN")
        conn.execute("SAVEPOINT s")
        conn.execute("INSERT INTO piped VALUES (3, 'kept after the older s')")
        fail_a_pipeline_after_its_savepoint(conn)
        conn.execute("COMMIT")
    pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    assert journal_count(direct_conn, "old", fresh_db, "dead_letter") == 0, proxy.log_tail()
    rows = table_rows(direct_conn, fresh_db, "piped")
    assert [r[0] for r in rows["old"]] == [1, 3], rows
    assert rows["new"] == rows["old"], rows


def test_pgjdbc_autosave_leaves_both_stores_equal(env, proxy_factory, fresh_db, direct_conn,
                                                  run):
    """pgjdbc with autosave=always sets its own savepoint before each statement and rolls back
    to it when one fails; the transaction then commits the rest."""
    on_both(direct_conn, fresh_db, "CREATE TABLE autosaved (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    url = (f"jdbc:postgresql://{proxy.host}:{proxy.port}/{fresh_db}"
           "?sslmode=disable&autosave=always&prepareThreshold=3&connectTimeout=10"
           "&socketTimeout=60")
    result = run(["java", "-cp", JDBC_JAR, str(AUTOSAVE_SOURCE), url, env.user, env.password],
                 timeout=180, check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.count("OK duplicate sqlstate=23505") == 2, result.stdout
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "autosaved")
    assert [r[0] for r in rows["old"]] == [1, 2, 3] + list(range(10, 21)), rows
    assert rows["new"] == rows["old"], (rows, proxy.log_tail())


SLOW_ON_NEW = (
    "CREATE FUNCTION slow_apply() RETURNS trigger LANGUAGE plpgsql AS "
    "$$BEGIN PERFORM pg_sleep(1); RETURN NEW; END$$",
    "CREATE TRIGGER slow_apply BEFORE INSERT ON applied FOR EACH ROW EXECUTE FUNCTION slow_apply()",
)


def test_a_cancel_for_the_primary_never_hits_the_secondarys_write(proxy_factory, fresh_db,
                                                                  direct_conn):
    """Under async the secondary applies a write after the client had its answer (here for a
    second: a trigger on the new store only sleeps). The client then cancels a slow read on the
    primary: the cancel must not reach the secondary, where it would cancel the write."""
    on_both(direct_conn, fresh_db, "CREATE TABLE applied (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "new", fresh_db, *SLOW_ON_NEW)
    proxy = proxy_factory(migration("dual_write", strategy="async"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO applied VALUES (1, 'applied on both')")
        timer = threading.Timer(0.3, conn.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")
        timer.join()
    wait_sessions_settled(proxy, timeout=20)
    assert metric(proxy, "pgdual_secondary_failures_total",
                  {"type": "rejected_by_secondary_only"}) == 0, proxy.log_tail()
    rows = table_rows(direct_conn, fresh_db, "applied")
    assert rows["old"] == [(1, "applied on both")]
    assert rows["new"] == rows["old"], rows


def test_the_clients_statement_timeout_does_not_cancel_writes_on_the_secondary(
        proxy_factory, fresh_db, direct_conn):
    """A client connecting with options='-c statement_timeout=300' gets that timeout on the
    primary; the secondary, slower here, must still apply what the primary accepted."""
    on_both(direct_conn, fresh_db, "CREATE TABLE applied (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "new", fresh_db, *SLOW_ON_NEW)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db, options="-c statement_timeout=300") as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("300ms",)
        conn.execute("INSERT INTO applied VALUES (1, 'slow on the new store')")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)")  # the primary keeps the client's timeout
    wait_sessions_settled(proxy, timeout=20)
    assert metric(proxy, "pgdual_secondary_failures_total",
                  {"type": "rejected_by_secondary_only"}) == 0, proxy.log_tail()
    rows = table_rows(direct_conn, fresh_db, "applied")
    assert rows["new"] == rows["old"] == [(1, "slow on the new store")], rows


@pytest.mark.parametrize("finish", ["COMMIT PREPARED", "ROLLBACK PREPARED"])
def test_two_phase_commit_ends_the_same_way_on_both_stores(proxy_factory, fresh_db, direct_conn,
                                                           finish):
    """PREPARE TRANSACTION in one session, COMMIT/ROLLBACK PREPARED in another (as a
    transaction manager does): both stores end with the same rows and no prepared transaction
    left behind. The test clusters allow prepared transactions (max_prepared_transactions)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE prepared (id int PRIMARY KEY)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    gid = f"pgdual-{fresh_db[-8:]}"
    with proxy.connect(fresh_db) as first:
        first.execute("BEGIN")
        first.execute("INSERT INTO prepared VALUES (1)")
        first.execute(f"PREPARE TRANSACTION '{gid}'")
    with proxy.connect(fresh_db) as second:
        second.execute(f"{finish} '{gid}'")
    wait_sessions_settled(proxy, timeout=20)
    expected = [(1,)] if finish == "COMMIT PREPARED" else []
    rows = table_rows(direct_conn, fresh_db, "prepared")
    assert rows["old"] == expected, rows
    assert rows["new"] == rows["old"], (rows, proxy.log_tail())
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM pg_prepared_xacts WHERE gid = %s", (gid,)) == [(0,)]
