"""The spec's rollback plan (docs/journal.md, "Rollback"), phase changes by
config reload through pgdual, data checked on each server directly:

  dual_write -> prepare     new stops receiving writes; pending journal
                            entries are kept (the relay pauses) until
                            prepare -> dual_write resumes them, or
                            `pgdual journal purge` discards them
  shadow_read -> dual_write reads stop being compared; writes on both
  cutover -> dual_write /   reads from old again, writes on both; refused
  cutover -> shadow_read    while the journal holds pending entries,
                            accepted once it drained
  -> cleanup                refused without migration.confirm_cleanup
"""

from __future__ import annotations

import time

import pytest

from dual_write_helpers import (READ_STORE, STORES, cli_count, journal_count,
                                journal_migration, metric_sum, needs_proxy, on_both, on_store,
                                pg_servers, pgdual_cli, reload_outcome, table_rows, wait_for,
                                wait_journal_drained)

pytestmark = needs_proxy
_fixtures = (pg_servers,)  # a fixture imported from the helpers, used by name below


def prepare_tables(direct_conn, dbname: str) -> None:
    """r(id, src) on both stores, and marker(v) naming the store a read came from."""
    on_both(direct_conn, dbname, "CREATE TABLE r (id int PRIMARY KEY, src text NOT NULL)",
            "CREATE TABLE marker (id int PRIMARY KEY, v text NOT NULL)")
    for which in STORES:
        on_store(direct_conn, which, dbname, f"INSERT INTO marker VALUES (1, '{which}')")


def read_store(conn) -> str:
    return conn.execute("SELECT v FROM marker WHERE id = 1").fetchone()[0]


def ids(rows) -> list[int]:
    return [r[0] for r in rows]


def journal_status(env, proxy, dbname: str) -> tuple[int | None, int | None, str]:
    result = pgdual_cli(env, "journal", "status", "--config", str(proxy.config_path),
                        "--database", dbname)
    out = result.stdout + result.stderr
    return cli_count(out, "pending"), cli_count(out, "dead"), out


def switch_primary(proxy, expect_ok: bool, phase: str, timeout: float = 10.0) -> str:
    """A reload that moves the primary role (to or from cutover). pgdual also
    refuses it while the journal's depth is not known yet (just after the
    start); that refusal is retried, bounded, until pgdual decides on the
    journal's actual state. Returns the log of the deciding attempt."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            log = reload_outcome(proxy, expect_ok, migration={"phase": phase})
        except AssertionError:
            log = proxy.log_text()[-2000:]
            if not expect_ok or "not known yet" not in log or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
            continue
        if expect_ok or "not known yet" not in log:
            return log
        if time.monotonic() > deadline:
            pytest.fail(f"the journal's depth stayed unknown for {timeout}s\n{log}")
        time.sleep(0.3)


def _entry_pending_in_prepare(env, proxy, direct_conn, pg_servers, dbname: str) -> None:
    """Row 1 written in dual_write (both stores); row 2 while new is down
    (journaled); then phase prepare and new up again: the entry must stay."""
    with proxy.connect(dbname) as conn:
        conn.execute("INSERT INTO r VALUES (1, 'both')")
    pg_servers.stop("new")
    with proxy.connect(dbname) as conn:
        conn.execute("INSERT INTO r VALUES (2, 'journaled')")
    wait_for(lambda: journal_count(direct_conn, "old", dbname) == 1, 10,
             what="the write made while new was down in the journal")
    reload_outcome(proxy, True, migration={"phase": "prepare"})
    pg_servers.start("new")
    # The relay pauses in a phase without a secondary: 3 s is 30 poll intervals.
    until = time.monotonic() + 3
    while time.monotonic() < until:
        rows = table_rows(direct_conn, dbname, "r")
        assert ids(rows["new"]) == [1], f"prepare applied a journal entry to new: {rows}"
        assert journal_count(direct_conn, "old", dbname) == 1, "prepare dropped the entry"
        time.sleep(0.3)
    assert metric_sum(proxy, "pgdual_journal_depth_records") >= 1
    pending, dead, out = journal_status(env, proxy, dbname)
    assert (pending, dead) == (1, 0), out


def test_dual_write_to_prepare_keeps_entries_until_resumed(env, fresh_db, proxy_factory,
                                                           direct_conn, pg_servers):
    prepare_tables(direct_conn, fresh_db)
    proxy = proxy_factory(journal_migration("dual_write"))
    _entry_pending_in_prepare(env, proxy, direct_conn, pg_servers, fresh_db)

    with proxy.connect(fresh_db) as conn:  # prepare: old only, not journaled
        assert read_store(conn) == "old"
        conn.execute("INSERT INTO r VALUES (3, 'prepare')")
    assert journal_count(direct_conn, "old", fresh_db) == 1

    reload_outcome(proxy, True, migration={"phase": "dual_write"})
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    with proxy.connect(fresh_db) as conn:
        assert read_store(conn) == "old"
        conn.execute("INSERT INTO r VALUES (4, 'both again')")
    rows = table_rows(direct_conn, fresh_db, "r")
    assert ids(rows["old"]) == [1, 2, 3, 4], rows
    # 2 came from the journal; 3 was written while new received nothing
    # (reconciling it is the backfill's job, not the journal's).
    assert ids(rows["new"]) == [1, 2, 4], rows
    pending, dead, out = journal_status(env, proxy, fresh_db)
    assert (pending, dead) == (0, 0), out


def test_purge_discards_kept_entries(env, fresh_db, proxy_factory, direct_conn, pg_servers):
    prepare_tables(direct_conn, fresh_db)
    proxy = proxy_factory(journal_migration("dual_write"))
    _entry_pending_in_prepare(env, proxy, direct_conn, pg_servers, fresh_db)

    pgdual_cli(env, "journal", "purge", "--config", str(proxy.config_path),
               "--database", fresh_db)
    assert journal_count(direct_conn, "old", fresh_db) == 0
    pending, _, out = journal_status(env, proxy, fresh_db)
    assert pending == 0, out
    wait_for(lambda: metric_sum(proxy, "pgdual_journal_depth_records") == 0, 10,
             what="pgdual_journal_depth_records to show the purge")

    reload_outcome(proxy, True, migration={"phase": "dual_write"})
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO r VALUES (5, 'after purge')")
    time.sleep(1)  # ten poll intervals: a purged entry must not come back
    rows = table_rows(direct_conn, fresh_db, "r")
    assert ids(rows["old"]) == [1, 2, 5], rows
    assert ids(rows["new"]) == [1, 5], f"a purged entry reached new: {rows}"


@pytest.mark.parametrize("start,target", [("shadow_read", "dual_write"),
                                          ("cutover", "dual_write"),
                                          ("cutover", "shadow_read")])
def test_rollback_transition(fresh_db, proxy_factory, direct_conn, start, target):
    prepare_tables(direct_conn, fresh_db)
    proxy = proxy_factory(journal_migration(start))
    with proxy.connect(fresh_db) as held:
        assert read_store(held) == READ_STORE[start]
        held.execute("INSERT INTO r VALUES (1, 'before')")
        # Until its first count of the journal a new pgdual journals its writes
        # (the gate starts open): the switch waits for an empty journal.
        wait_journal_drained(proxy, direct_conn, READ_STORE[start], fresh_db, timeout=10)
        switch_primary(proxy, True, target)
        # A session adopts the phase at its next transaction boundary.
        assert read_store(held) == READ_STORE[target]
        held.execute("INSERT INTO r VALUES (2, 'held session')")
    with proxy.connect(fresh_db) as conn:
        assert read_store(conn) == READ_STORE[target]
        conn.execute("INSERT INTO r VALUES (3, 'new session')")
        with conn.transaction():
            conn.execute("INSERT INTO r VALUES (%s, %s)", (4, "transaction"))
            conn.execute("UPDATE r SET src = 'updated' WHERE id = 1")
    expected = [(1, "updated"), (2, "held session"), (3, "new session"), (4, "transaction")]
    rows = table_rows(direct_conn, fresh_db, "r")
    assert rows["old"] == expected and rows["new"] == expected, rows
    for which in STORES:
        assert journal_count(direct_conn, which, fresh_db) == 0


def test_cutover_reversal_refused_while_journal_pending(fresh_db, proxy_factory, direct_conn,
                                                        pg_servers):
    prepare_tables(direct_conn, fresh_db)
    proxy = proxy_factory(journal_migration("cutover"))
    with proxy.connect(fresh_db) as conn:
        assert read_store(conn) == "new"
        conn.execute("INSERT INTO r VALUES (1, 'both')")
    # In cutover old is the secondary: while it is down, writes are
    # journaled on the primary, new.
    pg_servers.stop("old")
    with proxy.connect(fresh_db) as conn:
        conn.execute("INSERT INTO r VALUES (2, 'journaled')")
    wait_for(lambda: journal_count(direct_conn, "new", fresh_db) >= 1, 10,
             what="the write made while old was down in the journal on new")

    for target in ("dual_write", "shadow_read"):
        log = switch_primary(proxy, False, target)
        assert "journal" in log.lower(), f"the refusal does not say why:\n{log}"
        with proxy.connect(fresh_db) as conn:
            assert read_store(conn) == "new", f"a refused reload to {target} took effect"
    assert journal_count(direct_conn, "new", fresh_db) >= 1

    pg_servers.start("old")
    wait_journal_drained(proxy, direct_conn, "new", fresh_db, timeout=30)
    assert ids(table_rows(direct_conn, fresh_db, "r")["old"]) == [1, 2]

    switch_primary(proxy, True, "dual_write")
    with proxy.connect(fresh_db) as conn:
        assert read_store(conn) == "old"
        conn.execute("INSERT INTO r VALUES (3, 'old primary again')")
    rows = table_rows(direct_conn, fresh_db, "r")
    assert ids(rows["old"]) == [1, 2, 3] and ids(rows["new"]) == [1, 2, 3], rows


def test_cleanup_refused_without_confirmation(fresh_db, proxy_factory, direct_conn):
    prepare_tables(direct_conn, fresh_db)
    proxy = proxy_factory(journal_migration("cutover"))
    log = reload_outcome(proxy, False, migration={"phase": "cleanup", "confirm_cleanup": False})
    assert "confirm_cleanup" in log and "cannot be rolled back" in log, log
    with proxy.connect(fresh_db) as conn:  # still cutover: old follows
        assert read_store(conn) == "new"
        conn.execute("INSERT INTO r VALUES (1, 'cutover')")
    reload_outcome(proxy, True, migration={"phase": "cleanup", "confirm_cleanup": True})
    with proxy.connect(fresh_db) as conn:
        assert read_store(conn) == "new"
        conn.execute("INSERT INTO r VALUES (2, 'cleanup')")
    rows = table_rows(direct_conn, fresh_db, "r")
    assert ids(rows["new"]) == [1, 2] and ids(rows["old"]) == [1], rows
