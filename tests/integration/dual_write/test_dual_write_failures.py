"""Failures in dual_write (strategy sync), through pgdual, checked on each
server directly: the primary is the truth, so a write it rejects never
reaches the secondary; a write only the secondary rejects leaves the client
successful under on_secondary_failure: continue (logged, counted, queued for
retry) and failing under fail; differing row counts are counted as
divergence."""

from __future__ import annotations

import psycopg
import psycopg.errors as errors
import pytest

from dual_write_helpers import (metric, metric_samples, migration, needs_proxy, on_both,
                                SYNC, on_store, pipeline_batch, table_rows, wait_for)

pytestmark = needs_proxy

REJECTED = ("pgdual_secondary_failures_total", {"type": "rejected_by_secondary_only"})
RETRY_DEPTH = ("pgdual_retry_queue_depth", None)


def connect(proxy, dbname: str, protocol: str) -> psycopg.Connection:
    kw = {"cursor_factory": psycopg.ClientCursor} if protocol == "simple" else {}
    return psycopg.connect(proxy.dsn(dbname), autocommit=True, **kw)


def ext(protocol: str) -> dict:
    return {"prepare": True} if protocol == "extended" else {}


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_primary_rejection_never_reaches_secondary(proxy_factory, fresh_db, direct_conn,
                                                   protocol):
    """Row 1 exists on the primary (old) only, so an INSERT of id 1 fails on
    the primary and would succeed on the secondary if it were sent there."""
    on_both(direct_conn, fresh_db, "CREATE TABLE u (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO u VALUES (1, 'old only')")
    proxy = proxy_factory(migration("dual_write"))
    kw = ext(protocol)
    with connect(proxy, fresh_db, protocol) as conn:
        # autocommit
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO u VALUES (%s, %s)", (1, "autocommit"), **kw)
        # in a transaction, then ROLLBACK
        conn.execute("BEGIN")
        conn.execute("INSERT INTO u VALUES (%s, %s)", (2, "in rolled back tx"), **kw)
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO u VALUES (%s, %s)", (1, "in tx"), **kw)
        conn.execute("ROLLBACK")
        # in a transaction, then COMMIT (answers ROLLBACK)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO u VALUES (%s, %s)", (3, "in failed tx"), **kw)
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO u VALUES (%s, %s)", (1, "in tx"), **kw)
        assert conn.execute("COMMIT").statusmessage == "ROLLBACK"
        # a multi-statement simple query whose second statement fails
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO u VALUES (4, 'multi'); INSERT INTO u VALUES (1, 'multi')")
        # a write that succeeds, to show the session still mirrors
        conn.execute("INSERT INTO u VALUES (%s, %s)", (5, "ok"), **kw)
    rows = table_rows(direct_conn, fresh_db, "u")
    assert rows["old"] == [(1, "old only"), (5, "ok")]
    assert rows["new"] == [(5, "ok")], "a write the primary rejected reached the secondary"


def test_primary_rejection_in_pipeline(proxy_factory, fresh_db, direct_conn):
    """Extended protocol, pipelined: the failing statement and whatever the
    server skipped after it up to Sync never run on the secondary."""
    on_both(direct_conn, fresh_db, "CREATE TABLE u (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO u VALUES (1, 'old only')")
    proxy = proxy_factory(migration("dual_write"))
    with proxy.connect(fresh_db, autocommit=False) as conn:
        with pytest.raises(errors.UniqueViolation):
            with conn.pipeline():
                conn.execute("INSERT INTO u VALUES (%s, %s)", (2, "before"))
                conn.execute("INSERT INTO u VALUES (%s, %s)", (1, "dup"))
                conn.execute("INSERT INTO u VALUES (%s, %s)", (3, "after"))
                conn.commit()
        conn.rollback()
        conn.execute("INSERT INTO u VALUES (%s, %s)", (4, "ok"))
        conn.commit()
    rows = table_rows(direct_conn, fresh_db, "u")
    assert rows["old"] == [(1, "old only"), (4, "ok")]
    assert rows["new"] == [(4, "ok")]


@pytest.mark.parametrize("writes", ["at_once", "one_by_one"])
@pytest.mark.parametrize("shape", ["implicit", "begin_in_batch", "begin_before_batch"])
def test_primary_rejection_in_one_pipelined_batch(proxy_factory, fresh_db, direct_conn, shape,
                                                  writes):
    """One extended-protocol batch ending in Sync: INSERT 2, INSERT 1 (fails
    on the primary), INSERT 3, then COMMIT when a BEGIN came first, in the
    same batch or in a batch of its own before. Written at once, or message
    group by message group as psycopg's pipeline mode does (BEGIN answered
    first, then each statement in its own write, Sync last). The primary
    skips everything after the error up to Sync; nothing of the batch may
    take effect on the secondary (invariants 5, 7, 8)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE u (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO u VALUES (1, 'old only')")
    proxy = proxy_factory(migration("dual_write"))
    body = [("INSERT INTO u VALUES ($1, $2)", (2, "before")),
            ("INSERT INTO u VALUES ($1, $2)", (1, "dup")),
            ("INSERT INTO u VALUES ($1, $2)", (3, "after"))]
    batch = {"implicit": body, "begin_in_batch": ["BEGIN"] + body + ["COMMIT"],
             "begin_before_batch": ["BEGIN", SYNC] + body + ["COMMIT"]}[shape]
    one_by_one = writes == "one_by_one"
    results = pipeline_batch(proxy.dsn(fresh_db), batch, wait_each_sync=one_by_one,
                             write_each=0.02 if one_by_one else None)
    statuses = [status for status, _ in results]
    first = 0 if shape == "implicit" else 1
    assert statuses[first] == "COMMAND_OK" and results[first + 1] == ("FATAL_ERROR", "23505"), results
    assert all(s == "PIPELINE_ABORTED" for s in statuses[first + 2:]), results
    with proxy.connect(fresh_db) as conn:  # the session after it: a new one mirrors
        conn.execute("INSERT INTO u VALUES (4, 'ok')")
    rows = table_rows(direct_conn, fresh_db, "u")
    assert rows["old"] == [(1, "old only"), (4, "ok")]
    assert rows["new"] == [(4, "ok")], \
        f"a batch the primary rejected took effect on the secondary\n{proxy.log_tail()}"


@pytest.fixture
def checked_table(direct_conn, fresh_db):
    """Table s(id, v) on both stores, with CHECK (v < 100) on the NEW store
    only: a write of v >= 100 is accepted by old and refused by new."""
    on_both(direct_conn, fresh_db, "CREATE TABLE s (id int PRIMARY KEY, v int NOT NULL)")
    on_store(direct_conn, "new", fresh_db,
             "ALTER TABLE s ADD CONSTRAINT new_only_check CHECK (v < 100)")
    return fresh_db


# Quick retries, so a transaction the secondary keeps refusing reaches the dead letter in
# well under a second (docs/journal.md).
FAST_JOURNAL = {"max_attempts": 2, "retry_base_ms": 10, "retry_max_ms": 50, "poll_interval_ms": 50}
DEAD = ("pgdual_journal_dead_letters_total", None)


@pytest.mark.parametrize("journal", ["journal", "no_journal"])
def test_secondary_only_rejection_continue(proxy_factory, checked_table, direct_conn, journal):
    """With the journal, the refused transactions are retried, then dead-lettered, and the
    writes behind them wait their turn; without it they are only recorded."""
    db = checked_table
    settings = dict(FAST_JOURNAL) if journal == "journal" else {"enabled": False}
    proxy = proxy_factory(migration("dual_write", on_secondary_failure="continue", journal=settings))
    rejected_before = metric(proxy, *REJECTED)
    depth_before = metric(proxy, *RETRY_DEPTH)

    with connect(proxy, db, "simple") as conn:
        assert conn.execute("INSERT INTO s VALUES (%s, %s)", (1, 500)).rowcount == 1
    with proxy.connect(db) as conn:  # extended protocol
        assert conn.execute("INSERT INTO s VALUES (%s, %s)", (2, 600), prepare=True).rowcount == 1
        assert conn.execute("INSERT INTO s VALUES (%s, %s)", (3, 5)).rowcount == 1
        # In a transaction: the secondary's transaction fails, the client's commits.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO s VALUES (%s, %s)", (4, 700))
        conn.execute("INSERT INTO s VALUES (%s, %s)", (5, 6))
        assert conn.execute("COMMIT").statusmessage == "COMMIT"
        assert conn.execute("INSERT INTO s VALUES (%s, %s)", (6, 7)).rowcount == 1

    rows = table_rows(direct_conn, db, "s")
    assert [r[0] for r in rows["old"]] == [1, 2, 3, 4, 5, 6]
    # Without the journal, three refusals: two autocommit writes and one transaction. With
    # it, the sessions see the first; the rest went through the journal (the relay's refusals
    # are counted as dead letters below).
    refusals = 3 if journal == "no_journal" else 1
    wait_for(lambda: metric(proxy, *REJECTED) >= rejected_before + refusals, timeout=5,
             what=f"{REJECTED} to count {refusals} refusals (was {rejected_before}, now "
                  f"{metric(proxy, *REJECTED)})")
    log = proxy.log_text()
    assert "secondary rejected" in log and "23514" in log, proxy.log_tail()
    if journal == "no_journal":
        assert [r[0] for r in table_rows(direct_conn, db, "s")["new"]] == [3, 6]
        depth = metric(proxy, *RETRY_DEPTH)
        assert depth >= depth_before + 3, f"retry queue depth {depth_before} -> {depth}"
        return
    # Everything after the first refusal went through the journal, in order: the refused
    # transactions end in the dead letter (the whole transaction 4+5), the rest applies.
    wait_for(lambda: [r[0] for r in table_rows(direct_conn, db, "s")["new"]] == [3, 6], timeout=20,
             what="rows 3 and 6 on the new store")
    wait_for(lambda: (metric(proxy, *DEAD) or 0) >= 3, timeout=10, what=f"{DEAD} to count 3")
    with direct_conn("old", db) as conn:
        dead = conn.execute("SELECT sqlstate, tables, statements FROM pgdual.dead_letter "
                            "ORDER BY id").fetchall()
    assert [d[0] for d in dead] == ["23514"] * 3, dead
    assert all(d[1] == ["public.s"] for d in dead), dead
    assert "INSERT INTO s" in dead[2][2] and dead[2][2].count("INSERT") == 2, dead[2][2]


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_secondary_only_rejection_fail_autocommit(proxy_factory, checked_table, direct_conn,
                                                  protocol):
    db = checked_table
    proxy = proxy_factory(migration("dual_write", on_secondary_failure="fail", journal=FAST_JOURNAL))
    rejected_before = metric(proxy, *REJECTED)
    with connect(proxy, db, protocol) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute("INSERT INTO s VALUES (%s, %s)", (1, 500), **ext(protocol))
        assert info.value.sqlstate == "23514", repr(info.value)
        # The session goes on, and mirrors again.
        assert conn.execute("SELECT 1").fetchone()[0] == 1
        assert conn.execute("INSERT INTO s VALUES (%s, %s)", (2, 5), **ext(protocol)).rowcount == 1
    rows = table_rows(direct_conn, db, "s")
    # Autocommit: the primary committed before the secondary refused; it
    # cannot be rolled back, only reported (and journaled: retried, then dead-lettered, while
    # the next write waits behind it).
    assert rows["old"] == [(1, 500), (2, 5)]
    wait_for(lambda: table_rows(direct_conn, db, "s")["new"] == [(2, 5)], timeout=20,
             what="(2, 5) on the new store")
    assert metric(proxy, *REJECTED) >= rejected_before + 1


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_secondary_only_rejection_fail_transaction(proxy_factory, checked_table, direct_conn,
                                                   protocol):
    db = checked_table
    proxy = proxy_factory(migration("dual_write", on_secondary_failure="fail"))
    notices = []
    with connect(proxy, db, protocol) as conn:
        conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized, d.message_primary)))
        conn.execute("BEGIN")
        conn.execute("INSERT INTO s VALUES (%s, %s)", (1, 5), **ext(protocol))
        conn.execute("INSERT INTO s VALUES (%s, %s)", (2, 500), **ext(protocol))
        conn.execute("INSERT INTO s VALUES (%s, %s)", (3, 6), **ext(protocol))
        status = conn.execute("COMMIT").statusmessage
        assert status == "ROLLBACK", f"COMMIT answered {status}"
        assert any(sev == "WARNING" for sev, _ in notices), notices
        # The session goes on.
        conn.execute("INSERT INTO s VALUES (%s, %s)", (4, 7), **ext(protocol))
    rows = table_rows(direct_conn, db, "s")
    assert rows["old"] == [(4, 7)]
    assert rows["new"] == [(4, 7)]


def test_row_count_divergence_counted(proxy_factory, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE d (id int PRIMARY KEY, v int NOT NULL)",
            "INSERT INTO d VALUES (1, 0), (2, 0)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO d VALUES (3, 0)")
    proxy = proxy_factory(migration("dual_write"))

    def divergences() -> float:
        return sum(v for labels, v in metric_samples(proxy, "pgdual_write_divergence_total")
                   if labels.get("table") == "public.d")

    before = divergences()
    with proxy.connect(fresh_db) as conn:
        # The client sees the primary's count.
        assert conn.execute("UPDATE d SET v = v + 1").rowcount == 3
        assert conn.execute("UPDATE d SET v = v + 1 WHERE id = %s", (1,)).rowcount == 1
    wait_for(lambda: divergences() >= before + 1, timeout=5,
             what="pgdual_write_divergence_total{table=...d} to count the differing UPDATE")
    assert divergences() == before + 1, "only the UPDATE with differing counts diverged"
    assert "write divergence" in proxy.log_text(), proxy.log_tail()
    rows = table_rows(direct_conn, fresh_db, "d")
    assert rows["old"] == [(1, 2), (2, 1), (3, 1)]
    assert rows["new"] == [(1, 2), (2, 1)]
