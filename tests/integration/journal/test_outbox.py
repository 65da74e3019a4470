"""Strategy outbox (docs/journal.md), through pgdual: every write
transaction's record is inserted into pgdual.journal on the primary inside
the client's own transaction, the relay applies it to the secondary, and the
client sees exactly what PostgreSQL would answer. A pgdual killed with
SIGKILL loses nothing committed; of two instances exactly one relays, and
the other takes over when it dies.

Where data landed is checked on each server directly."""

from __future__ import annotations

import threading
import time

import psycopg
import psycopg.errors as errors
import pytest
from psycopg import pq

from dual_write_helpers import (journal_count, journal_migration, metric_samples, metric_sum,
                                needs_proxy, on_both, query, table_rows, wait_for,
                                wait_journal_drained)

pytestmark = needs_proxy

IDLE = pq.TransactionStatus.IDLE
INTRANS = pq.TransactionStatus.INTRANS
APPLIED = ("pgdual_journal_replays_total", {"result": "applied"})


def outbox(**journal) -> dict:
    return journal_migration("dual_write", strategy="outbox", **journal)


def test_outbox_writes_reach_secondary_through_relay(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE o (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL DEFAULT 0)")
    proxy = proxy_factory(outbox())
    applied_before = metric_sum(proxy, APPLIED[0], **APPLIED[1])
    write_transactions = 0

    # Simple protocol.
    with psycopg.connect(proxy.dsn(fresh_db), autocommit=True,
                         cursor_factory=psycopg.ClientCursor) as conn:
        cur = conn.execute("INSERT INTO o (id, v) VALUES (1, 'simple') RETURNING id, v")
        assert cur.fetchone() == (1, "simple")
        assert cur.statusmessage == "INSERT 0 1"
        assert conn.info.transaction_status == IDLE, "autocommit write left a transaction open"
        cur = conn.execute("UPDATE o SET n = n + 1 WHERE id = 1")
        assert (cur.statusmessage, cur.rowcount) == ("UPDATE 1", 1)
        assert conn.info.transaction_status == IDLE
        conn.execute("INSERT INTO o (id, v) VALUES (2, 'multi a'); "
                     "INSERT INTO o (id, v) VALUES (3, 'multi b')")
        assert conn.info.transaction_status == IDLE
        write_transactions += 3

        conn.execute("BEGIN")
        assert conn.info.transaction_status == INTRANS
        conn.execute("INSERT INTO o (id, v) VALUES (4, 'tx')")
        conn.execute("UPDATE o SET n = n + 10 WHERE id IN (1, 4)")
        assert conn.execute("COMMIT").statusmessage == "COMMIT"
        assert conn.info.transaction_status == IDLE
        write_transactions += 1

        conn.execute("BEGIN")
        conn.execute("INSERT INTO o (id, v) VALUES (5, 'rolled back')")
        assert conn.execute("ROLLBACK").statusmessage == "ROLLBACK"

        with pytest.raises(errors.UniqueViolation):  # the primary refuses it
            conn.execute("INSERT INTO o (id, v) VALUES (1, 'duplicate')")
        assert conn.info.transaction_status == IDLE, \
            "a refused autocommit write left the session in a (failed) transaction"
        assert conn.execute("SELECT count(*) FROM o").fetchone()[0] == 4

    # Extended protocol (named prepared statements, parameters).
    with proxy.connect(fresh_db) as conn:
        cur = conn.execute("INSERT INTO o (id, v) VALUES (%s, %s) RETURNING id, n",
                           (6, "extended"), prepare=True)
        assert cur.fetchone() == (6, 0) and cur.statusmessage == "INSERT 0 1"
        assert conn.info.transaction_status == IDLE
        with conn.transaction():
            conn.execute("INSERT INTO o (id, v) VALUES (%s, %s)", (7, "extended tx"), prepare=True)
            assert conn.execute("UPDATE o SET n = n + %s WHERE id = %s", (5, 6)).rowcount == 1
        write_transactions += 2
        with pytest.raises(errors.UniqueViolation):
            with conn.transaction():
                conn.execute("INSERT INTO o (id, v) VALUES (%s, %s)", (8, "lost"))
                conn.execute("INSERT INTO o (id, v) VALUES (%s, %s)", (6, "duplicate"))
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO o (id, v) VALUES (%s, %s)", (6, "duplicate"), prepare=True)
        assert conn.info.transaction_status == IDLE

    # Not autocommit: psycopg's own BEGIN, then commit().
    with proxy.connect(fresh_db, autocommit=False) as conn:
        conn.execute("INSERT INTO o (id, v) VALUES (%s, %s)", (9, "implicit begin"))
        conn.commit()
        write_transactions += 1

    expected = [(1, "simple", 11), (2, "multi a", 0), (3, "multi b", 0), (4, "tx", 10),
                (6, "extended", 5), (7, "extended tx", 0), (9, "implicit begin", 0)]
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=30)
    rows = table_rows(direct_conn, fresh_db, "o")
    assert rows["old"] == expected, rows["old"]
    assert rows["new"] == expected, rows["new"]
    applied = metric_sum(proxy, APPLIED[0], **APPLIED[1]) - applied_before
    assert applied >= write_transactions, (
        f"the relay applied {applied} entries for {write_transactions} write transactions: "
        "outbox writes must reach the secondary through the journal")
    wait_for(lambda: metric_sum(proxy, "pgdual_outbox_lag_transactions") == 0, 10,
             what="pgdual_outbox_lag_transactions to return to 0")


def _writer(dsn: str, t: int, simple: bool, stop: threading.Event, acked: list,
            failures: list, deadline: float) -> None:
    """Inserts (t, i, part): odd i in autocommit (part 0), even i as an
    explicit transaction of parts 1 and 2; appends (t, i) once acknowledged."""
    kw = {"cursor_factory": psycopg.ClientCursor} if simple else {}
    try:
        with psycopg.connect(dsn, autocommit=True, **kw) as conn:
            for i in range(1, 100_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                if i % 2:
                    conn.execute("INSERT INTO w VALUES (%s, %s, 0)", (t, i))
                else:
                    conn.execute("BEGIN")
                    conn.execute("INSERT INTO w VALUES (%s, %s, 1)", (t, i))
                    conn.execute("INSERT INTO w VALUES (%s, %s, 2)", (t, i))
                    if conn.execute("COMMIT").statusmessage != "COMMIT":
                        failures.append(f"writer {t}: COMMIT of {i} did not commit")
                        return
                acked.append((t, i))
    except psycopg.Error as exc:
        failures.append(f"writer {t}: {type(exc).__name__}: {exc}")


def test_sigkill_loses_nothing_committed(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE w (t int, i int, part int, PRIMARY KEY (t, i, part))")
    # databases: the restarted relay serves it before any client reconnects.
    proxy = proxy_factory(outbox(instance="outbox-kill", databases=[fresh_db]))
    stop = threading.Event()
    acked: list[tuple[int, int]] = []
    failures: list[str] = []
    deadline = time.monotonic() + 30
    threads = [threading.Thread(target=_writer, daemon=True,
                                args=(proxy.dsn(fresh_db), t, t < 2, stop, acked, failures,
                                      deadline))
               for t in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(acked) >= 400 or failures, 20,
                 what="400 acknowledged writes before the kill")
        assert not failures, failures
        proxy.process.kill()  # SIGKILL in the middle of the load
        proxy.process.wait(10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
    assert not any(thread.is_alive() for thread in threads), "a writer did not stop"
    acked_at_kill = set(acked)

    old_rows = set(query(direct_conn, "old", fresh_db, "SELECT t, i, part FROM w"))
    missing = [(t, i) for t, i in acked_at_kill
               if not ({(t, i, 0)} if i % 2 else {(t, i, 1), (t, i, 2)}) <= old_rows]
    assert not missing, f"acknowledged commits missing on the primary: {missing[:10]}"
    halves = [(t, i) for t, i, part in old_rows if part == 1 and (t, i, 2) not in old_rows]
    assert not halves, f"transactions half committed on the primary: {halves[:10]}"

    # The same pgdual (same config file, same instance) again: its relay
    # finds what the killed process had committed to the journal.
    proxy.start()
    wait_journal_drained(proxy, direct_conn, "old", fresh_db, timeout=60)
    rows = table_rows(direct_conn, fresh_db, "w", order="1, 2, 3")
    assert len(rows["old"]) >= len(acked_at_kill), (len(rows["old"]), len(acked_at_kill))
    if rows["old"] != rows["new"]:
        only_old = sorted(set(rows["old"]) - set(rows["new"]))
        only_new = sorted(set(rows["new"]) - set(rows["old"]))
        pytest.fail(f"after the restart the stores differ: {len(only_old)} rows only on the "
                    f"primary {only_old[:10]}, {len(only_new)} only on the secondary "
                    f"{only_new[:10]}\n" + proxy.log_tail())


def _relay_active(proxy) -> float:
    return metric_sum(proxy, "pgdual_journal_relay_active")


def test_two_instances_one_relay_and_takeover(fresh_db, proxy_factory, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE q (id int PRIMARY KEY, via text NOT NULL)")
    proxies = {name: proxy_factory(outbox(instance=name, databases=[fresh_db]))
               for name in ("relay-a", "relay-b")}
    next_id = iter(range(1, 1_000_000))

    def write_through(name: str, count: int) -> None:
        with proxies[name].connect(fresh_db) as conn:
            for n in range(count):
                if n % 2:
                    with conn.transaction():
                        conn.execute("INSERT INTO q VALUES (%s, %s)", (next(next_id), name))
                else:
                    conn.execute("INSERT INTO q VALUES (%s, %s)", (next(next_id), name))

    for name in proxies:
        write_through(name, 10)

    def exactly_one() -> str | None:
        active = {name: _relay_active(p) for name, p in proxies.items()}
        holders = [name for name, value in active.items() if value > 0]
        return holders[0] if len(holders) == 1 and active[holders[0]] == 1 else None

    active = wait_for(exactly_one, 15, what="exactly one instance with relay_active 1")
    for _ in range(10):  # and it stays so
        time.sleep(0.2)
        assert exactly_one() == active, {n: _relay_active(p) for n, p in proxies.items()}
    for name, proxy in proxies.items():
        instances = {labels.get("instance")
                     for labels, _ in metric_samples(proxy, "pgdual_journal_relay_info")}
        assert name in instances, f"{name}: pgdual_journal_relay_info has {instances}"
    wait_journal_drained(proxies[active], direct_conn, "old", fresh_db, timeout=30)
    rows = table_rows(direct_conn, fresh_db, "q")
    assert rows["old"] == rows["new"] and len(rows["old"]) == 20, rows

    survivor = next(name for name in proxies if name != active)
    killed_at = time.monotonic()
    proxies[active].process.kill()
    proxies[active].process.wait(10)
    write_through(survivor, 20)
    wait_for(lambda: _relay_active(proxies[survivor]) == 1, 10,
             what=f"{survivor} to take the relay over after {active} was killed")
    takeover = time.monotonic() - killed_at
    wait_journal_drained(proxies[survivor], direct_conn, "old", fresh_db, timeout=30)
    rows = table_rows(direct_conn, fresh_db, "q")
    assert len(rows["old"]) == 40, rows["old"]
    assert rows["new"] == rows["old"], (
        f"after the takeover ({takeover:.1f}s) the stores differ\n"
        + proxies[survivor].log_tail())
    assert journal_count(direct_conn, "old", fresh_db) == 0
