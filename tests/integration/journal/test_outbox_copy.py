"""COPY FROM STDIN under strategy outbox (docs/journal.md): the data arrives
after the COPY statement, so an autocommit COPY is not wrapped (its record
is appended once the primary committed it), while a COPY inside a
transaction is recorded with its data before the client's COMMIT. Both
reach the secondary whole, through the relay."""

from __future__ import annotations

from dual_write_helpers import (journal_migration, needs_proxy, on_both, table_rows,
                                wait_journal_drained)

pytestmark = needs_proxy


def test_outbox_copy_autocommit_and_in_transaction(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE c (id int PRIMARY KEY, v text NOT NULL)")
    proxy = proxy_factory(journal_migration("dual_write", strategy="outbox"))
    with proxy.connect(fresh_db) as conn:
        with conn.cursor().copy("COPY c (id, v) FROM STDIN") as copy:
            for i in range(500):
                copy.write_row((i, f"autocommit {i}"))
        assert conn.execute("SELECT count(*) FROM c").fetchone()[0] == 500
        with conn.transaction():
            with conn.cursor().copy("COPY c (id, v) FROM STDIN") as copy:
                for i in range(500, 800):
                    copy.write_row((i, f"in a transaction {i}"))
            conn.execute("UPDATE c SET v = v || ' (updated)' WHERE id % 100 = 0")
        # The session is usable and idle after both.
        assert conn.execute("SELECT count(*) FROM c").fetchone()[0] == 800
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    rows = table_rows(direct_conn, fresh_db, "c")
    assert len(rows["old"]) == 800
    assert rows["new"] == rows["old"]
