"""Writes that each store evaluates for itself are exact or loud: pgdual names them
unrewritable, so migration.nondeterministic counts them by table under `allow` and refuses them
(SQLSTATE 0A000, nothing written) under `reject`:

- ALTER TABLE ... ADD COLUMN whose default each store computes for its existing rows (serial,
  identity, a call that is not immutable); a constant default stays exact;
- DO blocks (their body is not visible to pgdual);
- volatile functions of an extension (pgcrypto, uuid-ossp);
- functions created around pgdual since its catalog was read (the catalog is read again);
- COPY FROM STDIN that leaves a column to its volatile default;
- input-time literals ('now', 'today', ...);
- reads of the host's own files (pg_read_file, lo_import, COPY FROM a file or a program);
- large objects whose OID each store picks (lo_create(0), lo_creat, lo_from_bytea(0, ...)).

Where data landed is checked by querying each server directly."""

from __future__ import annotations

import os
import tempfile

import psycopg
import pytest

from dual_write_helpers import (metric, metric_sum, migration, needs_proxy, on_both, on_store,
                                query, table_rows, wait_sessions_settled)

pytestmark = needs_proxy

COUNTER = "pgdual_nondeterministic_statements_total"


def counted(proxy, action: str = "allowed", table: str | None = None) -> float:
    labels = {"action": action} if table is None else {"action": action, "table": table}
    return metric_sum(proxy, COUNTER, **labels)


def refused(proxy, fresh_db: str, sql: str) -> None:
    """`sql` through pgdual under reject: SQLSTATE 0A000 naming why."""
    with proxy.connect(fresh_db) as conn:
        with pytest.raises(psycopg.Error) as error:
            conn.execute(sql)
    assert error.value.sqlstate == "0A000", error.value
    assert "different values on the two stores" in str(error.value)


def columns(direct_conn, which: str, fresh_db: str, table: str) -> list[str]:
    return [r[0] for r in query(direct_conn, which, fresh_db,
                                "SELECT column_name::text FROM information_schema.columns "
                                "WHERE table_name = %s ORDER BY ordinal_position", (table,))]


ADDED_COLUMNS = {
    "serial": "ADD COLUMN n serial",
    "identity": "ADD COLUMN n int GENERATED ALWAYS AS IDENTITY",
    "now": "ADD COLUMN n timestamptz DEFAULT now()",
    "clock_timestamp": "ADD COLUMN n timestamptz DEFAULT clock_timestamp()",
    "random": "ADD COLUMN n float8 DEFAULT random()",
}


@pytest.mark.parametrize("kind", sorted(ADDED_COLUMNS))
def test_add_column_filled_per_store_is_counted_or_refused(proxy_factory, fresh_db, direct_conn,
                                                           kind):
    """PostgreSQL fills a new column's existing rows itself: with a serial or identity in the
    store's own row order, with now() at the store's own ALTER, with clock_timestamp() or
    random() per row. The two stores end up with different values (shown below, straight from
    the servers), so pgdual counts the ALTER for its table, or refuses it; a constant default is
    exact and passes uncounted."""
    on_both(direct_conn, fresh_db, "CREATE TABLE items (id int PRIMARY KEY, name text)")
    # The same rows, in another physical order on each store (as after updates or a reload).
    on_store(direct_conn, "old", fresh_db, "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    on_store(direct_conn, "new", fresh_db, "INSERT INTO items VALUES (3, 'c'), (2, 'b'), (1, 'a')")
    table = "public.items"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("ALTER TABLE items ADD COLUMN fixed int DEFAULT 7")  # a constant: exact
        assert counted(proxy, table=table) == 0
        conn.execute(f"ALTER TABLE items {ADDED_COLUMNS[kind]}")
        assert counted(proxy, table=table) == 1
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "items")
    assert [r[2] for r in rows["old"]] == [7, 7, 7] == [r[2] for r in rows["new"]]
    assert [r[3] for r in rows["old"]] != [r[3] for r in rows["new"]], rows  # why it matters
    assert "needs reconciliation" in proxy.log_text()

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    statement = f"ALTER TABLE items {ADDED_COLUMNS[kind].replace(' n ', ' m ')}"
    refused(strict, fresh_db, statement)
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert "m" not in columns(direct_conn, which, fresh_db, "items")
    assert counted(strict, "rejected", table) == 1


def test_do_blocks_are_counted_or_refused(proxy_factory, fresh_db, direct_conn):
    """A DO block's body runs on each store unseen by pgdual (here it draws random())."""
    on_both(direct_conn, fresh_db, "CREATE TABLE log (id int PRIMARY KEY, r float8)")
    block = "DO $$BEGIN INSERT INTO log VALUES ({}, random()); END$$"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute(block.format(1))
        assert counted(proxy) == 1
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "log")
    assert len(rows["old"]) == len(rows["new"]) == 1
    assert rows["old"] != rows["new"], rows

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    refused(strict, fresh_db, block.format(2))
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT count(*) FROM log WHERE id = 2") == [(0,)]


EXTENSION_CALLS = {
    "gen_random_bytes": ("pgcrypto", "encode(gen_random_bytes(8), 'hex')"),
    "pgp_sym_encrypt": ("pgcrypto", "encode(pgp_sym_encrypt('secret', 'key'), 'hex')"),
    "uuid_generate_v1mc": ("uuid-ossp", "uuid_generate_v1mc()::text"),
}


@pytest.mark.parametrize("function", sorted(EXTENSION_CALLS))
def test_volatile_extension_functions_are_counted_or_refused(proxy_factory, fresh_db, direct_conn,
                                                             function):
    """Functions of an extension are left out of the catalog's volatile user functions (read
    routing: a read calling one stays a read); for a write pgdual reads their volatility from
    the catalog separately. PostgreSQL 15's contrib ships pgcrypto and uuid-ossp."""
    extension, call = EXTENSION_CALLS[function]
    on_both(direct_conn, fresh_db, f'CREATE EXTENSION "{extension}"',
            "CREATE TABLE tokens (id int PRIMARY KEY, token text)")
    table = "public.tokens"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute(f"SELECT {call}")  # a read: on the primary alone, nothing counted
        conn.execute(f"INSERT INTO tokens VALUES (1, {call})")
        assert counted(proxy, table=table) == 1
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "tokens")
    assert rows["old"] != rows["new"], rows

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    refused(strict, fresh_db, f"INSERT INTO tokens VALUES (2, {call})")
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT id FROM tokens") == [(1,)]


def test_function_created_around_pgdual_is_counted_and_the_catalog_read_again(
        proxy_factory, fresh_db, direct_conn):
    """A function created since pgdual read the catalog (by a client that bypasses pgdual, or
    through another pgdual) is unknown: pgdual cannot tell whether it is volatile. The write is
    counted (or refused), and the session reads the catalog again, so that the next call of
    the (immutable) function is exact."""
    on_both(direct_conn, fresh_db, "CREATE TABLE doubled (id int PRIMARY KEY, n int)")
    table = "public.doubled"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO doubled VALUES (0, 0)")  # the session has read the catalog
        refreshes = metric(proxy, "pgdual_catalog_refreshes_total", {"result": "ok"})
        on_both(direct_conn, fresh_db, "CREATE FUNCTION twice(int) RETURNS int IMMUTABLE "
                                       "LANGUAGE sql AS 'SELECT $1 * 2'")
        conn.execute("INSERT INTO doubled VALUES (1, twice(1))")
        assert counted(proxy, table=table) == 1
        conn.execute("INSERT INTO doubled VALUES (2, twice(2))")  # known now: exact
        assert counted(proxy, table=table) == 1
        assert metric(proxy, "pgdual_catalog_refreshes_total", {"result": "ok"}) > refreshes
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "doubled")
    assert rows["old"] == rows["new"] == [(0, 0), (1, 2), (2, 4)], rows

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    with strict.connect(fresh_db) as conn:
        conn.execute("SELECT 1")
        on_both(direct_conn, fresh_db, "CREATE FUNCTION thrice(int) RETURNS int IMMUTABLE "
                                       "LANGUAGE sql AS 'SELECT $1 * 3'")
        with pytest.raises(psycopg.Error) as error:
            conn.execute("INSERT INTO doubled VALUES (3, thrice(3))")
        assert error.value.sqlstate == "0A000", error.value
        assert "unknown to pgdual's catalog" in str(error.value)
        for which in ("old", "new"):
            assert query(direct_conn, which, fresh_db,
                         "SELECT count(*) FROM doubled WHERE id = 3") == [(0,)]
        conn.execute("INSERT INTO doubled VALUES (3, thrice(3))")  # the catalog knows it now
    wait_sessions_settled(strict, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "doubled")
    assert rows["old"] == rows["new"] and rows["old"][-1] == (3, 9), rows


def test_copy_that_leaves_a_volatile_default_is_counted_or_refused(proxy_factory, fresh_db,
                                                                   direct_conn):
    """COPY's rows cannot be given values as VALUES rows can: a column the column list leaves
    out gets each store's own default (here each store's own sequence; the new store's never
    advanced). Giving every column is exact."""
    on_both(direct_conn, fresh_db, "CREATE TABLE events (id serial PRIMARY KEY, name text)")
    on_store(direct_conn, "old", fresh_db, "SELECT setval('events_id_seq', 100)")
    table = "public.events"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        with conn.cursor().copy("COPY events (id, name) FROM STDIN") as copy:
            copy.write_row((500, "given"))
        assert counted(proxy, table=table) == 0
        with conn.cursor().copy("COPY events (name) FROM STDIN") as copy:
            copy.write_row(("defaulted",))
        assert counted(proxy, table=table) == 1
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "events", order="name")
    assert rows["old"] == [(101, "defaulted"), (500, "given")], rows
    assert rows["new"] == [(1, "defaulted"), (500, "given")], rows

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    with strict.connect(fresh_db) as conn:
        with pytest.raises(psycopg.Error) as error:
            with conn.cursor().copy("COPY events (name) FROM STDIN") as copy:
                copy.write_row(("refused",))
    assert error.value.sqlstate == "0A000", error.value
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM events WHERE name = 'refused'") == [(0,)]


def test_input_time_literals_are_counted_or_refused(proxy_factory, fresh_db, direct_conn):
    """'now', 'today', ... become a date or time with the clock of the server that reads them.
    A string that stays text is exact. (A Bind's parameter is not visible to the analysis.)"""
    on_both(direct_conn, fresh_db, "CREATE TABLE stamps (id int PRIMARY KEY, at timestamptz, "
                                   "note text)")
    table = "public.stamps"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO stamps VALUES (1, '2026-01-01', 'now'::text)")
        assert counted(proxy, table=table) == 0
        conn.execute("INSERT INTO stamps VALUES (2, 'now', 'x')")
        assert counted(proxy, table=table) == 1
        conn.execute("UPDATE stamps SET at = ' Today ' WHERE id = 1")
        assert counted(proxy, table=table) == 2
    wait_sessions_settled(proxy, timeout=20)
    old, new = (query(direct_conn, which, fresh_db, "SELECT at FROM stamps WHERE id = 2")
                for which in ("old", "new"))
    assert old != new  # each store's clock

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    refused(strict, fresh_db, "INSERT INTO stamps VALUES (3, 'tomorrow', 'x')")
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM stamps WHERE id = 3") == [(0,)]


@pytest.fixture
def host_file():
    """A file both servers can read (they run on this host as the postgres user)."""
    fd, path = tempfile.mkstemp(prefix="pgdual_host_", suffix=".txt", dir="/tmp")
    with os.fdopen(fd, "w") as out:
        out.write("1\tfrom a file\n")
    os.chmod(path, 0o644)
    yield path
    os.unlink(path)


HOST_FILE_WRITES = {
    "pg_read_file": "INSERT INTO notes SELECT {id}, pg_read_file('postmaster.pid')",
    "copy_file": "COPY notes FROM '{path}'",
    "copy_program": "COPY notes FROM PROGRAM 'cat {path}'",
    "lo_import": "INSERT INTO notes SELECT {id}, lo_import('{path}')::text",
}


@pytest.mark.parametrize("kind", sorted(HOST_FILE_WRITES))
def test_reads_of_the_hosts_files_are_counted_or_refused(proxy_factory, fresh_db, direct_conn,
                                                         host_file, kind):
    """Each store reads the files of its own host: postmaster.pid differs per store (process,
    port, data directory); a COPY or lo_import path names a file on each store's host."""
    on_both(direct_conn, fresh_db, "CREATE TABLE notes (id int, body text)")
    table = "public.notes"
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute(HOST_FILE_WRITES[kind].format(id=1, path=host_file))
        assert counted(proxy, table=table) == 1
    wait_sessions_settled(proxy, timeout=20)
    if kind == "pg_read_file":
        rows = table_rows(direct_conn, fresh_db, "notes")
        assert rows["old"] != rows["new"], rows

    on_both(direct_conn, fresh_db, "TRUNCATE notes")
    objects = {which: query(direct_conn, which, fresh_db,
                            "SELECT count(*) FROM pg_largeobject_metadata")
               for which in ("old", "new")}
    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    refused(strict, fresh_db, HOST_FILE_WRITES[kind].format(id=2, path=host_file))
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT count(*) FROM notes") == [(0,)]
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM pg_largeobject_metadata") == objects[which]


LARGE_OBJECT_CALLS = {
    "lo_create": "SELECT lo_create(0)",
    "lo_creat": "SELECT lo_creat(-1)",
    "lo_from_bytea": "SELECT lo_from_bytea(0, 'abc')",
}


@pytest.mark.parametrize("kind", sorted(LARGE_OBJECT_CALLS))
def test_large_objects_whose_oid_each_store_picks_are_counted_or_refused(
        proxy_factory, fresh_db, direct_conn, kind):
    """With OID 0 (or with lo_creat) each store picks the new large object's OID from its own
    counter; a given OID is exact."""
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT lo_create(424242)")
        assert counted(proxy) == 0
        conn.execute(LARGE_OBJECT_CALLS[kind])
        assert counted(proxy) == 1
    wait_sessions_settled(proxy, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = 424242") == [(1,)]

    strict = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="reject"))
    before = {which: query(direct_conn, which, fresh_db,
                           "SELECT count(*) FROM pg_largeobject_metadata")
              for which in ("old", "new")}
    refused(strict, fresh_db, LARGE_OBJECT_CALLS[kind])
    wait_sessions_settled(strict, timeout=20)
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db,
                     "SELECT count(*) FROM pg_largeobject_metadata") == before[which]
