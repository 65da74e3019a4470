"""Strategy sync keeps the order in which sessions see each other's commits (issue 12, class
2). The primary commits a transaction before the secondary does; in between, another session
can already act on its rows on the primary. pgdual holds that session's write back from the
secondary until the earlier commit is there too (routing/commit_horizon.hpp).

The window is made wide on purpose: on the new store only, a deferred constraint trigger sleeps
at COMMIT, so the secondary's COMMIT of the first transaction takes a second after the
primary's. Checks of where data landed query the servers directly."""

from __future__ import annotations

import time

import pytest

from dual_write_helpers import (metric, metric_sum, migration, needs_proxy, on_both, on_store,
                                query, table_rows, wait_sessions_settled)

pytestmark = needs_proxy

SLOW_SECONDARY_COMMIT = (
    "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
    "$$BEGIN PERFORM pg_sleep(1); RETURN NULL; END$$",
    "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON parent "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
)

LATER_WRITES = {
    # Needs the new parent: on the secondary, before its COMMIT, a foreign-key error.
    "child_of_new_row": "INSERT INTO child VALUES (1, 1)",
    # Finds the new row on the primary (UPDATE 1); on the secondary too early, UPDATE 0.
    "update_of_new_row": "UPDATE parent SET v = 'seen by another session' WHERE id = 1",
}


def wait_visible_on_old(direct_conn, dbname: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(direct_conn, "old", dbname, "SELECT count(*) FROM parent") == [(1,)]:
            return
        time.sleep(0.01)
    raise AssertionError("the first transaction never committed on the old store")


@pytest.mark.parametrize("later", sorted(LATER_WRITES))
def test_write_that_saw_a_commit_on_the_primary_reaches_the_secondary_after_it(
        proxy_factory, fresh_db, direct_conn, later):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE parent (id int PRIMARY KEY, v text)",
            "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent)")
    on_store(direct_conn, "new", fresh_db, *SLOW_SECONDARY_COMMIT)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    with proxy.connect(fresh_db) as first, proxy.connect(fresh_db) as second:
        first.execute("BEGIN")
        first.execute("INSERT INTO parent VALUES (1, 'new')")
        first.pgconn.send_query(b"COMMIT")  # answered only after the secondary's slow COMMIT
        wait_visible_on_old(direct_conn, fresh_db)
        assert query(direct_conn, "new", fresh_db, "SELECT count(*) FROM parent") == [(0,)], \
            "the window this test needs did not open"
        second.execute(LATER_WRITES[later])  # autocommit, in another session
        while (result := first.pgconn.get_result()) is not None:
            assert result.status == 1, result.error_message  # COMMAND_OK
    wait_sessions_settled(proxy, timeout=20)
    assert metric(proxy, "pgdual_secondary_failures_total",
                  {"type": "rejected_by_secondary_only"}) == 0, proxy.log_tail()
    assert metric_sum(proxy, "pgdual_write_divergence_total") == 0, proxy.log_tail()
    assert metric(proxy, "pgdual_commit_order_waits_total") >= 1
    for table in ("parent", "child"):
        rows = table_rows(direct_conn, fresh_db, table)
        assert rows["new"] == rows["old"], (table, rows)


@pytest.mark.parametrize("text", [
    "BEGIN; INSERT INTO parent VALUES (1, 'one string'); COMMIT",
    "INSERT INTO parent VALUES (1, 'autocommit')",
])
def test_commits_leave_no_wait_behind(proxy_factory, fresh_db, direct_conn, text):
    """Every ticket a commit takes is returned (a unit that both carries its own COMMIT and
    cannot be wrapped once took two and returned one): the next session's write is on the new
    store when its reply comes, with no wait for a commit that is long done."""
    on_both(direct_conn, fresh_db, "CREATE TABLE parent (id int PRIMARY KEY, v text)")
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    for round_ in range(3):
        with proxy.connect(fresh_db) as first:
            first.execute(text.replace("(1,", f"({10 * round_ + 1},"))
        with proxy.connect(fresh_db) as second:
            second.execute("INSERT INTO parent VALUES (%s, 'next session')", (10 * round_ + 2,))
            assert query(direct_conn, "new", fresh_db,
                         "SELECT count(*) FROM parent WHERE id = %s", (10 * round_ + 2,)) == [(1,)]
    wait_sessions_settled(proxy, timeout=20)
    assert metric_sum(proxy, "pgdual_secondary_failures_total") == 0, proxy.log_tail()
