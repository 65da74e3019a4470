"""Routing that needs the primary's catalog, through pgdual against real
servers: a read that calls a volatile function of the application's own is
mirrored like a write (the function may write), also for a function created
through pgdual a moment earlier (the catalog is refreshed after DDL) and for
one created around pgdual (refreshed on reload); migration.read_only_functions
overrides; a table override follows the session's search_path."""

from __future__ import annotations

from dual_write_helpers import (change_config, metric, migration, needs_proxy, on_both,
                                table_rows)

pytestmark = needs_proxy

BUMP = """CREATE FUNCTION bump(n int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO hits VALUES (n); RETURN n; END $$"""
PEEK = """CREATE FUNCTION peek() RETURNS bigint LANGUAGE sql STABLE AS
'SELECT count(*) FROM hits'"""


def test_read_calling_volatile_user_function_is_mirrored(env, proxy_factory, fresh_db,
                                                         direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE hits (n int)", BUMP, PEEK)
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        assert conn.execute("SELECT bump(1)").fetchone()[0] == 1           # simple protocol
        assert conn.execute("SELECT bump(%s)", (2,), prepare=True).fetchone()[0] == 2  # extended
        assert conn.execute("SELECT peek()").fetchone()[0] == 2            # STABLE: a plain read
        with conn.transaction():
            conn.execute("SELECT bump(3)")
    rows = table_rows(direct_conn, fresh_db, "hits")
    assert rows["old"] == [(1,), (2,), (3,)], rows
    assert rows["new"] == rows["old"], rows
    assert metric(proxy, "pgdual_catalog_refreshes_total", {"result": "ok"}) >= 1


def test_function_created_through_pgdual_is_known_at_once(env, proxy_factory, fresh_db,
                                                          direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE hits (n int)")
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        conn.execute(BUMP)  # DDL, mirrored: the function exists on both stores
        conn.execute("SELECT bump(7)")
    with proxy.connect(fresh_db) as other:  # another session sees the refreshed catalog too
        other.execute("SELECT bump(8)")
    rows = table_rows(direct_conn, fresh_db, "hits")
    assert rows["old"] == [(7,), (8,)], rows
    assert rows["new"] == rows["old"], rows


def test_function_created_around_pgdual_is_known_after_reload(env, proxy_factory, fresh_db,
                                                              direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE hits (n int)")
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT 1")  # the session has read the catalog
        on_both(direct_conn, fresh_db, BUMP)
        change_config(proxy, **migration("dual_write", write_functions=["nothing_here"]))
        conn.execute("SELECT bump(5)")
    rows = table_rows(direct_conn, fresh_db, "hits")
    assert rows["old"] == [(5,)], rows
    assert rows["new"] == [(5,)], rows


def test_read_only_override_keeps_the_call_on_the_primary(env, proxy_factory, fresh_db,
                                                          direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE hits (n int)", BUMP)
    proxy = proxy_factory(migration("dual_write", read_only_functions=["bump"]))
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT bump(1)")
    rows = table_rows(direct_conn, fresh_db, "hits")
    assert rows["old"] == [(1,)], rows
    assert rows["new"] == [], rows


def test_table_override_follows_the_search_path(env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE SCHEMA app",
            "CREATE TABLE app.orders (id int PRIMARY KEY)",
            "CREATE TABLE public.orders (id int PRIMARY KEY)")
    proxy = proxy_factory(migration("dual_write", tables={"app.orders": {"phase": "prepare"}}))
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO orders VALUES (1)")           # public.orders: mirrored
        conn.execute("SET search_path TO app, public")
        conn.execute("INSERT INTO orders VALUES (2)")           # app.orders: old store only
        conn.execute("INSERT INTO orders VALUES (%s)", (3,))
        conn.execute("RESET search_path")
        conn.execute("INSERT INTO orders VALUES (4)")           # public.orders again
    app = table_rows(direct_conn, fresh_db, "app.orders")
    public = table_rows(direct_conn, fresh_db, "public.orders")
    assert app["old"] == [(2,), (3,)] and app["new"] == [], app
    assert public["old"] == [(1,), (4,)] and public["new"] == [(1,), (4,)], public


def test_search_path_from_the_connection_options(env, proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE SCHEMA app",
            "CREATE TABLE app.orders (id int PRIMARY KEY)")
    proxy = proxy_factory(migration("dual_write", tables={"app.orders": {"phase": "prepare"}}))
    with proxy.connect(fresh_db, options="-c search_path=app") as conn:
        conn.execute("INSERT INTO orders VALUES (1)")
    app = table_rows(direct_conn, fresh_db, "app.orders")
    assert app["old"] == [(1,)] and app["new"] == [], app
