"""COPY FROM STDIN through pgdual, exact or loud (issue 12, class 8): COPY sent with the
extended protocol (libpq sends Parse/Bind/Execute/Sync, the data, then CopyDone and a second
Sync, and the server answers one ReadyForQuery), and the memory a large COPY may hold."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import pq

from dual_write_helpers import (journal_migration, metric, metric_sum, migration, needs_proxy,
                                on_both, query, table_rows, wait_journal_drained,
                                wait_sessions_settled)

pytestmark = needs_proxy


def copy_extended(conn: psycopg.Connection, sql: str, rows: list[bytes]) -> pq.PGresult:
    """COPY ... FROM STDIN as libpq sends it with PQsendQueryParams: the extended protocol."""
    pgconn = conn.pgconn
    pgconn.send_query_params(sql.encode(), None)
    result = pgconn.get_result()
    assert result.status == pq.ExecStatus.COPY_IN, result.error_message
    for row in rows:
        assert pgconn.put_copy_data(row) == 1
    assert pgconn.put_copy_end() == 1
    final = pgconn.get_result()
    while pgconn.get_result() is not None:
        pass
    return final


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "transaction"])
@pytest.mark.parametrize("strategy", ["sync", "async"])
def test_extended_protocol_copy_reaches_both_stores_and_the_session_goes_on(
        proxy_factory, fresh_db, direct_conn, strategy, in_transaction):
    on_both(direct_conn, fresh_db, "CREATE TABLE copied (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy=strategy))
    with proxy.connect(fresh_db) as conn:
        if in_transaction:
            conn.execute("BEGIN")
        final = copy_extended(conn, "COPY copied FROM STDIN",
                              [f"{i}\trow {i}\n".encode() for i in range(1, 101)])
        assert final.status == pq.ExecStatus.COMMAND_OK, final.error_message
        assert final.command_status == b"COPY 100"
        # The session's accounting of units survived the two Syncs.
        assert conn.execute("SELECT count(*) FROM copied").fetchone() == (100,)
        conn.execute("INSERT INTO copied VALUES (101, 'after')")
        if in_transaction:
            conn.execute("COMMIT")
    wait_sessions_settled(proxy, timeout=20)
    rows = table_rows(direct_conn, fresh_db, "copied")
    assert len(rows["old"]) == 101
    assert rows["new"] == rows["old"], proxy.log_tail()


ROWS = 40000  # about 2.6 MB of COPY data, against a 1 MB limits.max_copy_buffer
PAD = "x" * 60


def copy_rows(conn: psycopg.Connection, table: str) -> None:
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for i in range(1, ROWS + 1):
            copy.write(f"{i}\t{PAD}{i}\n")


def small_copy_buffer(settings: dict) -> dict:
    return {**settings, "limits": {"max_copy_buffer": "1MB"}}


def test_large_copy_in_a_transaction_streams_to_the_secondary(proxy_factory, fresh_db,
                                                             direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(small_copy_buffer(migration("dual_write", strategy="sync")))
    with proxy.connect(fresh_db) as conn:
        conn.execute("BEGIN")
        copy_rows(conn, "big")
        conn.execute("COMMIT")
    wait_sessions_settled(proxy, timeout=30)
    assert "streaming it to the secondary" in proxy.log_tail(), proxy.log_tail()
    assert metric_sum(proxy, "pgdual_secondary_failures_total") == 0, proxy.log_tail()
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT count(*), sum(id) FROM big") == \
            [(ROWS, ROWS * (ROWS + 1) // 2)], which


def test_large_copy_rejected_by_the_primary_after_streaming_leaves_neither_store_with_it(
        proxy_factory, fresh_db, direct_conn):
    """The COPY streamed to the secondary, then the primary rejects its last row (a duplicate
    key there only): the client rolls back to its savepoint, and the secondary with it."""
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(small_copy_buffer(migration("dual_write", strategy="sync")))
    with proxy.connect(fresh_db) as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO big VALUES (0, 'kept')")
        conn.execute("SAVEPOINT before_copy")
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.cursor().copy("COPY big FROM STDIN") as copy:
                for i in range(1, ROWS + 1):
                    copy.write(f"{i}\t{PAD}{i}\n")
                copy.write("1\tduplicate\n")
        conn.execute("ROLLBACK TO SAVEPOINT before_copy")
        conn.execute("COMMIT")
    wait_sessions_settled(proxy, timeout=30)
    rows = table_rows(direct_conn, fresh_db, "big")
    assert rows["old"] == [(0, "kept")]
    assert rows["new"] == rows["old"], proxy.log_tail()


def test_large_autocommit_copy_reaches_the_secondary_through_the_journal(
        proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(small_copy_buffer(journal_migration("dual_write")))
    with proxy.connect(fresh_db) as conn:
        copy_rows(conn, "big")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    wait_sessions_settled(proxy, timeout=30)
    assert "gets it through the journal" in proxy.log_tail(), proxy.log_tail()
    for which in ("old", "new"):
        assert query(direct_conn, which, fresh_db, "SELECT count(*) FROM big") == [(ROWS,)], which


def test_large_autocommit_copy_without_the_journal_is_counted_for_reconciliation(
        proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(small_copy_buffer(
        migration("dual_write", strategy="sync", journal={"enabled": False})))
    with proxy.connect(fresh_db) as conn:
        copy_rows(conn, "big")
        conn.execute("INSERT INTO big VALUES (0, 'the session goes on')")
    wait_sessions_settled(proxy, timeout=30)
    assert metric(proxy, "pgdual_drift_risk_total",
                  {"table": "public.big", "reason": "copy_larger_than_buffer"}) == 1
    assert query(direct_conn, "old", fresh_db, "SELECT count(*) FROM big") == [(ROWS + 1,)]
