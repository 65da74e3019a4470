"""Strategy async and the journal (docs/journal.md): what async can lose and
how that loss is made visible, and the async queue's overflow going to the
journal instead of being dropped.

Under async the client's write is acknowledged before the secondary has
it; a pgdual killed at that moment loses what it had queued in memory. The
tables it wrote under async are recorded on the primary
(pgdual.instances.async_tables) before the first such write is
acknowledged, so the next start of the same instance names them for
reconciliation. A clean stop leaves nothing to report."""

from __future__ import annotations

from conftest import wait_for
from dual_write_helpers import (journal_migration, metric_sum, needs_proxy, on_both, query,
                                table_rows, wait_journal_drained)

pytestmark = needs_proxy

CRASH_LINE = "did not stop cleanly while writing under strategy async"
RECONCILE = "pgdual_reconciliation_needed_total"


def instance_row(direct_conn, dbname: str, instance: str):
    rows = query(direct_conn, "old", dbname,
                 "SELECT stopped_cleanly, async_tables FROM pgdual.instances WHERE instance = %s",
                 (instance,))
    return rows[0] if rows else None


def test_async_crash_names_the_tables_it_may_have_lost(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE a1 (id int PRIMARY KEY)",
            "CREATE TABLE a2 (id int PRIMARY KEY)", "CREATE TABLE untouched (id int PRIMARY KEY)")
    config = journal_migration("dual_write", strategy="async", instance="async-crash",
                               databases=[fresh_db])
    proxy = proxy_factory(config)
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO a1 VALUES (1)")
        with conn.transaction():
            conn.execute("INSERT INTO a2 VALUES (1)")
            conn.execute("INSERT INTO a2 VALUES (2)")
    # Recorded before the writes were acknowledged, so it is there now.
    stopped_cleanly, tables = instance_row(direct_conn, fresh_db, "async-crash")
    assert stopped_cleanly is False
    assert sorted(tables) == ["public.a1", "public.a2"], tables

    proxy.process.kill()  # SIGKILL: whatever was queued in memory is gone
    proxy.process.wait(10)
    proxy.start()
    wait_for(lambda: CRASH_LINE in proxy.log_text(), 15, what="the unclean-stop report")
    line = next(l for l in proxy.log_text().splitlines() if CRASH_LINE in l)
    assert "public.a1" in line and "public.a2" in line and "untouched" not in line, line
    assert metric_sum(proxy, RECONCILE, table="public.a1") == 1
    assert metric_sum(proxy, RECONCILE, table="public.a2") == 1


def test_async_clean_stop_reports_nothing(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE c (id int PRIMARY KEY)")
    proxy = proxy_factory(journal_migration("dual_write", strategy="async",
                                            instance="async-clean", databases=[fresh_db]))
    with proxy.connect(fresh_db) as conn:
        for i in range(20):
            conn.execute("INSERT INTO c VALUES (%s)", (i,))
    assert proxy.stop() == 0
    assert instance_row(direct_conn, fresh_db, "async-clean") == (True, [])
    # Everything queued was applied before the stop.
    rows = table_rows(direct_conn, fresh_db, "c")
    assert rows["old"] == rows["new"] and len(rows["old"]) == 20
    proxy.start()
    wait_for(lambda: instance_row(direct_conn, fresh_db, "async-clean")[0] is False, 15,
             what="the restarted instance to mark itself started")
    assert CRASH_LINE not in proxy.log_text()
    assert metric_sum(proxy, RECONCILE) == 0, proxy.log_text()[-3000:]


def test_async_queue_overflow_goes_to_the_journal(fresh_db, proxy_factory, direct_conn):
    """A queue of one unit overflows at once under a burst of pipelined
    writes: the secondary is detached from the session, and what it missed
    reaches it through the journal, in order: both stores end identical."""
    on_both(direct_conn, fresh_db, "CREATE TABLE burst (id int PRIMARY KEY, v int NOT NULL)")
    config = journal_migration("dual_write", strategy="async")
    config["migration"]["async_queue_capacity"] = 1
    proxy = proxy_factory(config)
    with proxy.connect(fresh_db, autocommit=True) as conn:
        # One Sync per statement: 400 autocommit units in flight at once.
        with conn.pipeline() as pipeline:
            for i in range(200):
                conn.execute("INSERT INTO burst VALUES (%s, %s)", (i, i))
                pipeline.sync()
            for i in range(200):
                conn.execute("UPDATE burst SET v = v + 1 WHERE id = %s", (i,))
                pipeline.sync()
    assert metric_sum(proxy, "pgdual_async_queue_overflow_total") >= 1
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    wait_for(lambda: (lambda r: r["old"] == r["new"])(table_rows(direct_conn, fresh_db, "burst")),
             30, what="identical burst tables")
    rows = table_rows(direct_conn, fresh_db, "burst")
    assert len(rows["new"]) == 200 and all(v == i + 1 for i, v in rows["new"])
