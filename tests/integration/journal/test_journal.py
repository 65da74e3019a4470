"""The durable replay journal (docs/journal.md), through pgdual, with real
servers that the tests stop and start: in dual_write with strategy sync and
on_secondary_failure: continue, a transaction the secondary did not apply
(down, or rejecting what the primary accepted) is journaled on the primary,
the client succeeds, and the relay applies it to the secondary later, in
order, once (the applied_transactions marker), or dead-letters it.

Every check of where data landed queries the servers directly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dual_write_helpers import (JOURNAL_SCHEMA, applied_marker_columns, applied_marker_insert,
                                finish_process, journal_count, journal_migration, metric_sum,
                                needs_proxy, on_both, on_store, pg_servers, pgbench_cmd,
                                pgbench_summary, query, scalar, start_process, table_digest,
                                table_rows, wait_for, wait_journal_drained,
                                wait_sessions_settled)

pytestmark = needs_proxy
_fixtures = (pg_servers,)  # a fixture imported from the helpers, used by name below

DEPTH = "pgdual_journal_depth_records"
PGBENCH_TABLES = {"pgbench_accounts": "aid", "pgbench_tellers": "tid",
                  "pgbench_branches": "bid"}


class _Direct:
    """A pgbench target: one server directly."""

    def __init__(self, env, which: str):
        self.host = env.host
        self.port = env.port(which)


def pgbench_digests(direct_conn, dbname: str) -> dict:
    out = {}
    for which in ("old", "new"):
        store = {t: table_digest(direct_conn, which, dbname, t, order)
                 for t, order in PGBENCH_TABLES.items()}
        # pgbench_history.mtime is the server's CURRENT_TIMESTAMP: compare
        # what the client chose (count and deltas), not the time.
        store["pgbench_history"] = tuple(query(
            direct_conn, which, dbname,
            "SELECT count(*), coalesce(sum(delta), 0), coalesce(sum(aid::bigint * delta), 0) "
            "FROM pgbench_history")[0])
        out[which] = store
    return out


def test_tpcb_survives_secondary_down_30s(env, fresh_db, proxy_factory, direct_conn, run,
                                          pg_servers):
    """pgbench TPC-B (4 clients, 45 s) through pgdual while the secondary is
    stopped for 30 s: no failed transaction, the journal grows while it is
    down and drains after it is back, and the stores end identical."""
    for which in ("old", "new"):
        run(pgbench_cmd(_Direct(env, which), env, fresh_db, "-i", "-s", "1", "-q"),
            timeout=120, env={"PGPASSWORD": env.password})
    before = pgbench_digests(direct_conn, fresh_db)
    assert before["old"] == before["new"], before

    proxy = proxy_factory(journal_migration("dual_write"))
    appends_before = metric_sum(proxy, "pgdual_journal_appends_total", result="ok")
    # -R bounds the journal to a few thousand entries, so that the drain
    # after the restart fits in the test's time.
    process = start_process(
        pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "4", "-j", "2", "-T", "45", "-R", "150"),
        {"PGPASSWORD": env.password})
    try:
        time.sleep(5)
        assert process.poll() is None, "pgbench ended before the secondary was stopped"
        pg_servers.stop("new")
        down_until = time.monotonic() + 30
        max_depth = 0.0
        while time.monotonic() < down_until:
            max_depth = max(max_depth, metric_sum(proxy, DEPTH))
            time.sleep(0.5)
        pg_servers.start("new")
    finally:
        code, out, err = finish_process(process, timeout=120)
    assert code == 0, f"pgbench failed:\n{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 0 and failed == 0, out
    assert max_depth > 0, f"{DEPTH} stayed 0 while the secondary was down\n{proxy.log_tail()}"
    assert metric_sum(proxy, "pgdual_journal_appends_total", result="ok") > appends_before

    # pgbench's last transactions may still be settling in pgdual when it exits.
    wait_sessions_settled(proxy, timeout=60)
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    after = pgbench_digests(direct_conn, fresh_db)
    mismatched = [t for t in after["old"] if after["old"][t] != after["new"][t]]
    assert not mismatched, (
        f"the stores differ in {mismatched}:\n"
        + "\n".join(f"  {t}: old={after['old'][t]} new={after['new'][t]}" for t in mismatched)
        + "\n" + proxy.log_tail())
    history = after["old"]["pgbench_history"][0] - before["old"]["pgbench_history"][0]
    assert processed <= history <= processed + 4, (history, out)


def _journal_log_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("journal.log") if p.is_file()]


@pytest.mark.parametrize("store", ["table", "file"])
def test_row_updated_1000_times_while_down(fresh_db, proxy_factory, direct_conn, pg_servers,
                                           tmp_path, store):
    """1,000 autocommit UPDATEs of one row while the secondary is down: the
    secondary ends with the primary's final value, and a trigger on the
    secondary alone shows they were applied once each, in order."""
    on_both(direct_conn, fresh_db, "CREATE TABLE k (id int PRIMARY KEY, v int NOT NULL)",
            "INSERT INTO k VALUES (1, -1)")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE k_log (seq bigserial PRIMARY KEY, v int NOT NULL)",
             "CREATE FUNCTION k_logged() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN INSERT INTO k_log (v) VALUES (NEW.v); RETURN NEW; END$$",
             "CREATE TRIGGER k_log AFTER UPDATE ON k FOR EACH ROW EXECUTE FUNCTION k_logged()")
    journal = {}
    directory = tmp_path / "journal"
    if store == "file":
        directory.mkdir()
        journal = {"store": "file", "directory": str(directory)}
    proxy = proxy_factory(journal_migration("dual_write", **journal))

    with proxy.connect(fresh_db) as conn:
        assert conn.execute("UPDATE k SET v = 0 WHERE id = 1").rowcount == 1  # mirrored
        pg_servers.stop("new")
        for i in range(1, 1001):
            assert conn.execute("UPDATE k SET v = %s WHERE id = %s", (i, 1)).rowcount == 1
        assert conn.execute("SELECT v FROM k").fetchone()[0] == 1000

    wait_for(lambda: metric_sum(proxy, DEPTH) >= 1000, 15,
             what=f"{DEPTH} to count the 1,000 journaled updates")
    assert metric_sum(proxy, "pgdual_journal_gate_active") >= 1, \
        "the gate is not active while this instance has pending entries"
    wait_for(lambda: metric_sum(proxy, "pgdual_journal_oldest_age_seconds") > 0, 5,
             what="pgdual_journal_oldest_age_seconds to show the pending entries' age")
    if store == "table":
        assert journal_count(direct_conn, "old", fresh_db) == 1000
    else:
        files = _journal_log_files(directory)
        assert files and any(f.stat().st_size > 0 for f in files), \
            f"no non-empty journal.log under {directory}: {list(directory.rglob('*'))}"
        assert journal_count(direct_conn, "old", fresh_db) == 0, "the file store used a table"

    pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60,
                         table_store=store == "table")
    assert scalar(direct_conn, "old", fresh_db, "SELECT v FROM k WHERE id = 1") == 1000
    assert scalar(direct_conn, "new", fresh_db, "SELECT v FROM k WHERE id = 1") == 1000
    applied = [r[0] for r in query(direct_conn, "new", fresh_db,
                                   "SELECT v FROM k_log ORDER BY seq")]
    expected = [0] + list(range(1, 1001))
    assert applied == expected, (
        f"the secondary applied {len(applied)} updates, first differences: "
        f"{[(n, a, e) for n, (a, e) in enumerate(zip(applied, expected)) if a != e][:5]}")
    wait_for(lambda: metric_sum(proxy, "pgdual_journal_gate_active") == 0, 10,
             what="the gate to close once the journal is empty")


def test_poison_transaction_is_dead_lettered(fresh_db, proxy_factory, direct_conn):
    """A transaction the primary accepts and the secondary refuses for good
    (a unique index on the secondary alone) goes to the dead letter after
    max_attempts, with its tables, SQLSTATE and statements; the transactions
    after it still reach the secondary and the journal drains."""
    on_both(direct_conn, fresh_db, "CREATE TABLE p (id int PRIMARY KEY, code int NOT NULL)")
    on_store(direct_conn, "new", fresh_db, "CREATE UNIQUE INDEX p_code_new_only ON p (code)")
    max_attempts = 3
    proxy = proxy_factory(journal_migration("dual_write", max_attempts=max_attempts,
                                            retry_base_ms=20, retry_max_ms=100))
    dead_before = metric_sum(proxy, "pgdual_journal_dead_letters_total")
    retries_before = metric_sum(proxy, "pgdual_journal_retries_total")

    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO p VALUES (1, 7)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO p VALUES (2, 7)")  # the secondary refuses: 23505
        conn.execute("INSERT INTO p VALUES (3, 8)")
        assert conn.execute("COMMIT").statusmessage == "COMMIT"
        conn.execute("INSERT INTO p VALUES (4, 9)")
        conn.execute("BEGIN")
        conn.execute("UPDATE p SET code = 10 WHERE id = 4")
        conn.execute("INSERT INTO p VALUES (5, 11)")
        assert conn.execute("COMMIT").statusmessage == "COMMIT"

    wait_for(lambda: journal_count(direct_conn, "old", fresh_db, "dead_letter") >= 1, 30,
             what=f"the poison transaction in {JOURNAL_SCHEMA}.dead_letter")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    letters = query(direct_conn, "old", fresh_db,
                    f"SELECT sqlstate, tables, statements, attempts, error, instance "
                    f"FROM {JOURNAL_SCHEMA}.dead_letter")
    assert len(letters) == 1, letters
    sqlstate, tables, statements, attempts, error, instance = letters[0]
    assert sqlstate == "23505", letters
    assert isinstance(tables, list), f"dead_letter.tables is not a text[]: {tables!r}"
    assert any(t in ("p", "public.p") for t in tables), tables
    assert "INSERT INTO p VALUES (2, 7)" in statements, statements
    assert "INSERT INTO p VALUES (3, 8)" in statements, statements
    assert 1 <= attempts <= max_attempts + 1, attempts
    assert error and instance, letters
    assert metric_sum(proxy, "pgdual_journal_dead_letters_total") >= dead_before + 1
    assert metric_sum(proxy, "pgdual_journal_retries_total") >= retries_before + 1

    rows = table_rows(direct_conn, fresh_db, "p")
    assert rows["old"] == [(1, 7), (2, 7), (3, 8), (4, 10), (5, 11)]
    # The dead transaction is all or nothing: neither of its rows is there.
    assert rows["new"] == [(1, 7), (4, 10), (5, 11)], rows["new"]


def test_replay_is_idempotent(fresh_db, proxy_factory, direct_conn, pg_servers):
    """An entry whose marker (and data change) the secondary already has is
    counted already_applied and not applied a second time."""
    instance = "idem-test"
    on_both(direct_conn, fresh_db, "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL)",
            "INSERT INTO c VALUES (1, 0)")
    proxy = proxy_factory(journal_migration("dual_write", instance=instance,
                                            databases=[fresh_db]))

    def pending() -> list[tuple]:
        if not journal_count(direct_conn, "old", fresh_db):
            return []
        return query(direct_conn, "old", fresh_db,
                     f"SELECT id, instance FROM {JOURNAL_SCHEMA}.journal ORDER BY id")

    # 1. One entry journaled and replayed normally: the marker table now
    #    exists on the secondary with the relay's own layout.
    pg_servers.stop("new")
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE c SET n = n + 1 WHERE id = 1")
    first = wait_for(pending, 10, what="the first entry in the journal")
    assert [r[1] for r in first] == [instance], first
    pg_servers.start("new")
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    assert scalar(direct_conn, "new", fresh_db, "SELECT n FROM c") == 1
    columns = applied_marker_columns(direct_conn, "new", fresh_db)
    assert columns, f"no {JOURNAL_SCHEMA}.applied_transactions on the secondary after a replay"

    # 2. A second entry; pgdual stops (nothing can relay it), the secondary
    #    comes back and gets the change and the entry's marker by hand.
    pg_servers.stop("new")
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE c SET n = n + 1 WHERE id = 1")
    second = wait_for(pending, 10, what="the second entry in the journal")
    assert len(second) == 1, second
    journal_id = second[0][0]
    proxy.stop()
    pg_servers.start("new")
    sql, params = applied_marker_insert(columns, instance, journal_id)
    with direct_conn("new", fresh_db) as conn:
        with conn.transaction():
            conn.execute("UPDATE c SET n = n + 1 WHERE id = 1")
            conn.execute(sql, params)

    # 3. pgdual again (same config, same instance): the relay finds the marker.
    proxy.start()  # a new process: its counters start at 0
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    assert scalar(direct_conn, "old", fresh_db, "SELECT n FROM c") == 2
    assert scalar(direct_conn, "new", fresh_db, "SELECT n FROM c") == 2, \
        "the entry was applied although its marker was on the secondary"
    wait_for(lambda: metric_sum(proxy, "pgdual_journal_replays_total",
                                result="already_applied") >= 1, 10,
             what="pgdual_journal_replays_total{result=already_applied} to move")
    assert metric_sum(proxy, "pgdual_journal_replays_total", result="applied") == 0, \
        "the restarted pgdual applied an entry (there was only the already-applied one)"

    # The session path still works after it.
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE c SET n = n + 1 WHERE id = 1")
    wait_for(lambda: scalar(direct_conn, "new", fresh_db, "SELECT n FROM c") == 3, 10,
             what="the next update on the secondary")
