"""Operating pgdual: check-config, the admin endpoints, hot reload (SIGHUP and
the file watcher), graceful shutdown and drain, cancel, startup parameters
and pgdual's own BackendKeyData."""

from __future__ import annotations

import signal
import socket
import struct
import threading
import time

import psycopg
import psycopg.errors as errors
import pytest

from wire import error_fields, read_message, startup_packet
from conftest import default_config, deep_merge, free_port, metric_value, to_yaml, wait_for

IO_TIMEOUT = 10.0


@pytest.fixture
def proxy_only(env):
    if env.direct:
        pytest.skip("tests pgdual itself")


def metric(proxy, name: str, **labels) -> float:
    return metric_value(proxy.metrics(), name, labels) or 0.0





# --------------------------------------------------------------------------
# Raw protocol, for what libpq hides (the exact FATAL of a shutdown)














def raw_session(proxy, env) -> socket.socket:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    sock.sendall(startup_packet({"user": env.user, "database": "postgres"}))
    while True:
        kind, payload = read_message(sock)
        assert kind != b"E", error_fields(payload)
        if kind == b"Z":
            return sock


def query_message(sql: str) -> bytes:
    payload = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(payload) + 4) + payload


def expect_closed(sock, timeout: float = 5.0) -> None:
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return
    except socket.timeout:
        pytest.fail(f"the connection was still open after {timeout}s")
    assert data == b"", f"more data after the FATAL: {data[:200]!r}"


# --------------------------------------------------------------------------
# check-config


def test_check_config(env, tmp_path, run, proxy_only):
    config = default_config(env, free_port(), free_port())
    valid = tmp_path / "valid.yaml"
    valid.write_text(to_yaml(config))
    result = run([env.pgdual_bin, "check-config", valid], check=False, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(to_yaml(deep_merge(config, {"backends": {"old": {"port": "abc"}},
                                                   "limits": {"max_message_size": "lots"}})))
    result = run([env.pgdual_bin, "check-config", invalid], check=False, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # Every problem, each named by its key path.
    assert "backends.old.port" in output, output
    assert "limits.max_message_size" in output, output

    typo = tmp_path / "typo.yaml"
    bad = deep_merge(config, {})
    bad["backends"]["old"]["pasword"] = bad["backends"]["old"].pop("password")
    typo.write_text(to_yaml(bad))
    result = run([env.pgdual_bin, "check-config", typo], check=False, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "backends.old.pasword" in output, output

    missing = tmp_path / "does-not-exist.yaml"
    result = run([env.pgdual_bin, "check-config", missing], check=False, timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr


# --------------------------------------------------------------------------
# Admin endpoints


def listening_address(port: int) -> str | None:
    """The local address of a LISTEN socket on port (IPv4), dotted."""
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            cols = row.split()
            address, port_hex = cols[1].split(":")
            if int(port_hex, 16) == port and cols[3] == "0A":
                raw = bytes.fromhex(address)[::-1]
                return socket.inet_ntoa(raw)
    return None


def test_admin_endpoints(proxy_factory, proxy_only):
    proxy = proxy_factory()
    status, body = proxy.get("/healthz")
    assert status == 200, body
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(proxy.get("/readyz")),
                            5.0, "/readyz 200")
    assert status == 200, body

    with proxy.connect("postgres") as conn:
        conn.execute("SELECT 1").fetchone()
    text = proxy.metrics()
    assert metric_value(text, "pgdual_client_connections_total") >= 1, text[:2000]
    # Sub-millisecond latency buckets (50 microseconds is the smallest).
    assert metric_value(text, "pgdual_backend_query_duration_seconds_bucket",
                        {"backend": "old", "le": "5e-05"}) is not None, \
        [line for line in text.splitlines() if "duration_seconds_bucket" in line][:5]
    assert metric_value(text, "pgdual_backend_query_duration_seconds_count",
                        {"backend": "old"}) >= 1
    assert metric_value(text, "pgdual_phase_info",
                        {"scope": "default", "phase": "prepare"}) == 1.0, \
        [line for line in text.splitlines() if "phase_info" in line]
    assert "# TYPE pgdual_client_connections_total counter" in text

    # The admin listener is on the loopback interface only.
    assert listening_address(proxy.admin_port) == "127.0.0.1"
    status, _ = proxy.get("/no-such-endpoint")
    assert status == 404


def test_readyz_fails_when_primary_is_down(proxy_factory, proxy_only):
    closed_port = free_port()  # nothing listens there
    proxy = proxy_factory(backends={"old": {"port": closed_port, "connect_timeout_ms": 500}})
    assert proxy.get("/healthz")[0] == 200
    wait_for(lambda: proxy.get("/readyz")[0] == 503, 10.0, "/readyz 503 with the old backend down")
    assert metric(proxy, "pgdual_backend_up", backend="old") == 0.0


# --------------------------------------------------------------------------
# Hot reload


def reloads(proxy, result: str) -> float:
    return metric(proxy, "pgdual_config_reloads_total", result=result)


def oversized_query_refused(proxy, size: int) -> bool:
    """True if a new session's Query of `size` bytes is refused with 54000."""
    with proxy.connect("postgres") as conn:
        try:
            conn.execute("SELECT length(%s)", ("x" * size,), prepare=False).fetchone()
            return False
        except errors.ProgramLimitExceeded:
            return True
        except psycopg.OperationalError as exc:
            if getattr(exc, "sqlstate", None) == "54000" or "54000" in str(exc) or \
                    "exceeds" in str(exc) or "too large" in str(exc).lower():
                return True
            raise


def test_reload_on_sighup(proxy_factory, proxy_only):
    proxy = proxy_factory(limits={"max_message_size": 65536}, log={"level": "info"})
    ok_before = reloads(proxy, "ok")

    proxy.update_config(log={"level": "debug"}, limits={"max_message_size": "1MB"})
    proxy.reload()
    wait_for(lambda: reloads(proxy, "ok") >= ok_before + 1, 5.0, "reloads{result=ok} to move")
    # A live key applied: a 200 kB query now fits.
    assert not oversized_query_refused(proxy, 200_000)


def test_invalid_reload_keeps_old_config(proxy_factory, proxy_only):
    proxy = proxy_factory(limits={"max_message_size": 65536})
    with proxy.connect("postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert oversized_query_refused(proxy, 200_000)

    # 1. Not YAML at all.
    failed_before = reloads(proxy, "failed")
    log_mark = len(proxy.log_text())
    proxy.config_path.write_text("listen: [unclosed\nlimits: {max_message_size: 1MB\n")
    proxy.reload()
    wait_for(lambda: reloads(proxy, "failed") >= failed_before + 1, 5.0,
             "reloads{result=failed} to move (invalid YAML)")
    new_log = proxy.log_text()[log_mark:]
    assert "reload" in new_log.lower() and "reject" in new_log.lower(), new_log

    # 2. Valid YAML, one invalid key: the whole file is refused, including
    # its valid change of max_message_size.
    failed_before = reloads(proxy, "failed")
    log_mark = len(proxy.log_text())
    proxy.update_config(limits={"max_message_size": "1MB", "startup_timeout_ms": -5})
    proxy.reload()
    wait_for(lambda: reloads(proxy, "failed") >= failed_before + 1, 5.0,
             "reloads{result=failed} to move (invalid value)")
    new_log = proxy.log_text()[log_mark:]
    assert "limits.startup_timeout_ms" in new_log, new_log

    # Still serving, with the old limits.
    assert proxy.process.poll() is None
    with proxy.connect("postgres") as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)
    assert oversized_query_refused(proxy, 200_000)


def test_reload_by_file_watcher(proxy_factory, proxy_only):
    proxy = proxy_factory(limits={"max_message_size": 65536})
    ok_before = reloads(proxy, "ok")
    proxy.update_config(log={"level": "debug"}, limits={"max_message_size": "1MB"})  # no signal
    wait_for(lambda: reloads(proxy, "ok") >= ok_before + 1, 3.0,
             "the file watcher to reload the changed file")
    assert not oversized_query_refused(proxy, 200_000)
    failed_before = reloads(proxy, "failed")
    proxy.config_path.write_text("this: is: not: valid\n")
    wait_for(lambda: reloads(proxy, "failed") >= failed_before + 1, 3.0,
             "the file watcher to reject an invalid file")
    with proxy.connect("postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --------------------------------------------------------------------------
# Graceful shutdown


def test_sigterm_closes_idle_sessions(proxy_factory, env, proxy_only):
    proxy = proxy_factory()
    sock = raw_session(proxy, env)
    try:
        started = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        kind, payload = read_message(sock)
        assert kind == b"E", (kind, payload)
        fields = error_fields(payload)
        assert fields["S"] == "FATAL" and fields["C"] == "57P01", fields
        expect_closed(sock)
        assert time.monotonic() - started < 3.0
    finally:
        sock.close()
    code = proxy.process.wait(timeout=5)
    assert code == 0, proxy.log_tail()
    assert time.monotonic() - started < 5.0


def test_sigterm_drains_open_transaction(proxy_factory, env, fresh_db, direct_conn, proxy_only):
    proxy = proxy_factory(limits={"drain_timeout_ms": 8000})
    idle = proxy.connect(fresh_db)
    busy = proxy.connect(fresh_db)
    try:
        busy.execute("CREATE TABLE drained (id int)")
        busy.execute("BEGIN")
        busy.execute("INSERT INTO drained VALUES (1)")

        proxy.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)

        # New connections are refused while draining.
        with pytest.raises(psycopg.OperationalError):
            proxy.connect(fresh_db, connect_timeout=3).close()
        # The idle session was told to go.
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")

        # The transaction can still finish.
        busy.execute("INSERT INTO drained VALUES (2)")
        busy.execute("COMMIT")
        # ...after which its session is closed.
        with pytest.raises(psycopg.OperationalError):
            for _ in range(50):
                busy.execute("SELECT 1")
                time.sleep(0.1)
        code = proxy.process.wait(timeout=5)
        assert code == 0, proxy.log_tail()
    finally:
        idle.close()
        busy.close()
    rows = direct_conn("old", fresh_db).execute("SELECT id FROM drained ORDER BY id").fetchall()
    assert rows == [(1,), (2,)]


def test_drain_timeout_closes_a_lingering_transaction(proxy_factory, env, proxy_only):
    proxy = proxy_factory(limits={"drain_timeout_ms": 1000})
    conn = proxy.connect("postgres")
    try:
        conn.execute("BEGIN")
        started = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        code = proxy.process.wait(timeout=6)
        assert code == 0, proxy.log_tail()
        assert time.monotonic() - started < 4.0
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Cancel


def test_cancel_pg_sleep(proxy_factory):
    proxy = proxy_factory()
    forwarded_before = None if proxy.is_direct else metric(
        proxy, "pgdual_cancel_requests_total", result="forwarded")
    victim = proxy.connect("postgres")
    bystander = proxy.connect("postgres")
    outcome: dict = {}

    def sleep_long():
        started = time.monotonic()
        try:
            victim.execute("SELECT pg_sleep(30)")
            outcome["victim"] = "completed"
        except Exception as exc:  # recorded, asserted below
            outcome["victim"] = exc
        outcome["victim_seconds"] = time.monotonic() - started

    def sleep_short():
        started = time.monotonic()
        try:
            outcome["bystander"] = bystander.execute("SELECT pg_sleep(2), 'done'").fetchone()
        except Exception as exc:
            outcome["bystander"] = exc
        outcome["bystander_seconds"] = time.monotonic() - started

    threads = [threading.Thread(target=sleep_long), threading.Thread(target=sleep_short)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        victim.cancel()
        for thread in threads:
            thread.join(timeout=40)
        assert not any(t.is_alive() for t in threads)
        assert isinstance(outcome["victim"], errors.QueryCanceled), outcome
        assert outcome["victim"].sqlstate == "57014"
        assert outcome["victim_seconds"] < 5.0, outcome
        assert outcome["bystander"] == ("", "done"), outcome
        assert outcome["bystander_seconds"] >= 1.9, outcome
        # Both sessions stay usable.
        assert victim.execute("SELECT 1").fetchone() == (1,)
        assert bystander.execute("SELECT 1").fetchone() == (1,)
    finally:
        victim.close()
        bystander.close()
    if not proxy.is_direct:
        assert metric(proxy, "pgdual_cancel_requests_total",
                      result="forwarded") >= forwarded_before + 1


def test_backend_key_data_belongs_to_pgdual(proxy_factory, proxy_only):
    proxy = proxy_factory()
    with proxy.connect("postgres") as a, proxy.connect("postgres") as b:
        for conn in (a, b):
            server_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            assert conn.info.backend_pid != server_pid
        assert a.info.backend_pid != b.info.backend_pid


# --------------------------------------------------------------------------
# Startup parameters reach the backend (invariant 3)


def test_startup_parameters_reach_backend(proxy_factory, fresh_db, direct_conn, monkeypatch,
                                          run):
    proxy = proxy_factory()
    direct = direct_conn("old", fresh_db)
    direct.execute("CREATE SCHEMA foo")
    options = "-c search_path=foo -c statement_timeout=12345 -c work_mem=5MB"
    with proxy.connect(fresh_db, options=options, application_name="ops-test-app") as conn:
        row = conn.execute("SELECT current_setting('search_path'), "
                           "current_setting('application_name'), "
                           "current_setting('statement_timeout'), "
                           "current_setting('work_mem')").fetchone()
        assert row == ("foo", "ops-test-app", "12345ms", "5MB")
        assert conn.info.parameter_status("application_name") == "ops-test-app"
        conn.execute("CREATE TABLE t_in_foo (id int)")
    assert direct.execute("SELECT to_regclass('foo.t_in_foo') IS NOT NULL").fetchone() == (True,)

    # PGTZ and PGDATESTYLE are sent by libpq in the startup packet.
    monkeypatch.setenv("PGTZ", "Asia/Tokyo")
    monkeypatch.setenv("PGDATESTYLE", "SQL, DMY")
    with proxy.connect(fresh_db) as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == ("Asia/Tokyo",)
        assert conn.execute("SHOW DateStyle").fetchone() == ("SQL, DMY",)
        assert conn.info.parameter_status("TimeZone") == "Asia/Tokyo"
        assert conn.info.parameter_status("DateStyle") == "SQL, DMY"
    monkeypatch.delenv("PGTZ")
    monkeypatch.delenv("PGDATESTYLE")

    # The same through options, and through psql.
    with proxy.connect(fresh_db, options="-c TimeZone=America/Lima -c DateStyle=German") as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == ("America/Lima",)
        assert conn.execute("SHOW DateStyle").fetchone() == ("German, DMY",)
        assert conn.execute("SELECT DATE '2024-03-01'::text").fetchone() == ("01.03.2024",)
    out = run(["psql", "-X", "-At", "-d", proxy.dsn(fresh_db, application_name="psql-app"),
               "-c", "SHOW TimeZone", "-c", "SHOW application_name",
               "-c", "SHOW client_encoding"],
              env={"PGTZ": "Europe/Paris", "PGCLIENTENCODING": "LATIN1"}, timeout=30)
    assert out.stdout.split() == ["Europe/Paris", "psql-app", "LATIN1"], out.stdout
