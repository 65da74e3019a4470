"""Every pgdual instance exports the backfill job's progress (docs/metrics.md, "Backfill"): its
backfill watch reads <migration.journal.schema>.backfill_progress on the NEW store, every 5 s, in
each database it knows (those its sessions use and migration.journal.databases), whatever the
phase and migration.journal.enabled say.

The progress rows are written here by hand, directly on the new store, as `pgdual backfill`
writes them; nothing runs the job."""

from __future__ import annotations

from dual_write_helpers import metric, metric_samples, migration, needs_proxy, on_store, wait_for

pytestmark = needs_proxy

# The watch reads every 5 s: a change shows within one period, with room for a loaded machine.
WATCH_PATIENCE = 20

PROGRESS_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.backfill_progress (
  source_table text PRIMARY KEY, target_table text NOT NULL, state text NOT NULL,
  key_columns text[] NOT NULL, last_key text[],
  rows_copied bigint NOT NULL DEFAULT 0, rows_skipped bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0, chunks bigint NOT NULL DEFAULT 0,
  estimated_rows bigint, rows_per_second double precision,
  last_chunk_rows integer, last_chunk_ms integer,
  started_at timestamptz, updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz, error text, job text)"""

STATES = ("pending", "copying", "paused", "done", "failed")


def create_progress(direct_conn, dbname: str, schema: str = "pgdual") -> None:
    on_store(direct_conn, "new", dbname, f"CREATE SCHEMA IF NOT EXISTS {schema}",
             PROGRESS_DDL.format(schema=schema))


def add_progress(direct_conn, dbname: str, table: str, state: str, copied: int, skipped: int,
                 estimated: int | None, rate: float | None = None,
                 schema: str = "pgdual") -> None:
    with direct_conn("new", dbname) as conn:
        conn.execute(f"INSERT INTO {schema}.backfill_progress (source_table, target_table, state, "
                     "key_columns, rows_copied, rows_skipped, estimated_rows, rows_per_second) "
                     "VALUES (%s, %s, %s, ARRAY['id'], %s, %s, %s, %s)",
                     (table, table, state, copied, skipped, estimated, rate))


def ratio(proxy, table: str) -> float | None:
    found = [value for labels, value in metric_samples(proxy, "pgdual_backfill_progress_ratio")
             if labels.get("table") == table]
    return found[0] if found else None


def rows(proxy, table: str, result: str) -> float:
    return metric(proxy, "pgdual_backfill_rows_total", {"table": table, "result": result})


def states(proxy, table: str) -> dict[str, float]:
    return {labels["state"]: value
            for labels, value in metric_samples(proxy, "pgdual_backfill_state")
            if labels.get("table") == table}


def one_hot(state: str) -> dict[str, float]:
    return {each: (1.0 if each == state else 0.0) for each in STATES}


def test_progress_on_the_new_store_is_exported(fresh_db, proxy_factory, direct_conn, env):
    create_progress(direct_conn, fresh_db)
    add_progress(direct_conn, fresh_db, "public.orders", "copying", 250, 50, 1000, 125.5)
    add_progress(direct_conn, fresh_db, "public.users", "done", 80, 0, 75)
    proxy = proxy_factory(migration("dual_write"))
    assert metric_samples(proxy, "pgdual_backfill_progress_ratio") == []

    # A session makes the database known to this instance.
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT 1")
    wait_for(lambda: ratio(proxy, "public.orders") is not None, WATCH_PATIENCE,
             "pgdual_backfill_progress_ratio of public.orders")
    assert ratio(proxy, "public.orders") == 0.3
    assert ratio(proxy, "public.users") == 1
    assert states(proxy, "public.orders") == one_hot("copying")
    assert states(proxy, "public.users") == one_hot("done")
    assert rows(proxy, "public.orders", "copied") == 250
    assert rows(proxy, "public.orders", "skipped") == 50
    assert rows(proxy, "public.users", "copied") == 80
    assert metric(proxy, "pgdual_backfill_rows_per_second", {"table": "public.orders"}) == 125.5

    # The job moves on: the counter moves by the delta, the state gauges switch.
    on_store(direct_conn, "new", fresh_db,
             "UPDATE pgdual.backfill_progress SET rows_copied = 400, state = 'paused' "
             "WHERE source_table = 'public.orders'")
    wait_for(lambda: rows(proxy, "public.orders", "copied") == 400, WATCH_PATIENCE,
             "pgdual_backfill_rows_total{result=copied} to move by 150")
    assert ratio(proxy, "public.orders") == 0.45
    assert states(proxy, "public.orders") == one_hot("paused")
    assert rows(proxy, "public.orders", "skipped") == 50

    # A restarted backfill: its count went down, the counter does not.
    on_store(direct_conn, "new", fresh_db,
             "UPDATE pgdual.backfill_progress SET rows_copied = 10, rows_skipped = 0, "
             "state = 'copying' WHERE source_table = 'public.orders'")
    wait_for(lambda: states(proxy, "public.orders") == one_hot("copying"), WATCH_PATIENCE,
             "the state of public.orders back to copying")
    assert rows(proxy, "public.orders", "copied") == 400
    assert rows(proxy, "public.orders", "skipped") == 50
    assert ratio(proxy, "public.orders") == 0.01

    # A row deleted: its gauges go, its counters stay.
    on_store(direct_conn, "new", fresh_db,
             "DELETE FROM pgdual.backfill_progress WHERE source_table = 'public.users'")
    wait_for(lambda: ratio(proxy, "public.users") is None, WATCH_PATIENCE,
             "the gauges of public.users to go")
    assert states(proxy, "public.users") == {}
    assert rows(proxy, "public.users", "copied") == 80
    assert env.password not in proxy.log_text()


def test_configured_database_is_read_with_the_journal_disabled(make_db, proxy_factory,
                                                               direct_conn):
    """No session needed for a database in migration.journal.databases; the table is read in
    migration.journal.schema; a database without the table exports nothing and logs no
    warning."""
    with_progress, without = make_db(), make_db()
    create_progress(direct_conn, with_progress, schema="bf")
    add_progress(direct_conn, with_progress, "app.events", "pending", 0, 0, None, schema="bf")
    add_progress(direct_conn, with_progress, "app.items", "failed", 10, 5, 100, schema="bf")
    proxy = proxy_factory(migration("backfill", journal={
        "enabled": False, "schema": "bf", "databases": [with_progress, without]}))
    wait_for(lambda: ratio(proxy, "app.items") is not None, WATCH_PATIENCE,
             "pgdual_backfill_progress_ratio of app.items")
    assert ratio(proxy, "app.events") == 0  # no estimate yet
    assert ratio(proxy, "app.items") == 0.15
    assert states(proxy, "app.events") == one_hot("pending")
    assert states(proxy, "app.items") == one_hot("failed")
    assert rows(proxy, "app.items", "skipped") == 5
    tables = {labels["table"] for labels, _ in metric_samples(proxy, "pgdual_backfill_state")}
    assert tables == {"app.events", "app.items"}
    assert "backfill watch" not in proxy.log_text()
