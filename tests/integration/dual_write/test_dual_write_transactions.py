"""Transactions and session state in dual_write (strategy sync), through
pgdual, checked on each server directly: the secondary mirrors the
primary's transaction boundaries (commit, rollback, savepoints, errors,
COMMIT of a failed transaction, pipelines, multi-statement queries), and the
session state a later write depends on (search_path, SQL prepared
statements, temporary tables) reaches it; COPY FROM STDIN reaches both."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import psycopg.errors as errors
import pytest

from dual_write_helpers import STORES, migration, needs_proxy, on_both, on_store, table_rows

pytestmark = needs_proxy


@pytest.fixture
def dual_proxy(proxy_factory):
    return proxy_factory(migration("dual_write", strategy="sync"))


class Client:
    """One psycopg session through the proxy. "simple": every statement is a
    simple Query (client-side parameter binding); "extended": statements with
    parameters go through Parse/Bind/Execute as named prepared statements."""

    def __init__(self, proxy, dbname: str, protocol: str):
        self.protocol = protocol
        kw = {"cursor_factory": psycopg.ClientCursor} if protocol == "simple" else {}
        self.conn = psycopg.connect(proxy.dsn(dbname), autocommit=True, **kw)

    def execute(self, sql: str, params=None) -> psycopg.Cursor:
        if params is not None and self.protocol == "extended":
            return self.conn.execute(sql, params, prepare=True)
        return self.conn.execute(sql, params)

    def close(self):
        self.conn.close()


def ids(rows) -> list[int]:
    return None if rows is None else [r[0] for r in rows]


def both_ids(direct_conn, dbname: str, table: str) -> dict[str, list[int]]:
    return {which: ids(rows) for which, rows in table_rows(direct_conn, dbname, table).items()}


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_transaction_boundaries(dual_proxy, fresh_db, direct_conn, protocol):
    on_both(direct_conn, fresh_db, "CREATE TABLE tx (id int PRIMARY KEY)")
    c = Client(dual_proxy, fresh_db, protocol)
    ins = "INSERT INTO tx VALUES (%s)"
    try:
        # commit
        c.execute("BEGIN")
        c.execute(ins, (1,))
        c.execute(ins, (2,))
        assert c.execute("COMMIT").statusmessage == "COMMIT"
        assert both_ids(direct_conn, fresh_db, "tx") == {"old": [1, 2], "new": [1, 2]}

        # rollback
        c.execute("BEGIN")
        c.execute(ins, (3,))
        c.execute("ROLLBACK")
        assert both_ids(direct_conn, fresh_db, "tx") == {"old": [1, 2], "new": [1, 2]}

        # savepoints: ROLLBACK TO undoes, RELEASE keeps
        c.execute("BEGIN")
        c.execute(ins, (4,))
        c.execute("SAVEPOINT s1")
        c.execute(ins, (5,))
        c.execute("ROLLBACK TO SAVEPOINT s1")
        c.execute(ins, (6,))
        c.execute("SAVEPOINT s2")
        c.execute(ins, (7,))
        c.execute("RELEASE SAVEPOINT s2")
        assert c.execute("COMMIT").statusmessage == "COMMIT"
        assert both_ids(direct_conn, fresh_db, "tx") == {"old": [1, 2, 4, 6, 7],
                                                         "new": [1, 2, 4, 6, 7]}

        # an error inside a savepoint, rolled back to it: the transaction goes on
        c.execute("BEGIN")
        c.execute(ins, (8,))
        c.execute("SAVEPOINT s")
        with pytest.raises(errors.UniqueViolation):
            c.execute(ins, (8,))
        c.execute("ROLLBACK TO SAVEPOINT s")
        c.execute(ins, (9,))
        assert c.execute("COMMIT").statusmessage == "COMMIT"

        # an error inside a transaction, then ROLLBACK
        c.execute("BEGIN")
        c.execute(ins, (10,))
        with pytest.raises(errors.UniqueViolation):
            c.execute(ins, (10,))
        c.execute("ROLLBACK")

        # COMMIT of a failed transaction answers ROLLBACK
        c.execute("BEGIN")
        c.execute(ins, (11,))
        with pytest.raises(errors.DivisionByZero):
            c.execute("SELECT 1/0")
        assert c.execute("COMMIT").statusmessage == "ROLLBACK"

        # the session is usable afterwards
        c.execute(ins, (12,))
    finally:
        c.close()
    expected = [1, 2, 4, 6, 7, 8, 9, 12]
    assert both_ids(direct_conn, fresh_db, "tx") == {"old": expected, "new": expected}


@pytest.mark.parametrize("phase,store", [("dual_write", "old"), ("cutover", "new")])
def test_reads_in_transaction_come_from_primary(proxy_factory, fresh_db, direct_conn, phase,
                                                store):
    on_both(direct_conn, fresh_db, "CREATE TABLE marker (v text)", "CREATE TABLE w (id int)")
    for which in STORES:
        on_store(direct_conn, which, fresh_db, f"INSERT INTO marker VALUES ('{which}')")
    proxy = proxy_factory(migration(phase))
    with proxy.connect(fresh_db) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO w VALUES (1)")
            assert conn.execute("SELECT v FROM marker").fetchone()[0] == store
            assert conn.execute("SELECT count(*) FROM w").fetchone()[0] == 1
    assert both_ids(direct_conn, fresh_db, "w") == {"old": [1], "new": [1]}


def test_pipeline_autocommit(dual_proxy, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE pl (id int PRIMARY KEY, v text)")
    with dual_proxy.connect(fresh_db) as conn:
        with conn.pipeline():
            for i in range(1, 301):
                conn.execute("INSERT INTO pl VALUES (%s, %s)", (i, f"v{i}"))
    rows = table_rows(direct_conn, fresh_db, "pl")
    assert len(rows["old"]) == 300
    assert rows["new"] == rows["old"]


def test_pipeline_in_transaction(dual_proxy, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE pl (id int PRIMARY KEY, v text)")
    with dual_proxy.connect(fresh_db) as conn:
        with conn.pipeline():
            with conn.transaction():
                for i in range(1, 201):
                    conn.execute("INSERT INTO pl VALUES (%s, %s)", (i, f"v{i}"), prepare=True)
            # Rolled back: none of these may land anywhere.
            with conn.transaction():
                for i in range(201, 251):
                    conn.execute("INSERT INTO pl VALUES (%s, %s)", (i, f"v{i}"))
                conn.execute("SELECT 1")
                raise psycopg.Rollback()
    rows = table_rows(direct_conn, fresh_db, "pl")
    assert [r[0] for r in rows["old"]] == list(range(1, 201))
    assert rows["new"] == rows["old"]


def test_pipeline_with_error(dual_proxy, fresh_db, direct_conn):
    """An error in a pipelined batch: the server skips everything up to Sync;
    whatever the primary kept, the secondary holds exactly that."""
    on_both(direct_conn, fresh_db, "CREATE TABLE pl (id int PRIMARY KEY, v text)")
    with dual_proxy.connect(fresh_db) as conn:
        with pytest.raises(errors.UniqueViolation):
            with conn.pipeline():
                for i in range(1, 11):
                    conn.execute("INSERT INTO pl VALUES (%s, 'a')", (i,))
                conn.execute("INSERT INTO pl VALUES (%s, 'dup')", (5,))
                for i in range(11, 21):
                    conn.execute("INSERT INTO pl VALUES (%s, 'b')", (i,))
        # The session goes on.
        conn.execute("INSERT INTO pl VALUES (%s, 'after')", (100,))
    rows = table_rows(direct_conn, fresh_db, "pl")
    assert (100, "after") in rows["old"]
    assert all(v != "dup" for _, v in rows["old"])
    assert rows["new"] == rows["old"]


def test_multi_statement_query(dual_proxy, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE ms (id int PRIMARY KEY)")
    with dual_proxy.connect(fresh_db) as conn:
        # No parameters: psycopg sends one simple Query message.
        conn.execute("INSERT INTO ms VALUES (1); INSERT INTO ms VALUES (2);")
        assert both_ids(direct_conn, fresh_db, "ms") == {"old": [1, 2], "new": [1, 2]}
        # An error in the second statement rolls back the whole implicit
        # transaction of the message.
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO ms VALUES (3); INSERT INTO ms VALUES (1);")
        with pytest.raises(errors.DivisionByZero):
            conn.execute("INSERT INTO ms VALUES (4); SELECT 1/0; INSERT INTO ms VALUES (5);")
        conn.execute("INSERT INTO ms VALUES (6); UPDATE ms SET id = 7 WHERE id = 6;")
    assert both_ids(direct_conn, fresh_db, "ms") == {"old": [1, 2, 7], "new": [1, 2, 7]}


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_search_path(dual_proxy, fresh_db, direct_conn, protocol):
    on_both(direct_conn, fresh_db, "CREATE SCHEMA s1", "CREATE TABLE s1.t (id int)",
            "CREATE TABLE public.t (id int)")
    c = Client(dual_proxy, fresh_db, protocol)
    try:
        c.execute("SET search_path TO s1, public")
        c.execute("INSERT INTO t VALUES (1)")
        c.execute("INSERT INTO t VALUES (%s)", (2,))
        c.execute("BEGIN")
        c.execute("SET LOCAL search_path TO public")
        c.execute("INSERT INTO t VALUES (%s)", (3,))
        c.execute("COMMIT")
        c.execute("INSERT INTO t VALUES (%s)", (4,))  # SET LOCAL ended with the transaction
        c.execute("RESET search_path")
        c.execute("INSERT INTO t VALUES (%s)", (5,))
    finally:
        c.close()
    assert both_ids(direct_conn, fresh_db, "s1.t") == {"old": [1, 2, 4], "new": [1, 2, 4]}
    assert both_ids(direct_conn, fresh_db, "public.t") == {"old": [3, 5], "new": [3, 5]}


def test_sql_prepare_execute_deallocate(dual_proxy, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE pe (id int PRIMARY KEY, v text)")
    with dual_proxy.connect(fresh_db) as conn:
        conn.execute("PREPARE ins(int, text) AS INSERT INTO pe VALUES ($1, $2)")
        conn.execute("EXECUTE ins(1, 'a')")
        conn.execute("EXECUTE ins(2, 'b')")
        conn.execute("DEALLOCATE ins")
        # Same name, other statement: fails on a store that kept the old one.
        conn.execute("PREPARE ins(int) AS INSERT INTO pe VALUES ($1, 'second')")
        conn.execute("EXECUTE ins(3)")
        conn.execute("DISCARD ALL")
        conn.execute("PREPARE ins(int) AS INSERT INTO pe VALUES ($1, 'third')")
        conn.execute("EXECUTE ins(4)")
        conn.execute("DEALLOCATE ALL")
        with pytest.raises(errors.InvalidSqlStatementName):
            conn.execute("EXECUTE ins(5)")
    rows = table_rows(direct_conn, fresh_db, "pe")
    assert rows["old"] == [(1, "a"), (2, "b"), (3, "second"), (4, "third")]
    assert rows["new"] == rows["old"]


def test_temporary_table_feeds_real_table(dual_proxy, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE real_t (id int PRIMARY KEY, v text)")
    with dual_proxy.connect(fresh_db) as conn:
        conn.execute("CREATE TEMP TABLE staging (id int, v text)")
        conn.execute("INSERT INTO staging SELECT g, 'v' || g FROM generate_series(1, 50) g")
        conn.execute("INSERT INTO staging VALUES (%s, %s)", (51, "param"))
        conn.execute("INSERT INTO real_t SELECT id, v FROM staging")
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE staging2 ON COMMIT DROP AS "
                         "SELECT id + 100 AS id, v FROM staging WHERE id <= 10")
            conn.execute("INSERT INTO real_t SELECT id, v FROM staging2")
    rows = table_rows(direct_conn, fresh_db, "real_t")
    assert len(rows["old"]) == 61
    assert rows["new"] == rows["old"]


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_copy_from_stdin(dual_proxy, fresh_db, direct_conn, fmt):
    on_both(direct_conn, fresh_db, "CREATE TABLE cp (id int PRIMARY KEY, v text, n numeric)")
    with_binary = " (FORMAT binary)" if fmt == "binary" else ""
    with dual_proxy.connect(fresh_db) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY cp (id, v, n) FROM STDIN{with_binary}") as copy:
                if fmt == "binary":
                    copy.set_types(["int4", "text", "numeric"])
                for i in range(1, 2001):
                    copy.write_row((i, f"row {i}\twith tab", Decimal(i) / 4))
            assert cur.rowcount == 2000
        # COPY inside a transaction, then more writes, then COMMIT.
        with conn.transaction():
            with conn.cursor() as cur:
                with cur.copy(f"COPY cp (id, v, n) FROM STDIN{with_binary}") as copy:
                    if fmt == "binary":
                        copy.set_types(["int4", "text", "numeric"])
                    for i in range(2001, 2101):
                        copy.write_row((i, None, None))
            conn.execute("UPDATE cp SET v = 'updated' WHERE id > 2050")
        # A COPY the primary rejects (duplicate key) lands nowhere.
        with pytest.raises(errors.UniqueViolation):
            with conn.cursor() as cur:
                with cur.copy(f"COPY cp (id, v, n) FROM STDIN{with_binary}") as copy:
                    if fmt == "binary":
                        copy.set_types(["int4", "text", "numeric"])
                    for i in (5001, 5002, 1):
                        copy.write_row((i, "dup", Decimal(0)))
    rows = table_rows(direct_conn, fresh_db, "cp")
    assert len(rows["old"]) == 2100
    assert rows["new"] == rows["old"], (
        f"old has {len(rows['old'])} rows, new has {len(rows['new'])}")
