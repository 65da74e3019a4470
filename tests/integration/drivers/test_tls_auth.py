"""TLS and authentication on both legs.

Client -> pgdual: TLS with verify-full (psql and psycopg), tls.require,
SCRAM-SHA-256 (with a password and with a verifier), md5, cleartext over
TLS, wrong passwords (28P01). pgdual -> backend: verify-full TLS (checked on
the server side), a CA that did not sign the server certificate, trust,
cleartext, md5 and SCRAM backend roles, a wrong backend password. No log
ever contains a password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import socket
import struct

import psycopg
import pytest

from wire import error_fields, read_message, startup_packet
from conftest import metric_value, run as run_cmd

IO_TIMEOUT = 10.0
SSL_REQUEST_CODE = 80877103

# Authentication request codes (protocol documentation, "AuthenticationXXX").
AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 3, 5, 10, 11, 12


@pytest.fixture(autouse=True)
def _proxy_only(env):
    if env.direct:
        pytest.skip("TLS and authentication of pgdual itself")


def tls_files(env) -> dict:
    return {"cert_file": str(env.certs / "server.crt"), "key_file": str(env.certs / "server.key")}


def metric(proxy, name: str, **labels) -> float:
    return metric_value(proxy.metrics(), name, labels) or 0.0


def assert_no_secrets_logged(proxy, *secrets_used: str) -> None:
    text = proxy.log_text()
    assert text, "pgdual wrote no log at all"
    for secret in secrets_used:
        assert secret not in text, "a password appears in the pgdual log"


def new_secret() -> str:
    return "pw-" + secrets.token_hex(12)


# --------------------------------------------------------------------------
# A minimal raw client, to see SQLSTATEs that libpq does not expose for
# connection failures.














def password_message(payload: bytes) -> bytes:
    return b"p" + struct.pack("!I", len(payload) + 4) + payload


def raw_login(proxy, user: str, password: str) -> tuple[bytes, dict | bytes]:
    """Logs in over a plain socket answering whatever pgdual asks (md5,
    SCRAM-SHA-256). Returns (b'E', error fields) or (b'Z', b'') on success."""
    with socket.create_connection((proxy.host, proxy.port), timeout=IO_TIMEOUT) as sock:
        sock.settimeout(IO_TIMEOUT)
        sock.sendall(startup_packet({"user": user, "database": "postgres"}))
        scram = None
        while True:
            kind, payload = read_message(sock)
            if kind == b"E":
                return kind, error_fields(payload)
            if kind == b"Z":
                return kind, b""
            if kind != b"R":
                continue
            code = struct.unpack("!I", payload[:4])[0]
            if code == AUTH_MD5:
                salt = payload[4:8]
                inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + salt).hexdigest()
                sock.sendall(password_message(b"md5" + outer.encode() + b"\0"))
            elif code == AUTH_CLEARTEXT:
                sock.sendall(password_message(password.encode() + b"\0"))
            elif code == AUTH_SASL:
                assert b"SCRAM-SHA-256\0" in payload[4:], payload
                scram = ScramClient(password)
                first = scram.client_first().encode()
                sock.sendall(password_message(b"SCRAM-SHA-256\0" + struct.pack("!I", len(first))
                                              + first))
            elif code == AUTH_SASL_CONTINUE:
                sock.sendall(password_message(scram.client_final(payload[4:].decode()).encode()))
            elif code in (AUTH_SASL_FINAL, AUTH_OK):
                continue
            else:
                pytest.fail(f"unexpected authentication request {code}")


class ScramClient:
    """SCRAM-SHA-256 without channel binding (RFC 5802 / RFC 7677)."""

    def __init__(self, password: str):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def client_first(self) -> str:
        return "n,," + self.first_bare

    def client_final(self, server_first: str) -> str:
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        assert attrs["r"].startswith(self.nonce), server_first
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={base64.b64encode(b'n,,').decode()},r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return f"{without_proof},p={base64.b64encode(proof).decode()}"


# --------------------------------------------------------------------------
# TLS from the client to pgdual


def test_client_tls_verify_full_psql_and_psycopg(proxy_factory, env, run):
    proxy = proxy_factory(tls=tls_files(env))
    ok_before = metric(proxy, "pgdual_tls_handshakes_total", side="client", result="ok")
    ca = str(env.certs / "ca.crt")

    # psql: host=localhost is what the certificate names; hostaddr pins IPv4.
    dsn = proxy.dsn("postgres", host="localhost", hostaddr=proxy.host, sslmode="verify-full",
                    sslrootcert=ca)
    out = run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", r"\conninfo",
               "-c", "SELECT 'over tls'"], timeout=30)
    assert "SSL connection" in out.stdout, out.stdout
    assert "over tls" in out.stdout

    with proxy.connect("postgres", host="localhost", hostaddr=proxy.host,
                       sslmode="verify-full", sslrootcert=ca) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)

    ok_after = metric(proxy, "pgdual_tls_handshakes_total", side="client", result="ok")
    assert ok_after >= ok_before + 2
    assert_no_secrets_logged(proxy, env.password)


def test_client_tls_verify_full_rejects_other_ca(proxy_factory, env, tmp_path):
    proxy = proxy_factory(tls=tls_files(env))
    other_ca = make_throwaway_ca(tmp_path)
    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres", host="localhost", hostaddr=proxy.host,
                      sslmode="verify-full", sslrootcert=str(other_ca)).close()
    assert "certificate verify failed" in str(info.value), str(info.value)


def test_tls_require_refuses_plain_clients(proxy_factory, env):
    proxy = proxy_factory(tls={**tls_files(env), "require": True})
    rejected_before = metric(proxy, "pgdual_client_connections_rejected_total",
                             reason="tls_required")
    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres", sslmode="disable").close()
    message = str(info.value)
    assert "FATAL" in message and "encrypted" in message, message

    # The same refusal seen on the wire: FATAL, and an SQLSTATE of class 28.
    kind, fields = raw_login(proxy, env.user, env.password)
    assert kind == b"E", fields
    assert fields["S"] == "FATAL" and fields["C"] == "28000", fields

    # With TLS the same client gets in.
    with proxy.connect("postgres", sslmode="require") as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert metric(proxy, "pgdual_client_connections_rejected_total",
                  reason="tls_required") >= rejected_before + 2


# --------------------------------------------------------------------------
# TLS from pgdual to the backend


def backend_ssl(conn) -> bool:
    return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("backend_host", ["127.0.0.1", "localhost"])
def test_backend_tls_verify_full(proxy_factory, env, backend_host):
    proxy = proxy_factory(backends={"old": {"host": backend_host, "sslmode": "verify-full",
                                            "sslrootcert": str(env.certs / "ca.crt")}})
    ok_before = metric(proxy, "pgdual_tls_handshakes_total", side="backend", result="ok")
    with proxy.connect("postgres") as conn:
        assert backend_ssl(conn) is True
    assert metric(proxy, "pgdual_tls_handshakes_total", side="backend",
                  result="ok") >= ok_before + 1


def test_backend_sslmode_disable_is_plain(proxy_factory):
    proxy = proxy_factory()  # the fixture's default: sslmode disable
    with proxy.connect("postgres") as conn:
        assert backend_ssl(conn) is False


def make_throwaway_ca(tmp_path):
    """A CA that did not sign the test certificates."""
    key, crt = tmp_path / "other-ca.key", tmp_path / "other-ca.crt"
    run_cmd(["openssl", "req", "-batch", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=not the pgdual CA",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], timeout=60)
    return crt


def test_backend_tls_verify_full_with_wrong_ca(proxy_factory, env, tmp_path):
    other_ca = make_throwaway_ca(tmp_path)
    proxy = proxy_factory(backends={"old": {"sslmode": "verify-full",
                                            "sslrootcert": str(other_ca)}})
    errors_before = metric(proxy, "pgdual_backend_connect_errors_total", backend="old")
    tls_failed_before = metric(proxy, "pgdual_tls_handshakes_total", side="backend",
                               result="failed")
    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres").close()
    message = str(info.value)
    assert "could not connect" in message, message
    assert "certificate" in message.lower() or "verify" in message.lower(), message
    assert metric(proxy, "pgdual_backend_connect_errors_total",
                  backend="old") >= errors_before + 1
    assert metric(proxy, "pgdual_tls_handshakes_total", side="backend",
                  result="failed") >= tls_failed_before + 1
    # Nothing else is broken: the proxy keeps running and answers its probes.
    assert proxy.process.poll() is None
    assert proxy.get("/healthz")[0] == 200


# --------------------------------------------------------------------------
# Client authentication


def test_scram_on_both_legs(proxy_factory, env, run):
    app_password = new_secret()
    proxy = proxy_factory(
        {"auth": {"method": "scram-sha-256",
                  "users": [{"name": "app", "password": "${APP_PASSWORD}"}]},
         "log": {"level": "trace"}},
        extra_env={"APP_PASSWORD": app_password})
    # The backend role pgdual_test is scram-sha-256 in pg_hba.conf.
    with proxy.connect("postgres", user="app", password=app_password) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (env.user,)

    out = run(["psql", "-X", "-At", "-d", proxy.dsn("postgres", user="app", password=app_password),
               "-c", "SELECT 'scram ok'"], timeout=30)
    assert out.stdout.strip() == "scram ok"

    kind, fields = raw_login(proxy, "app", app_password)
    assert kind == b"Z", fields
    assert_no_secrets_logged(proxy, app_password, env.password)


def test_scram_with_a_verifier(proxy_factory, env, direct_conn, tmp_path):
    # pg_authid.rolpassword of pgdual_test is a SCRAM verifier of the test password.
    verifier = direct_conn().execute(
        "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (env.user,)).fetchone()[0]
    assert verifier.startswith("SCRAM-SHA-256$")
    secret_file = tmp_path / "app.verifier"
    secret_file.write_text(verifier + "\n")
    secret_file.chmod(0o600)
    proxy = proxy_factory(auth={"method": "scram-sha-256",
                                "users": [{"name": "app", "password_file": str(secret_file)}]})
    with proxy.connect("postgres", user="app", password=env.password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    kind, fields = raw_login(proxy, "app", "not-" + env.password)
    assert kind == b"E" and fields["C"] == "28P01", fields


def test_md5_client_auth(proxy_factory, env):
    app_password = new_secret()
    proxy = proxy_factory({"auth": {"method": "md5",
                                    "users": [{"name": "app", "password": "${APP_PASSWORD}"}]},
                           "log": {"level": "trace"}},
                          extra_env={"APP_PASSWORD": app_password})
    with proxy.connect("postgres", user="app", password=app_password) as conn:
        assert conn.execute("SELECT 'md5'").fetchone() == ("md5",)
    kind, fields = raw_login(proxy, "app", app_password)
    assert kind == b"Z", fields
    kind, fields = raw_login(proxy, "app", app_password + "x")
    assert kind == b"E", fields
    assert fields["S"] == "FATAL" and fields["C"] == "28P01", fields
    assert 'password authentication failed for user "app"' in fields["M"], fields
    assert_no_secrets_logged(proxy, app_password, env.password)


def test_cleartext_password_over_tls(proxy_factory, env):
    app_password = new_secret()
    proxy = proxy_factory({"auth": {"method": "password",
                                    "users": [{"name": "app", "password": "${APP_PASSWORD}"}]},
                           "tls": {**tls_files(env), "require": True},
                           "log": {"level": "trace"}},
                          extra_env={"APP_PASSWORD": app_password})
    ca = str(env.certs / "ca.crt")
    with proxy.connect("postgres", user="app", password=app_password, host="localhost",
                       hostaddr=proxy.host, sslmode="verify-full", sslrootcert=ca) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 'cleartext over tls'").fetchone() == ("cleartext over tls",)
    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres", user="app", password=app_password + "x",
                      sslmode="require").close()
    assert 'password authentication failed for user "app"' in str(info.value)
    assert_no_secrets_logged(proxy, app_password, app_password + "x", env.password)


def test_wrong_client_password(proxy_factory, env):
    app_password = new_secret()
    wrong = new_secret()
    proxy = proxy_factory({"auth": {"method": "scram-sha-256",
                                    "users": [{"name": "app", "password": "${APP_PASSWORD}"}]},
                           "log": {"level": "trace"}},
                          extra_env={"APP_PASSWORD": app_password})
    failed_before = metric(proxy, "pgdual_client_connections_rejected_total",
                           reason="auth_failed")

    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres", user="app", password=wrong).close()
    assert 'password authentication failed for user "app"' in str(info.value)

    for user in ("app", "nobody"):  # an unknown user gets the same answer
        kind, fields = raw_login(proxy, user, wrong)
        assert kind == b"E", fields
        assert fields["S"] == "FATAL" and fields["C"] == "28P01", fields
        assert f'password authentication failed for user "{user}"' in fields["M"], fields

    assert metric(proxy, "pgdual_client_connections_rejected_total",
                  reason="auth_failed") >= failed_before + 3
    # Others unharmed.
    with proxy.connect("postgres", user="app", password=app_password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert_no_secrets_logged(proxy, app_password, wrong, env.password)


# --------------------------------------------------------------------------
# Backend authentication


@pytest.mark.parametrize("backend_user", ["trust_user", "clear_user", "md5_user", "pgdual_test"])
def test_backend_auth_methods(proxy_factory, env, backend_user):
    # pg_hba.conf: trust_user trust, clear_user password, md5_user md5,
    # everyone else scram-sha-256.
    proxy = proxy_factory(backends={"old": {"user": backend_user}}, log={"level": "trace"})
    with proxy.connect("postgres") as conn:
        assert conn.execute("SELECT current_user").fetchone() == (backend_user,)
    assert_no_secrets_logged(proxy, env.password)


def test_backend_auth_over_tls(proxy_factory, env):
    # md5 and cleartext challenges answered inside TLS.
    for user in ("clear_user", "md5_user"):
        proxy = proxy_factory(backends={"old": {"user": user, "sslmode": "require"}})
        with proxy.connect("postgres") as conn:
            assert conn.execute("SELECT current_user").fetchone() == (user,)
            assert backend_ssl(conn) is True
        proxy.stop()


@pytest.mark.parametrize("backend_user", ["pgdual_test", "md5_user", "clear_user"])
def test_wrong_backend_password(proxy_factory, env, backend_user):
    wrong = new_secret()
    proxy = proxy_factory({"backends": {"old": {"user": backend_user,
                                                "password": "${WRONG_BACKEND_PASSWORD}"}},
                           "log": {"level": "trace"}},
                          extra_env={"WRONG_BACKEND_PASSWORD": wrong})
    errors_before = metric(proxy, "pgdual_backend_connect_errors_total", backend="old")
    with pytest.raises(psycopg.OperationalError) as info:
        proxy.connect("postgres").close()
    message = str(info.value)
    assert "FATAL" in message and "password authentication failed" in message, message
    assert metric(proxy, "pgdual_backend_connect_errors_total",
                  backend="old") >= errors_before + 1
    assert proxy.process.poll() is None
    assert_no_secrets_logged(proxy, wrong, env.password)
