"""Bad input from clients, sent over raw sockets: malformed startup packets,
wrong lengths, unknown message types, an oversized message, garbage in place
of a TLS handshake, a client that stalls during startup, stray
CancelRequests, GSSENCRequest/SSLRequest negotiation, and 2,000 connections
at once.

Each must end (only) the offending connection with a clear error or refusal;
a session opened before keeps working, a new one can be opened, and the
proxy process stays alive (invariant 13)."""

from __future__ import annotations

import resource
import selectors
import socket
import struct
import time

import pytest

from wire import PROTOCOL_V3, error_fields, read_message, recv_exact, startup_packet
from conftest import metric_value

# Protocol codes (PostgreSQL protocol documentation, "Message Formats").
PROTOCOL_V2 = 131072  # 2.0
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102

IO_TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def _proxy_only(env):
    # PostgreSQL itself is laxer (it closes silently on a bad length, answers
    # 'S'/'G' to SSL/GSSENC requests, waits 60 s for a stalled startup):
    # these expectations are pgdual's.
    if env.direct:
        pytest.skip("pgdual's own handling of bad input")


# --------------------------------------------------------------------------
# Raw protocol helpers





def message(type_byte: bytes, payload: bytes = b"") -> bytes:
    return type_byte + struct.pack("!I", len(payload) + 4) + payload


def open_socket(target, timeout: float = IO_TIMEOUT) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock











def read_until_ready(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    """Messages up to and including ReadyForQuery; fails on an ErrorResponse."""
    seen = []
    while True:
        kind, payload = read_message(sock)
        seen.append((kind, payload))
        if kind == b"E":
            pytest.fail(f"unexpected error: {error_fields(payload)}")
        if kind == b"Z":
            return seen


def expect_fatal(sock: socket.socket, sqlstate: str, text: str | None = None,
                 within: float | None = None) -> dict[str, str]:
    """Reads until an ErrorResponse (skipping nothing else: any other message
    fails), checks it, then checks that the connection is closed."""
    started = time.monotonic()
    try:
        kind, payload = read_message(sock)
    except (EOFError, ConnectionResetError) as exc:
        pytest.fail(f"expected FATAL {sqlstate}, the connection closed instead ({exc})")
    except socket.timeout:
        pytest.fail(f"expected FATAL {sqlstate}, nothing came within {sock.gettimeout()}s")
    elapsed = time.monotonic() - started
    assert kind == b"E", f"expected ErrorResponse, got {kind!r} {payload[:200]!r}"
    fields = error_fields(payload)
    assert fields.get("S") == "FATAL", fields
    assert fields.get("V") in (None, "FATAL"), fields
    assert fields.get("C") == sqlstate, fields
    if text is not None:
        assert text in fields.get("M", ""), fields
    if within is not None:
        assert elapsed < within, f"the error took {elapsed:.2f}s (limit {within}s)"
    expect_closed(sock)
    return fields


def expect_silent_close(sock: socket.socket, timeout: float = 2.0) -> None:
    """The server closes the connection without sending a byte, as PostgreSQL does for a
    startup packet of invalid length (it reports that only to its log, COMMERROR)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return
    except socket.timeout:
        pytest.fail(f"the connection was still open after {timeout}s")
    assert data == b"", f"expected a close without a message, got {data[:200]!r}"


def expect_closed(sock: socket.socket, timeout: float = 5.0) -> None:
    """The server closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            pytest.fail(f"the connection was still open after {timeout}s")
        if not data:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the server kept sending after the error: {data[:200]!r}")


def normal_startup(sock: socket.socket, env, dbname: str = "postgres") -> list:
    sock.sendall(startup_packet({"user": env.user, "database": dbname}))
    return read_until_ready(sock)


def simple_query(sock: socket.socket, sql: str) -> list[tuple[bytes, bytes]]:
    sock.sendall(message(b"Q", sql.encode() + b"\0"))
    return read_until_ready(sock)


def data_rows(messages) -> list[list[str | None]]:
    rows = []
    for kind, payload in messages:
        if kind != b"D":
            continue
        count = struct.unpack("!H", payload[:2])[0]
        at, row = 2, []
        for _ in range(count):
            size = struct.unpack("!i", payload[at:at + 4])[0]
            at += 4
            if size < 0:
                row.append(None)
            else:
                row.append(payload[at:at + size].decode())
                at += size
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# "Others unharmed"


class Bystander:
    """A psycopg session opened before the bad input; after it, that session
    and a brand-new one must both still work and the proxy must be alive."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.conn = proxy.connect("postgres")
        assert self.conn.execute("SELECT 1").fetchone() == (1,)

    def check(self) -> None:
        assert self.proxy.process is None or self.proxy.process.poll() is None, \
            "pgdual exited\n" + self.proxy.log_tail()
        assert self.conn.execute("SELECT 2").fetchone() == (2,)
        with self.proxy.connect("postgres") as fresh:
            assert fresh.execute("SELECT 3").fetchone() == (3,)
        self.conn.close()


@pytest.fixture
def bad_proxy(proxy_factory):
    """pgdual with small limits so that the bad-input tests run fast."""
    return proxy_factory(limits={"max_message_size": 65536, "startup_timeout_ms": 1000})


# --------------------------------------------------------------------------
# Malformed startup packets


def test_startup_length_below_minimum(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        # A startup packet is at least 8 bytes (length + version); 4 is invalid.
        sock.sendall(struct.pack("!I", 4))
        expect_silent_close(sock)
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!II", 7, PROTOCOL_V3))
        expect_silent_close(sock)
    bystander.check()


def test_startup_length_above_maximum(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        # PostgreSQL's limit for startup packets is 10000 bytes. Only the
        # header is sent: the close must not wait for the body.
        sock.sendall(struct.pack("!II", 20000, PROTOCOL_V3))
        expect_silent_close(sock)
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!II", 0xFFFFFFF0, PROTOCOL_V3))
        expect_silent_close(sock)
    bystander.check()


def test_terminate_before_startup_closes_silently(bad_proxy):
    """node-postgres writes Terminate ('X', length 4) before its StartupMessage when end()
    follows connect() at once: read as a startup length that is 1476395008 bytes. PostgreSQL
    closes such a connection without a message, so the client sees a clean close."""
    bystander = Bystander(bad_proxy)
    labels = {"reason": "bad_length"}
    before = metric_value(bad_proxy.metrics(), "pgdual_protocol_errors_total", labels) or 0
    with open_socket(bad_proxy) as sock:
        sock.sendall(b"X\0\0\0\x04" + startup_packet({"user": bad_proxy.env.user,
                                                        "database": "postgres"}))
        expect_silent_close(sock)
    assert (metric_value(bad_proxy.metrics(), "pgdual_protocol_errors_total", labels) or 0) \
        == before + 1
    bystander.check()


def test_protocol_v2_is_refused(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        sock.sendall(startup_packet({"user": bad_proxy.env.user, "database": "postgres"},
                                    version=PROTOCOL_V2))
        expect_fatal(sock, "0A000", "unsupported frontend protocol", within=2.0)
    bystander.check()


def test_startup_without_user(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        sock.sendall(startup_packet({"database": "postgres"}))
        expect_fatal(sock, "28000", within=2.0)
    bystander.check()


def test_startup_unterminated_parameters(bad_proxy):
    bystander = Bystander(bad_proxy)
    # "user\0name" with no terminating NUL for the value nor for the list.
    body = struct.pack("!I", PROTOCOL_V3) + b"user\0" + bad_proxy.env.user.encode()
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        expect_fatal(sock, "08P01", within=2.0)
    # The value terminated, the list not.
    body = struct.pack("!I", PROTOCOL_V3) + b"user\0" + bad_proxy.env.user.encode() + b"\0"
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        expect_fatal(sock, "08P01", within=2.0)
    bystander.check()


# --------------------------------------------------------------------------
# Bad messages after startup


def test_wrong_length_word_after_startup(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        normal_startup(sock, bad_proxy.env)
        # A length below 4 cannot even cover itself.
        sock.sendall(b"Q" + struct.pack("!I", 3) + b"SELECT 1\0")
        expect_fatal(sock, "08P01", within=2.0)
    bystander.check()


def test_unknown_message_type(bad_proxy):
    before = bad_proxy.metrics()
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        normal_startup(sock, bad_proxy.env)
        sock.sendall(message(b"z", b"hello\0"))
        fields = expect_fatal(sock, "08P01", within=2.0)
        assert "message type" in fields["M"], fields
    bystander.check()
    after = bad_proxy.metrics()
    labels = {"reason": "unknown_message"}
    assert (metric_value(after, "pgdual_protocol_errors_total", labels) or 0) > \
        (metric_value(before, "pgdual_protocol_errors_total", labels) or 0)


def test_oversized_message_refused_before_its_body(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        normal_startup(sock, bad_proxy.env)
        # A Query that claims 1 MB with max_message_size 64 kB; only the
        # header and a few bytes are sent, so the answer must not wait.
        sock.sendall(b"Q" + struct.pack("!I", 1024 * 1024 + 4) + b"SELECT ")
        expect_fatal(sock, "54000", within=2.0)
    bystander.check()


# --------------------------------------------------------------------------
# TLS and other negotiation requests


def test_garbage_instead_of_tls_handshake(proxy_factory, env):
    proxy = proxy_factory(tls={"cert_file": str(env.certs / "server.crt"),
                               "key_file": str(env.certs / "server.key")},
                          limits={"startup_timeout_ms": 3000})
    before = proxy.metrics()
    bystander = Bystander(proxy)
    with open_socket(proxy) as sock:
        sock.sendall(struct.pack("!II", 8, SSL_REQUEST_CODE))
        assert recv_exact(sock, 1) == b"S"
        # Not a TLS ClientHello: a plain startup packet and some noise.
        sock.sendall(startup_packet({"user": env.user, "database": "postgres"}) +
                     b"\x00\xffgarbage" * 64)
        started = time.monotonic()
        expect_closed(sock, timeout=5.0)
        assert time.monotonic() - started < 2.5, "closed only by the startup timeout"
    bystander.check()
    after = proxy.metrics()
    labels = {"side": "client", "result": "failed"}
    assert (metric_value(after, "pgdual_tls_handshakes_total", labels) or 0) > \
        (metric_value(before, "pgdual_tls_handshakes_total", labels) or 0)


def test_gssenc_request_answered_n(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!II", 8, GSSENC_REQUEST_CODE))
        assert recv_exact(sock, 1) == b"N"
        # The client may go on in plain text on the same connection.
        normal_startup(sock, bad_proxy.env)
        assert data_rows(simple_query(sock, "SELECT 40 + 2")) == [["42"]]
        sock.sendall(message(b"X"))
    bystander.check()


def test_ssl_request_without_tls_answered_n(bad_proxy):
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!II", 8, SSL_REQUEST_CODE))
        assert recv_exact(sock, 1) == b"N"
        normal_startup(sock, bad_proxy.env)
        assert data_rows(simple_query(sock, "SELECT 'plain'")) == [["plain"]]
        sock.sendall(message(b"X"))
    bystander.check()


def test_cancel_request_with_unknown_key(bad_proxy):
    before = bad_proxy.metrics()
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as sock:
        sock.sendall(struct.pack("!IIII", 16, CANCEL_REQUEST_CODE, 123456789, 987654321))
        # PostgreSQL answers a CancelRequest with nothing but closing.
        expect_closed(sock, timeout=3.0)
    bystander.check()
    labels = {"result": "unknown_key"}
    after = bad_proxy.metrics()
    assert (metric_value(after, "pgdual_cancel_requests_total", labels) or 0) == \
        (metric_value(before, "pgdual_cancel_requests_total", labels) or 0) + 1


# --------------------------------------------------------------------------
# Stalls and floods


def test_client_stalling_during_startup(bad_proxy):
    before = bad_proxy.metrics()
    bystander = Bystander(bad_proxy)
    with open_socket(bad_proxy) as stalled, open_socket(bad_proxy) as half:
        started = time.monotonic()
        # One sends nothing at all, the other half of a startup packet.
        half.sendall(startup_packet({"user": bad_proxy.env.user})[:10])
        for sock in (stalled, half):
            sock.settimeout(4.0)
            expect_fatal(sock, "08006", "startup timeout")
        elapsed = time.monotonic() - started
        assert 0.8 < elapsed < 2.5, f"startup timeout of 1 s took {elapsed:.2f}s"
    bystander.check()
    labels = {"reason": "startup_timeout"}
    after = bad_proxy.metrics()
    assert (metric_value(after, "pgdual_client_connections_rejected_total", labels) or 0) >= \
        (metric_value(before, "pgdual_client_connections_rejected_total", labels) or 0) + 2


FLOOD_CONNECTIONS = 2000
FLOOD_LIMIT = 250
FLOOD_SECONDS = 60.0


def test_two_thousand_connections_at_once(proxy_factory, env):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD_CONNECTIONS + 1000
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
        if min(wanted, hard) < wanted:
            pytest.skip(f"open-files hard limit {hard} is below {wanted}")
    # The proxy inherits the raised limit.
    proxy = proxy_factory(limits={"max_client_connections": FLOOD_LIMIT,
                                  "startup_timeout_ms": 30000})
    before = proxy.metrics()
    deadline = time.monotonic() + FLOOD_SECONDS
    packet = startup_packet({"user": env.user, "database": "postgres"})

    sockets: list[socket.socket] = []
    selector = selectors.DefaultSelector()
    state: dict[int, dict] = {}
    try:
        for i in range(FLOOD_CONNECTIONS):
            sock = socket.create_connection((proxy.host, proxy.port), timeout=10)
            sock.sendall(packet)
            sock.setblocking(False)
            sockets.append(sock)
            state[i] = {"buf": b"", "result": None}
            selector.register(sock, selectors.EVENT_READ, i)
            assert time.monotonic() < deadline, "opening the connections took too long"

        pending = FLOOD_CONNECTIONS
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1.0):
                i = key.data
                entry = state[i]
                try:
                    chunk = key.fileobj.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                except BlockingIOError:
                    continue
                entry["buf"] += chunk
                result = _flood_result(entry["buf"], closed=not chunk)
                if result is not None:
                    entry["result"] = result
                    selector.unregister(key.fileobj)
                    pending -= 1
        unfinished = [i for i, e in state.items() if e["result"] is None]
        assert not unfinished, f"{len(unfinished)} connections got no answer within " \
                               f"{FLOOD_SECONDS}s"

        results = [e["result"] for e in state.values()]
        ready = sum(1 for r in results if r == "ready")
        refused = [r for r in results if r != "ready"]
        too_many = sum(1 for r in refused if r == ("53300", "sorry, too many clients already"))
        others = sorted({str(r) for r in refused if r != ("53300",
                                                        "sorry, too many clients already")})
        assert ready == FLOOD_LIMIT, f"{ready} sessions ready (limit {FLOOD_LIMIT}); " \
                                     f"other outcomes: {others[:5]}"
        assert too_many == FLOOD_CONNECTIONS - FLOOD_LIMIT, others[:5]

        # The ready sessions are real: each answers a query.
        ready_socks = [sockets[i] for i, e in state.items() if e["result"] == "ready"]
        for sock in ready_socks[:20]:
            sock.setblocking(True)
            sock.settimeout(10)
            assert data_rows(simple_query(sock, "SELECT 7")) == [["7"]]
    finally:
        selector.close()
        for sock in sockets:
            try:
                sock.setblocking(True)
                sock.settimeout(1)
                sock.sendall(message(b"X"))
            except OSError:
                pass
            sock.close()

    assert proxy.process.poll() is None, "pgdual exited\n" + proxy.log_tail()
    # The slots are given back: new sessions work again.
    end = time.monotonic() + 15
    while True:
        try:
            with proxy.connect("postgres") as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            break
        except Exception:  # slots may take a moment to be released
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
    labels = {"reason": "too_many_connections"}
    after = proxy.metrics()
    assert (metric_value(after, "pgdual_client_connections_rejected_total", labels) or 0) >= \
        (metric_value(before, "pgdual_client_connections_rejected_total", labels) or 0) + \
        FLOOD_CONNECTIONS - FLOOD_LIMIT


def _flood_result(buf: bytes, closed: bool):
    """'ready' once ReadyForQuery arrived, (sqlstate, message) on an
    ErrorResponse, ('closed', ...) if closed first; None while incomplete."""
    at = 0
    while len(buf) - at >= 5:
        kind = buf[at:at + 1]
        length = struct.unpack("!I", buf[at + 1:at + 5])[0]
        if len(buf) - at < 1 + length:
            break
        payload = buf[at + 5:at + 1 + length]
        if kind == b"Z":
            return "ready"
        if kind == b"E":
            fields = error_fields(payload)
            return (fields.get("C"), fields.get("M"))
        at += 1 + length
    if closed:
        return ("closed", f"{len(buf)} bytes before close")
    return None
