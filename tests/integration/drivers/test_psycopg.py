"""psycopg 3 through pgdual: prepared statements, pipelines, transactions
with savepoints and errors inside them, 100 MB of COPY each way, cancel,
LISTEN/NOTIFY, notices, server-side cursors and the binary format."""

import datetime as dt
import hashlib
import select
import threading
import time
import uuid
from decimal import Decimal

import psycopg.errors as errors
import pytest
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb


def prepared_names(conn) -> set[str]:
    rows = conn.execute("SELECT name FROM pg_prepared_statements WHERE NOT from_sql",
                        prepare=False).fetchall()
    return {r[0] for r in rows}


def test_named_and_unnamed_prepared_statements(proxy, fresh_db):
    with proxy.connect(fresh_db) as conn:
        conn.execute("CREATE TABLE p (id int PRIMARY KEY, v text)")
        # Unnamed statements: Parse/Bind/Execute with the unnamed statement.
        for i in range(10):
            conn.execute("INSERT INTO p VALUES (%s, %s)", (i, f"v{i}"), prepare=False)
        assert prepared_names(conn) == set()

        # Named at once.
        for i in range(10, 20):
            conn.execute("INSERT INTO p VALUES (%s, %s)", (i, f"v{i}"), prepare=True)
        named = prepared_names(conn)
        assert len(named) == 1 and next(iter(named)).startswith("_pg3_")

        # Named once the threshold is reached.
        conn.prepare_threshold = 2
        for i in range(6):
            row = conn.execute("SELECT v FROM p WHERE id = %s", (i,)).fetchone()
            assert row == (f"v{i}",)
        assert len(prepared_names(conn)) == 2

        # A bounded cache: psycopg deallocates the oldest statements.
        conn.prepared_max = 3
        for i in range(8):
            got = conn.execute(f"SELECT %s::int + {i}", (i,), prepare=True).fetchone()[0]
            assert got == 2 * i
        assert len(prepared_names(conn)) <= 3

        # SQL-level PREPARE / EXECUTE / DEALLOCATE.
        conn.execute("PREPARE by_id(int) AS SELECT v FROM p WHERE id = $1")
        assert conn.execute("EXECUTE by_id(15)").fetchone() == ("v15",)
        conn.execute("DEALLOCATE by_id")
        with pytest.raises(errors.InvalidSqlStatementName):
            conn.execute("EXECUTE by_id(15)")
        assert conn.execute("SELECT count(*) FROM p").fetchone() == (20,)


def test_pipeline(proxy, fresh_db):
    with proxy.connect(fresh_db) as conn:
        conn.execute("CREATE TABLE pp (id int PRIMARY KEY, v int)")
        with conn.pipeline():
            with conn.cursor() as cur:
                for i in range(1000):
                    cur.execute("INSERT INTO pp VALUES (%s, %s)", (i, i * i))
        assert conn.execute("SELECT count(*), sum(v) FROM pp").fetchone() == (
            1000, sum(i * i for i in range(1000)))

        with conn.pipeline() as pipeline:
            cursors = [conn.execute("SELECT v FROM pp WHERE id = %s", (i,)) for i in range(50)]
            pipeline.sync()
            assert [c.fetchone()[0] for c in cursors] == [i * i for i in range(50)]

        # An error inside a pipeline: the later statements never run, the
        # connection stays usable.
        with pytest.raises(errors.UniqueViolation):
            with conn.pipeline():
                conn.execute("INSERT INTO pp VALUES (2000, 0)")
                conn.execute("INSERT INTO pp VALUES (1, 0)")
                conn.execute("INSERT INTO pp VALUES (2001, 0)")
        assert conn.execute("SELECT count(*) FROM pp WHERE id = 2001").fetchone() == (0,)
        assert conn.info.transaction_status == TransactionStatus.IDLE

        # A pipeline inside an explicit transaction, rolled back.
        with pytest.raises(errors.DivisionByZero):
            with conn.transaction():
                with conn.pipeline():
                    conn.execute("INSERT INTO pp VALUES (3000, 0)")
                    conn.execute("SELECT 1 / 0")
        assert conn.execute("SELECT count(*) FROM pp WHERE id >= 2000").fetchone() == (
            conn.execute("SELECT count(*) FROM pp WHERE id = 2000").fetchone()[0],)
        assert conn.execute("SELECT count(*) FROM pp WHERE id = 3000").fetchone() == (0,)


def test_transactions_and_savepoints(proxy, fresh_db):
    with proxy.connect(fresh_db, autocommit=False) as conn:
        conn.execute("CREATE TABLE tx (id int PRIMARY KEY)")
        conn.commit()

        def ids():
            return [r[0] for r in conn.execute("SELECT id FROM tx ORDER BY id").fetchall()]

        # psycopg's nested transaction blocks are savepoints.
        with conn.transaction():
            conn.execute("INSERT INTO tx VALUES (1)")
            with pytest.raises(errors.UniqueViolation):
                with conn.transaction():
                    conn.execute("INSERT INTO tx VALUES (2)")
                    conn.execute("INSERT INTO tx VALUES (1)")
            conn.execute("INSERT INTO tx VALUES (3)")
        assert ids() == [1, 3]
        conn.commit()

        # Explicit SQL savepoints; the status follows ReadyForQuery.
        conn.execute("INSERT INTO tx VALUES (4)")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        conn.execute("SAVEPOINT a")
        with pytest.raises(errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        assert conn.info.transaction_status == TransactionStatus.INERROR
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK TO SAVEPOINT a")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        conn.execute("INSERT INTO tx VALUES (5)")
        conn.execute("RELEASE SAVEPOINT a")
        conn.commit()
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert ids() == [1, 3, 4, 5]
        conn.rollback()

        # Rolled back explicitly, and by an error without a savepoint.
        conn.execute("INSERT INTO tx VALUES (6)")
        conn.rollback()
        conn.execute("INSERT INTO tx VALUES (7)")
        with pytest.raises(errors.UniqueViolation):
            conn.execute("INSERT INTO tx VALUES (1)")
        conn.rollback()
        # A COMMIT of a failed transaction rolls back.
        conn.execute("INSERT INTO tx VALUES (8)")
        with pytest.raises(errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        conn.commit()  # the server answers a failed transaction's COMMIT with ROLLBACK
        assert ids() == [1, 3, 4, 5]
        conn.rollback()
        assert conn.info.transaction_status == TransactionStatus.IDLE


COPY_ROWS = 1_000_000  # ~104 MB of text


def copy_blocks(rows: int, block_rows: int = 20_000):
    """Yields the COPY text of rows 1..rows in blocks, deterministically."""
    for start in range(1, rows + 1, block_rows):
        end = min(start + block_rows, rows + 1)
        lines = []
        for i in range(start, end):
            lines.append(f"{i}\t{hashlib.md5(str(i).encode()).hexdigest() * 3}\n")
        yield "".join(lines).encode()


def test_copy_100mb_in_and_out(proxy, fresh_db, direct_conn):
    expected = hashlib.sha256()
    expected_bytes = 0
    with proxy.connect(fresh_db) as conn:
        conn.execute("CREATE TABLE big (id int, payload text)")
        with conn.cursor() as cur:
            with cur.copy("COPY big (id, payload) FROM STDIN") as copy:
                for block in copy_blocks(COPY_ROWS):
                    expected.update(block)
                    expected_bytes += len(block)
                    copy.write(block)
            assert cur.rowcount == COPY_ROWS
        assert expected_bytes > 100 * 1000 * 1000

        # Checked on the server the proxy wrote to.
        with direct_conn("old", fresh_db) as direct:
            count, id_sum, length_sum = direct.execute(
                "SELECT count(*), sum(id), sum(length(payload)) FROM big").fetchone()
            assert count == COPY_ROWS
            assert id_sum == COPY_ROWS * (COPY_ROWS + 1) // 2
            assert length_sum == 96 * COPY_ROWS
            # Spot-check content (the full stream is hashed on the way out).
            assert direct.execute(
                "SELECT count(*) FROM big WHERE payload <> repeat(md5(id::text), 3)"
            ).fetchone() == (0,)

        # And all of it back out through the proxy, byte for byte.
        got = hashlib.sha256()
        got_bytes = 0
        with conn.cursor() as cur:
            with cur.copy("COPY (SELECT id, payload FROM big ORDER BY id) TO STDOUT") as copy:
                for data in copy:
                    got.update(data)
                    got_bytes += len(data)
            assert cur.rowcount == COPY_ROWS
        assert got_bytes == expected_bytes
        assert got.hexdigest() == expected.hexdigest()
        conn.execute("DROP TABLE big")


def test_cancel_pg_sleep(proxy, fresh_db):
    with proxy.connect(fresh_db) as conn:
        stop = threading.Event()

        def cancel_until_stopped():
            # Resend in case the first cancel raced the start of the query.
            if stop.wait(0.3):
                return
            while not stop.is_set():
                conn.cancel()
                stop.wait(2)

        canceller = threading.Thread(target=cancel_until_stopped)
        started = time.monotonic()
        canceller.start()
        try:
            with pytest.raises(errors.QueryCanceled) as info:
                conn.execute("SELECT pg_sleep(30)")
        finally:
            stop.set()
            canceller.join(10)
        elapsed = time.monotonic() - started
        assert info.value.sqlstate == "57014"
        assert elapsed < 10, f"cancel took {elapsed:.1f}s"
        assert conn.execute("SELECT 42").fetchone() == (42,)

        # Inside a transaction the cancel aborts it; rollback recovers.
        conn.autocommit = False
        threading.Timer(0.3, conn.cancel).start()
        with pytest.raises(errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")
        assert conn.info.transaction_status == TransactionStatus.INERROR
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def wait_for_notifies(conn, got: list, count: int, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        select.select([conn.fileno()], [], [], 0.2)
        conn.execute("SELECT 1")  # dispatches what arrived to the handlers
    return got


def test_listen_notify(proxy, fresh_db):
    with proxy.connect(fresh_db) as listener, proxy.connect(fresh_db) as sender:
        got = []
        listener.add_notify_handler(got.append)
        listener.execute("LISTEN pgdual_channel")
        sender_pid = sender.execute("SELECT pg_backend_pid()").fetchone()[0]

        sender.execute("NOTIFY pgdual_channel, 'hello'")
        # Delivered while the listener is idle: the proxy forwards it at once.
        readable, _, _ = select.select([listener.fileno()], [], [], 5)
        assert readable, "notification not forwarded to an idle client"
        sender.execute("SELECT pg_notify('pgdual_channel', 'second')")
        wait_for_notifies(listener, got, 2)
        assert [(n.channel, n.payload) for n in got] == [
            ("pgdual_channel", "hello"), ("pgdual_channel", "second")]
        assert all(n.pid == sender_pid for n in got)

        # Only committed notifications are delivered.
        with sender.transaction():
            sender.execute("NOTIFY pgdual_channel, 'committed'")
        with pytest.raises(errors.DivisionByZero):
            with sender.transaction():
                sender.execute("NOTIFY pgdual_channel, 'rolled back'")
                sender.execute("SELECT 1 / 0")
        sender.execute("NOTIFY pgdual_channel, 'last'")
        wait_for_notifies(listener, got, 4)
        assert [n.payload for n in got[2:]] == ["committed", "last"]

        listener.execute("UNLISTEN pgdual_channel")
        sender.execute("NOTIFY pgdual_channel, 'unheard'")
        time.sleep(0.3)
        listener.execute("SELECT 1")
        assert len(got) == 4


def test_notices(proxy, fresh_db):
    with proxy.connect(fresh_db) as conn:
        notices = []
        conn.add_notice_handler(lambda d: notices.append(
            (d.severity_nonlocalized, d.sqlstate, d.message_primary, d.message_detail,
             d.message_hint)))
        conn.execute("""
            DO $$
            BEGIN
              RAISE NOTICE 'notice %', 1;
              RAISE WARNING 'warning %', 2;
              RAISE NOTICE USING MESSAGE = 'with extras', DETAIL = 'the detail',
                                 HINT = 'the hint', ERRCODE = '01000';
            END $$""")
        conn.execute("DROP TABLE IF EXISTS no_such_table")
        assert notices == [
            ("NOTICE", "00000", "notice 1", None, None),
            ("WARNING", "01000", "warning 2", None, None),
            ("NOTICE", "01000", "with extras", "the detail", "the hint"),
            ("NOTICE", "00000", 'table "no_such_table" does not exist, skipping', None, None),
        ]
        # Notices in the extended protocol and in a pipeline.
        notices.clear()
        conn.execute("CREATE FUNCTION shout(t text) RETURNS int LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE NOTICE 'shout %', t; RETURN length(t); END $$")
        with conn.pipeline():
            results = [conn.execute("SELECT shout(%s)", (w,)) for w in ("a", "bb", "ccc")]
        assert [r.fetchone()[0] for r in results] == [1, 2, 3]
        assert [n[2] for n in notices] == ["shout a", "shout bb", "shout ccc"]


def test_server_side_cursors(proxy, fresh_db):
    with proxy.connect(fresh_db, autocommit=False) as conn:
        with conn.cursor(name="forward") as cur:
            cur.itersize = 333
            cur.execute("SELECT g, md5(g::text) FROM generate_series(1, %s) g", (10000,))
            rows = 0
            for g, digest in cur:
                rows += 1
                assert digest == hashlib.md5(str(g).encode()).hexdigest()
            assert rows == 10000

        with conn.cursor(name="scrolling", scrollable=True) as cur:
            cur.execute("SELECT g FROM generate_series(1, 10000) g")
            cur.scroll(5000, mode="absolute")
            assert cur.fetchone() == (5001,)
            cur.scroll(-11)
            assert cur.fetchmany(3) == [(4991,), (4992,), (4993,)]
        conn.commit()

        with conn.cursor(name="held", withhold=True) as cur:
            cur.execute("SELECT g FROM generate_series(1, 100) g")
            conn.commit()  # a WITH HOLD cursor survives the commit
            assert cur.fetchmany(5) == [(1,), (2,), (3,), (4,), (5,)]
            assert len(cur.fetchall()) == 95
        conn.commit()


def test_binary_format(proxy, fresh_db):
    values = (
        True, 2**31 - 1, -(2**63), 3.5, Decimal("12345678901234567890.123456789"),
        "üñïçødé ✓ and 'quotes'", bytes(range(256)), dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc),
        dt.timedelta(days=3, seconds=7, microseconds=5),
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        [1, 2, None, 4], None,
    )
    with proxy.connect(fresh_db) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("""CREATE TABLE bt (b bool, i4 int4, i8 int8, f8 float8, n numeric,
                        t text, ba bytea, d date, ts timestamptz, iv interval, u uuid,
                        arr int4[], nul text, j jsonb)""")
        placeholders = ", ".join(["%b"] * (len(values) + 1))
        for prepare in (False, True):
            conn.execute(f"INSERT INTO bt VALUES ({placeholders})",
                         values + (Jsonb({"k": [1, "two", None]}),), prepare=prepare)
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT * FROM bt")
            rows = cur.fetchall()
            assert cur.pgresult.fformat(0) == 1  # the server sent binary
        assert len(rows) == 2
        for row in rows:
            assert row[:-1] == values
            assert row[-1] == {"k": [1, "two", None]}

        # Binary COPY both ways.
        with conn.cursor() as cur:
            with cur.copy("COPY bt (i4, t, ba) TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "bytea"])
                out = list(copy.rows())
            assert out == [(values[1], values[5], values[6])] * 2
            with cur.copy("COPY bt (i4, t, ba) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "bytea"])
                for i in range(100):
                    copy.write_row((i, f"row {i}", bytes([i])))
        assert conn.execute("SELECT count(*), sum(i4) FROM bt WHERE b IS NULL").fetchone() == (
            100, sum(range(100)))
