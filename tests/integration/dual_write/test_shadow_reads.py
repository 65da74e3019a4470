"""Shadow reads through pgdual against real servers: in the shadow_read phase
every read (or a sampled share) also runs on the secondary and the results are
compared field by field; the client always gets the primary's rows and never
waits for the secondary."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from conftest import free_port, wait_for
from dual_write_helpers import metric, migration, needs_proxy, on_both, on_store, table_rows

pytestmark = needs_proxy

ROWS = 200


def shadow_config(**shadow_read) -> dict:
    config = migration("shadow_read")
    config["migration"]["shadow_read"] = {"log_values": "full", **shadow_read}
    return config


def reads(proxy, table: str = "public.accounts", result: str = "match") -> float:
    return metric(proxy, "pgdual_shadow_reads_total", {"table": table, "result": result})


def discrepancies(proxy) -> list[dict]:
    records = []
    for line in proxy.log_text().splitlines():
        if line.startswith('{"event":"shadow_read_mismatch"'):
            records.append(json.loads(line))
    return records


@pytest.fixture
def accounts(direct_conn, fresh_db):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE accounts (id int PRIMARY KEY, name text, balance numeric NOT NULL)",
            f"INSERT INTO accounts SELECT g, 'name ' || g, g * 10 FROM generate_series(1, {ROWS}) g")
    return fresh_db


def test_identical_data_matches(proxy_factory, accounts):
    proxy = proxy_factory(shadow_config())
    with proxy.connect(accounts) as conn:
        rows = conn.execute("SELECT * FROM accounts").fetchall()
        assert len(rows) == ROWS
        conn.execute("SELECT name FROM accounts WHERE id = %s", (7,), prepare=True)
        conn.execute("SELECT count(*) FROM accounts", binary=True)
    wait_for(lambda: reads(proxy) >= 3, 10, what="three compared shadow reads")
    assert reads(proxy, result="mismatch") == 0
    assert metric(proxy, "pgdual_shadow_match_rate", {"table": "public.accounts"}) == 1.0
    assert discrepancies(proxy) == []


def test_changed_row_is_reported_with_id_field_and_values(proxy_factory, accounts, direct_conn):
    on_store(direct_conn, "new", accounts, "UPDATE accounts SET name = 'drifted' WHERE id = 42",
             "UPDATE accounts SET balance = 0 WHERE id = 43")
    proxy = proxy_factory(shadow_config())
    with proxy.connect(accounts) as conn:
        rows = conn.execute("SELECT id, name, balance FROM accounts").fetchall()
        assert (42, "name 42", 420) in rows  # the client gets the primary's rows
        conn.execute("SELECT id, name FROM accounts WHERE id = %s", (42,), prepare=True).fetchall()
    wait_for(lambda: reads(proxy, result="mismatch") >= 2, 10, what="two mismatches")
    records = discrepancies(proxy)
    by_field = {(r["entity_id"]["id"], r["field"]): r for r in records}
    assert by_field[("42", "name")]["old"] == "name 42", records
    assert by_field[("42", "name")]["new"] == "drifted", records
    assert by_field[("43", "balance")]["old"] == "430", records
    assert by_field[("43", "balance")]["new"] == "0", records
    record = by_field[("42", "name")]
    assert record["table"] == "public.accounts" and record["fingerprint"], record
    assert "$1" in record["query"] or "42" not in record["query"], record
    assert metric(proxy, "pgdual_shadow_field_mismatches_total",
                  {"table": "public.accounts", "column": "name"}) >= 2
    assert metric(proxy, "pgdual_shadow_match_rate", {"table": "public.accounts"}) < 1.0


def test_values_are_redacted_by_default(proxy_factory, accounts, direct_conn):
    on_store(direct_conn, "new", accounts, "UPDATE accounts SET name = 'secret-x' WHERE id = 5")
    config = migration("shadow_read")
    proxy = proxy_factory(config)
    with proxy.connect(accounts) as conn:
        conn.execute("SELECT * FROM accounts WHERE id = 5").fetchall()
    wait_for(lambda: reads(proxy, result="mismatch") >= 1, 10, what="a mismatch")
    log = proxy.log_text()
    assert "secret-x" not in log and "name 5" not in log
    record = discrepancies(proxy)[0]
    assert record["old"].startswith("sha256:") and record["new"].startswith("sha256:"), record


def test_physical_order_does_not_matter_but_order_by_does(proxy_factory, fresh_db, direct_conn):
    # Same rows, inserted in opposite orders: ties of the ORDER BY come out
    # in each store's physical order.
    on_both(direct_conn, fresh_db, "CREATE TABLE tags (id int, grp int)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO tags VALUES (1, 1), (2, 1), (3, 2)")
    on_store(direct_conn, "new", fresh_db, "INSERT INTO tags VALUES (3, 2), (2, 1), (1, 1)")
    proxy = proxy_factory(shadow_config())
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT id, grp FROM tags").fetchall()
    wait_for(lambda: reads(proxy, "public.tags") >= 1, 10, what="the unordered read compared")
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT id, grp FROM tags ORDER BY grp").fetchall()
    wait_for(lambda: reads(proxy, "public.tags", "mismatch") >= 1, 10,
             what="the ordered read reported")
    assert reads(proxy, "public.tags") == 1


def test_sample_rate_is_respected_and_reloadable(proxy_factory, accounts):
    proxy = proxy_factory(shadow_config(sample_rate=0.25))
    total = 400
    with proxy.connect(accounts) as conn:
        for i in range(total):
            conn.execute("SELECT name FROM accounts WHERE id = %s", (i % ROWS + 1,))
    wait_for(lambda: metric(proxy, "pgdual_shadow_reads_in_flight") == 0, 10, what="idle")
    shadowed = reads(proxy) + reads(proxy, result="skipped")
    # Binomial(400, 0.25): mean 100, sd 8.7; the bounds are over 5 sd away.
    assert 50 <= shadowed <= 150, shadowed
    proxy.update_config(**shadow_config(sample_rate=0.0))
    proxy.reload()
    time.sleep(1.0)
    with proxy.connect(accounts) as conn:
        before = reads(proxy)
        for _ in range(50):
            conn.execute("SELECT count(*) FROM accounts")
    assert reads(proxy) == before


def test_ignore_rule_suppresses_what_it_names(proxy_factory, accounts, direct_conn):
    on_store(direct_conn, "new", accounts, "UPDATE accounts SET name = 'drifted' WHERE id = 9")
    proxy = proxy_factory(shadow_config(ignore_columns=["name"]))
    with proxy.connect(accounts) as conn:
        conn.execute("SELECT * FROM accounts").fetchall()
    wait_for(lambda: reads(proxy) >= 1, 10, what="a compared read")
    assert reads(proxy, result="mismatch") == 0
    proxy2 = proxy_factory(shadow_config(ignore_tables=["accounts"]))
    with proxy2.connect(accounts) as conn:
        conn.execute("SELECT * FROM accounts").fetchall()
        conn.execute("SELECT 1").fetchall()  # no table: shadowed
    wait_for(lambda: reads(proxy2, "(none)") >= 1, 10, what="the table-less read compared")
    assert reads(proxy2) == 0 and reads(proxy2, result="mismatch") == 0


def test_slow_secondary_never_delays_the_client_and_is_cancelled(proxy_factory, fresh_db,
                                                                 direct_conn):
    """The secondary's copy of the read sleeps 5 s: the client has its rows at
    once, the shadow statement is cancelled after the timeout, and the write
    that follows reaches the secondary intact (the cancel never hits it)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE w (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db,
             "CREATE FUNCTION answer() RETURNS int LANGUAGE sql STABLE AS 'SELECT 42'")
    on_store(direct_conn, "new", fresh_db,
             "CREATE FUNCTION answer() RETURNS int LANGUAGE sql STABLE AS "
             "'SELECT 42 FROM pg_sleep(5)'")
    proxy = proxy_factory(shadow_config(timeout_ms=300))
    with proxy.connect(fresh_db) as conn:
        started = time.monotonic()
        assert conn.execute("SELECT answer()").fetchone()[0] == 42
        assert time.monotonic() - started < 3.0  # not the secondary's 5 s
        conn.execute("INSERT INTO w VALUES (1)")
        conn.execute("INSERT INTO w VALUES (%s)", (2,))
    wait_for(lambda: reads(proxy, "(none)", "skipped") >= 1, 10, what="the timed-out read skipped")
    rows = table_rows(direct_conn, fresh_db, "w")
    assert rows["old"] == [(1,), (2,)] and rows["new"] == rows["old"], rows
    assert metric(proxy, "pgdual_shadow_reads_in_flight") == 0


def test_secondary_down_reads_still_served(proxy_factory, accounts, env):
    config = shadow_config()
    config["backends"] = {"new": {"port": free_port()}}  # nothing listens there
    proxy = proxy_factory(config)
    with proxy.connect(accounts) as conn:
        assert len(conn.execute("SELECT * FROM accounts").fetchall()) == ROWS
    assert reads(proxy, result="skipped") >= 1
    assert reads(proxy) == 0


def pgdual_rss_kib(proxy) -> int:
    for line in open(f"/proc/{proxy.process.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_million_row_result_compared_in_bounded_memory(proxy_factory, fresh_db):
    proxy = proxy_factory(shadow_config(timeout_ms=120000))
    sql = "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g"
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT 1").fetchall()
        wait_for(lambda: reads(proxy, "(none)") >= 1, 10, what="a first compared read")
        before = pgdual_rss_kib(proxy)
        count = 0
        with conn.cursor(binary=False) as cursor:
            cursor.execute(sql)
            for _ in cursor:
                count += 1
        assert count == 1_000_000
    wait_for(lambda: reads(proxy, "(none)") + reads(proxy, "(none)", "skipped") >= 2, 120,
             what="the large read compared")
    assert reads(proxy, "(none)", "skipped") == 0
    growth_mib = (pgdual_rss_kib(proxy) - before) / 1024
    # The result is ~45 MiB on the wire per store; the comparison keeps 1 MiB
    # of rows per side plus digests.
    assert growth_mib < 40, growth_mib
    assert reads(proxy, "(none)", "mismatch") == 0


def test_aa_mode_compares_the_primary_with_itself(proxy_factory, accounts, direct_conn):
    on_store(direct_conn, "new", accounts, "UPDATE accounts SET name = 'drifted' WHERE id = 1")
    proxy = proxy_factory(shadow_config(mode="aa"))
    with proxy.connect(accounts) as conn:
        for _ in range(5):
            rows = conn.execute("SELECT * FROM accounts WHERE id <= 3 ORDER BY id").fetchall()
            assert [r[1] for r in rows] == ["name 1", "name 2", "name 3"]
        conn.execute("SELECT name FROM accounts WHERE id = %s", (1,)).fetchall()
        # Waited for with the session open: the re-run of the last read follows the client's
        # reply, and a session that ends first leaves it uncompared (counted as skipped).
        wait_for(lambda: reads(proxy) >= 6, 10, what="six A/A comparisons")
    # The secondary's drift is invisible to A/A: it compares the primary with itself.
    assert reads(proxy, result="mismatch") == 0
