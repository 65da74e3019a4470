"""Helpers of the strategy cdc tests (docs/cdc.md): the replication objects, named as pgdual
names them (cdc/names.hpp), and waits for the new store to catch up."""

from __future__ import annotations

import re
import time

import psycopg

from conftest import wait_for
from dual_write_helpers import query, scalar, table_digest


def replication_name(dbname: str) -> str:
    """cdc::names_for(dbname).forward for the plain names the tests use."""
    assert re.fullmatch(r"[a-z0-9_]{1,52}", dbname), dbname
    return "pgdual_" + dbname


def subscribe_by_hand(env, direct_conn, dbname: str, copy_data: bool = True) -> str:
    """The publication (every table of schema public) and subscription pgdual would create, made with SQL, for
    the data-path tests that do not test the setup itself (cdc.manage: false)."""
    name = replication_name(dbname)
    with direct_conn("old", dbname) as conn:
        # Not FOR ALL TABLES: pgdual's own tables (schema pgdual) stay on each store.
        conn.execute(f"CREATE PUBLICATION {name} FOR TABLES IN SCHEMA public")
    conninfo = (f"host={env.host} port={env.port('old')} dbname={dbname} user={env.user} "
                f"password={env.password} application_name={name}")
    with direct_conn("new", dbname) as conn:
        conn.execute(f"CREATE SUBSCRIPTION {name} CONNECTION '{conninfo}' PUBLICATION {name} "
                     f"WITH (copy_data = {str(copy_data).lower()}, streaming = on, "
                     f"synchronous_commit = 'local')")
    wait_tables_ready(direct_conn, dbname, timeout=120)
    return name


def wait_tables_ready(direct_conn, dbname: str, timeout: float) -> None:
    def ready() -> bool:
        states = query(direct_conn, "new", dbname,
                       "SELECT srsubstate FROM pg_subscription_rel r JOIN pg_subscription s "
                       "ON s.oid = r.srsubid WHERE s.subname = %s",
                       (replication_name(dbname),))
        return all(state == "r" for (state,) in states)
    wait_for(ready, timeout, what="every subscribed table to be ready")


def wait_caught_up(direct_conn, dbname: str, timeout: float = 60, reverse: bool = False) -> None:
    """Until the subscription has applied everything its publisher (the old store, or the new
    one with `reverse`) had written when called."""
    name = replication_name(dbname) + ("_rev" if reverse else "")
    publisher = "new" if reverse else "old"
    target = scalar(direct_conn, publisher, dbname, "SELECT pg_current_wal_insert_lsn()::text")

    def applied() -> bool:
        try:
            return bool(scalar(direct_conn, publisher, dbname,
                               "SELECT coalesce(max(replay_lsn) >= %s::pg_lsn, false) "
                               "FROM pg_stat_replication WHERE application_name = %s",
                               (target, name)))
        except psycopg.Error:
            return False
    # Nothing else may write: a nudge past a page boundary (see cdc/apply_watcher.hpp).
    deadline = time.monotonic() + timeout
    while not applied():
        if time.monotonic() > deadline:
            raise AssertionError(f"the new store did not catch up with {target} in {timeout}s")
        scalar(direct_conn, publisher, dbname,
               "SELECT pg_logical_emit_message(false, 'test', '')")
        time.sleep(0.05)


def replication_objects(direct_conn, dbname: str) -> dict[str, list]:
    """pgdual's publications, subscriptions and slots left on either server."""
    return {
        "old_publications": query(direct_conn, "old", dbname,
                                  "SELECT pubname FROM pg_publication WHERE pubname LIKE 'pgdual%%'"),
        "new_subscriptions": query(direct_conn, "new", dbname,
                                   "SELECT subname FROM pg_subscription "
                                   "WHERE subname LIKE 'pgdual%%'"),
        "old_slots": query(direct_conn, "old", "postgres",
                           "SELECT slot_name FROM pg_replication_slots WHERE database = %s",
                           (dbname,)),
    }


def unsubscribe_by_hand(direct_conn, dbname: str) -> None:
    name = replication_name(dbname)
    with direct_conn("new", dbname) as conn:
        conn.execute(f"DROP SUBSCRIPTION IF EXISTS {name}")
    with direct_conn("old", dbname) as conn:
        conn.execute(f"DROP PUBLICATION IF EXISTS {name}")


def assert_identical(direct_conn, dbname: str, order: dict[str, str]) -> None:
    """Once the new store caught up: every table (name -> ORDER BY columns) has the same rows."""
    wait_caught_up(direct_conn, dbname, timeout=120)
    differing = {}
    for table, columns in order.items():
        old = table_digest(direct_conn, "old", dbname, table, columns)
        new = table_digest(direct_conn, "new", dbname, table, columns)
        if old != new:
            differing[table] = (old, new)
    assert not differing, f"stores differ: {differing}"
