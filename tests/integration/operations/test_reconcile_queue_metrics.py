"""Every pgdual instance takes the tables it marks for reconciliation to the reconciliation queue,
<migration.journal.schema>.reconcile_queue on the NEW store, and exports the queue
(docs/metrics.md, "Reconciliation queue"): its backfill watch adds this instance's marks and
reads the queue every 5 s in each database it knows, whatever migration.journal.enabled says.

A table is marked here by a non-deterministic write sent to both stores as it is
(migration.nondeterministic: allow); `pgdual reconcile` resolving it is played by hand, with the
statement it runs (journal/reconcile_queue.cpp, reconcile_queue_resolve_sql), directly on the new
store."""

from __future__ import annotations

from dual_write_helpers import (metric_samples, migration, needs_proxy, on_both, query,
                                wait_for)

pytestmark = needs_proxy

# The watch visits every 5 s: a mark or a resolution shows within one period or two, with room
# for a loaded machine.
WATCH_PATIENCE = 20

DEPTH = "pgdual_reconciliation_queue_depth"
UNRESOLVED = "pgdual_reconciliation_unresolved"

RESOLVE = ("INSERT INTO {schema}.reconcile_queue AS q "
           "(table_name, marked, resolved, differences, last_reconciled, note) "
           "VALUES (%s, %s::bigint, %s::bigint, %s::bigint, now(), nullif(%s, '')) "
           "ON CONFLICT (table_name) DO UPDATE SET resolved = greatest(q.resolved, "
           "EXCLUDED.resolved), differences = EXCLUDED.differences, last_reconciled = now(), "
           "note = EXCLUDED.note")


def queue_row(direct_conn, dbname: str, table: str, schema: str = "pgdual"):
    """(marked, resolved, differences) of a table in the queue; None while it is not there (nor
    the queue itself)."""
    exists = query(direct_conn, "new", dbname, "SELECT to_regclass(%s) IS NOT NULL",
                   (f"{schema}.reconcile_queue",))[0][0]
    if not exists:
        return None
    rows = query(direct_conn, "new", dbname,
                 f"SELECT marked, resolved, differences FROM {schema}.reconcile_queue "
                 "WHERE table_name = %s", (table,))
    return rows[0] if rows else None


def resolve(direct_conn, dbname: str, table: str, marked: int, differences: int = 0,
            schema: str = "pgdual") -> None:
    """What `pgdual reconcile` records once it compared the table: resolved = the marked value
    it read before it began, and the differences it left."""
    with direct_conn("new", dbname) as conn:
        # $2 of the statement is both marked and resolved.
        conn.execute(RESOLVE.format(schema=schema), (table, marked, marked, differences, ""))


def unresolved(proxy, table: str) -> float | None:
    found = [value for labels, value in metric_samples(proxy, UNRESOLVED)
             if labels.get("table") == table]
    return found[0] if found else None


def depth(proxy) -> float:
    found = metric_samples(proxy, DEPTH)
    return found[0][1] if found else -1.0


def test_marks_reach_the_queue_and_its_metrics_follow_reconciles(fresh_db, proxy_factory,
                                                                 direct_conn, env):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE stamps (id int PRIMARY KEY, at timestamptz, note text)")
    table = "public.stamps"
    proxy = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="allow"))
    assert depth(proxy) == 0
    assert metric_samples(proxy, UNRESOLVED) == []

    # 'now' is read by each store with its own clock: the table needs reconciliation.
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO stamps VALUES (1, 'now', 'x')")
    wait_for(lambda: queue_row(direct_conn, fresh_db, table), WATCH_PATIENCE,
             f"{table} in the new store's pgdual.reconcile_queue")
    marked, resolved, differences = queue_row(direct_conn, fresh_db, table)
    assert marked >= 1 and resolved == 0 and differences == 0
    wait_for(lambda: (unresolved(proxy, table) or 0) >= 1 and depth(proxy) >= 1, WATCH_PATIENCE,
             f"{UNRESOLVED}{{table={table}}} and {DEPTH} to show the mark")

    # A reconcile covered every mark it read and repaired everything.
    resolve(direct_conn, fresh_db, table, marked)
    wait_for(lambda: not unresolved(proxy, table) and depth(proxy) == 0, WATCH_PATIENCE,
             f"{UNRESOLVED}{{table={table}}} and {DEPTH} back to 0")

    # Marked again after the reconcile: unresolved again, the earlier marks stay covered.
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE stamps SET at = 'today' WHERE id = 1")
    wait_for(lambda: queue_row(direct_conn, fresh_db, table)[0] > marked, WATCH_PATIENCE,
             f"a second mark of {table}")
    wait_for(lambda: unresolved(proxy, table) == queue_row(direct_conn, fresh_db, table)[0] - marked,
             WATCH_PATIENCE, f"{UNRESOLVED}{{table={table}}} to count the marks since")
    assert depth(proxy) == 1

    # A reconcile that left differences keeps the table unresolved by that many.
    now_marked = queue_row(direct_conn, fresh_db, table)[0]
    resolve(direct_conn, fresh_db, table, now_marked, differences=3)
    wait_for(lambda: unresolved(proxy, table) == 3, WATCH_PATIENCE,
             f"{UNRESOLVED}{{table={table}}} to show the differences left")
    assert depth(proxy) == 1
    log = proxy.log_text()
    assert env.password not in log
    assert "reconciliation queue:" not in log  # no failure to write or read it


def test_queue_in_the_journal_schema_with_the_journal_disabled(fresh_db, proxy_factory,
                                                               direct_conn):
    """The queue lives in migration.journal.schema even with the journal disabled; a write
    whose tables pgdual cannot see (a DO block) marks the whole database as "(unknown)"."""
    on_both(direct_conn, fresh_db, "CREATE TABLE log (id int PRIMARY KEY, r float8)")
    proxy = proxy_factory(migration("dual_write", strategy="sync", nondeterministic="allow",
                                    journal={"enabled": False, "schema": "rq"}))
    with proxy.connect(fresh_db) as conn:
        conn.execute("DO $$BEGIN INSERT INTO log VALUES (1, random()); END$$")
    wait_for(lambda: queue_row(direct_conn, fresh_db, "(unknown)", schema="rq"), WATCH_PATIENCE,
             "(unknown) in the new store's rq.reconcile_queue")
    assert query(direct_conn, "new", fresh_db,
                 "SELECT to_regclass('pgdual.reconcile_queue') IS NULL")[0][0]
    wait_for(lambda: unresolved(proxy, "(unknown)") == 1 and depth(proxy) == 1, WATCH_PATIENCE,
             f"{UNRESOLVED}{{table=(unknown)}} to show the mark")
