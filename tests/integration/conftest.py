"""Fixtures for pgdual's integration tests.

scripts/test starts two throwaway PostgreSQL 15 clusters and exports:
  PGDUAL_OLD_PORT, PGDUAL_NEW_PORT   their ports on 127.0.0.1
  PGDUAL_TEST_USER                   superuser role on both (pgdual_test)
  PGDUAL_TEST_PASSWORD               its password (also trust_user, clear_user, md5_user)
  PGDUAL_TEST_CERTS                  ca.crt server.crt server.key client.crt client.key
  PGDUAL_BIN                         the pgdual binary (set by ctest)
  PGDUAL_TARGET                      "proxy" (default) or "direct": with "direct" the
                                     proxy fixtures hand out the old server itself, to
                                     validate the tests without pgdual.

Every test is bounded: subprocesses get timeouts, connections get
connect_timeout, and a watchdog dumps the stacks and exits if a test hangs.
"""

from __future__ import annotations

import copy
import ctypes
import faulthandler
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
TEST_WATCHDOG_SECONDS = int(os.environ.get("PGDUAL_TEST_WATCHDOG", "600"))
PROXY_START_SECONDS = 10.0
PROXY_STOP_SECONDS = 10.0

# libpq reads these; a developer's shell must not change what the tests do.
for _var in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE",
             "PGSSLMODE", "PGOPTIONS", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE",
             "PGAPPNAME", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGTARGETSESSIONATTRS",
             "PGREQUIRESSL", "PGGSSENCMODE", "PGCLIENTENCODING", "PGTZ", "PGDATESTYLE"):
    os.environ.pop(_var, None)
os.environ["PGCONNECT_TIMEOUT"] = "10"


# --------------------------------------------------------------------------
# Environment


@dataclass(frozen=True)
class Env:
    host: str
    old_port: int
    new_port: int
    user: str
    password: str
    certs: Path
    target: str  # "proxy" or "direct"
    pgdual_bin: str | None

    def port(self, which: str) -> int:
        return {"old": self.old_port, "new": self.new_port}[which]

    @property
    def direct(self) -> bool:
        return self.target == "direct"


def load_env() -> Env:
    required = ["PGDUAL_OLD_PORT", "PGDUAL_NEW_PORT", "PGDUAL_TEST_USER",
                "PGDUAL_TEST_PASSWORD", "PGDUAL_TEST_CERTS"]
    missing = [name for name in required if not os.environ.get(name)]
    target = os.environ.get("PGDUAL_TARGET", "proxy") or "proxy"
    if target not in ("proxy", "direct"):
        raise RuntimeError(f"PGDUAL_TARGET must be 'proxy' or 'direct', not {target!r}")
    if target == "proxy" and not os.environ.get("PGDUAL_BIN"):
        missing.append("PGDUAL_BIN")
    if missing:
        raise RuntimeError(
            "integration tests need " + ", ".join(missing) +
            "; run them through scripts/test (which starts the PostgreSQL servers)")
    certs = Path(os.environ["PGDUAL_TEST_CERTS"])
    for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key"):
        if not (certs / name).is_file():
            raise RuntimeError(f"PGDUAL_TEST_CERTS={certs} lacks {name}")
    pgdual_bin = os.environ.get("PGDUAL_BIN") or None
    if target == "proxy" and not os.access(pgdual_bin, os.X_OK):
        raise RuntimeError(f"PGDUAL_BIN={pgdual_bin} is not an executable")
    return Env(HOST, int(os.environ["PGDUAL_OLD_PORT"]), int(os.environ["PGDUAL_NEW_PORT"]),
               os.environ["PGDUAL_TEST_USER"], os.environ["PGDUAL_TEST_PASSWORD"],
               certs, target, pgdual_bin)


@pytest.fixture(scope="session")
def env() -> Env:
    return load_env()


@pytest.fixture(autouse=True)
def _watchdog():
    """Dump every thread's stack and exit if one test runs too long."""
    faulthandler.dump_traceback_later(TEST_WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# --------------------------------------------------------------------------
# Small helpers


def conninfo(**params) -> str:
    """A libpq keyword/value string; values quoted as libpq wants."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        text = str(value)
        if text == "" or re.search(r"[\s'\\]", text):
            text = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{key}={text}")
    return " ".join(parts)


_ports_handed_out: set[int] = set()

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _terminate_with_parent() -> None:
    """In the child before exec: SIGTERM it if pytest dies (watchdog, ctest
    timeout, Ctrl-C), so no pgdual outlives the test run."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A free port on 127.0.0.1, below the ephemeral range (see pg_cluster.sh)."""
    for _ in range(500):
        port = random.randint(20000, 31999)
        if port in _ports_handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    raise RuntimeError("no free port")


def run(cmd, timeout: float = 60, check: bool = True, input=None, env=None, cwd=None,
        binary: bool = False) -> subprocess.CompletedProcess:
    """Runs a client program (psql, pgbench, java, node...) with a timeout.

    Output is captured (text unless binary=True). With check=True a non-zero
    exit fails the test, showing what the program printed."""
    full_env = os.environ.copy()
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    if input is not None and not binary and isinstance(input, bytes):
        input = input.decode()
    try:
        result = subprocess.run([str(c) for c in cmd], input=input, capture_output=True,
                                timeout=timeout, env=full_env, cwd=cwd, text=not binary)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{cmd[0]} timed out after {timeout}s\n--- stdout\n{_text(exc.stdout)}"
                    f"\n--- stderr\n{_text(exc.stderr)}")
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {result.returncode}\n"
                    f"--- stdout\n{_text(result.stdout)}\n--- stderr\n{_text(result.stderr)}")
    return result


def _text(data) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data


def connect(host: str, port: int, dbname: str, user: str, password: str | None,
            autocommit: bool = True, **kw) -> psycopg.Connection:
    return psycopg.connect(host=host, port=port, dbname=dbname, user=user,
                           password=password, autocommit=autocommit, connect_timeout=10, **kw)


def _db_name(request) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------
# Databases and direct connections


@pytest.fixture
def make_db(env, request):
    """make_db(name=None) -> str: creates a database on BOTH servers; all are
    dropped (WITH FORCE) after the test."""
    created: list[str] = []

    def make(name: str | None = None) -> str:
        name = name or _db_name(request)
        for which in ("old", "new"):
            with connect(env.host, env.port(which), "postgres", env.user, env.password) as c:
                c.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield make
    for name in created:
        for which in ("old", "new"):
            _drop_replication_of(env, which, name)
        for which in ("old", "new"):
            with connect(env.host, env.port(which), "postgres", env.user, env.password) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_replication_of(env, which: str, name: str) -> None:
    """Strategy cdc leaves subscriptions and replication slots that keep a database from being
    dropped: a test that failed before its own teardown leaves them here. Subscriptions are
    detached from their slots first (the other server may be gone), then every slot of the
    database is dropped."""
    try:
        with connect(env.host, env.port(which), name, env.user, env.password) as c:
            for (sub,) in c.execute("SELECT subname FROM pg_subscription s JOIN pg_database d "
                                    "ON d.oid = s.subdbid WHERE d.datname = current_database()"
                                    ).fetchall():
                c.execute(f'ALTER SUBSCRIPTION "{sub}" DISABLE')
                c.execute(f'ALTER SUBSCRIPTION "{sub}" SET (slot_name = NONE)')
                c.execute(f'DROP SUBSCRIPTION "{sub}"')
        with connect(env.host, env.port(which), "postgres", env.user, env.password) as c:
            for _ in range(50):
                c.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                          "WHERE database = %s AND active_pid IS NOT NULL", (name,))
                slots = c.execute("SELECT slot_name FROM pg_replication_slots "
                                  "WHERE database = %s AND NOT active", (name,)).fetchall()
                for (slot,) in slots:
                    c.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                if not c.execute("SELECT 1 FROM pg_replication_slots WHERE database = %s",
                                 (name,)).fetchall():
                    break
                time.sleep(0.1)
    except psycopg.Error:
        pass  # the database or the server is gone: nothing of it to drop


@pytest.fixture
def fresh_db(make_db) -> str:
    """The name of a database created for this test on both servers."""
    return make_db()


@pytest.fixture
def direct_conn(env):
    """direct_conn(which='old'|'new', dbname='postgres', **kw) -> an autocommit
    psycopg connection straight to a backend as the test superuser; closed
    after the test."""
    opened: list[psycopg.Connection] = []

    def open_conn(which: str = "old", dbname: str = "postgres", **kw) -> psycopg.Connection:
        conn = connect(env.host, env.port(which), dbname, env.user, env.password, **kw)
        opened.append(conn)
        return conn

    yield open_conn
    for conn in opened:
        conn.close()


@pytest.fixture(name="run")
def run_fixture():
    """run(cmd, timeout=60, check=True, input=None, env=None, cwd=None, binary=False)."""
    return run


# --------------------------------------------------------------------------
# The proxy


def deep_merge(base: dict, overrides: dict) -> dict:
    """Dicts merge recursively; any other value replaces; None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def to_yaml(value, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (strings double-quoted)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        lines = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {body.lstrip()}")
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}\n")
        return "".join(lines)
    return pad + _yaml_scalar(value) + "\n"


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar


def default_config(env: Env, port: int, admin_port: int) -> dict:
    # The password by reference, as docs/configuration.md asks (pgdual warns
    # about literal secrets); pgdual inherits PGDUAL_TEST_PASSWORD.
    def backend(which: str) -> dict:
        return {"host": env.host, "port": env.port(which), "user": env.user,
                "password": "${PGDUAL_TEST_PASSWORD}", "sslmode": "disable"}

    return {
        "listen": f"{env.host}:{port}",
        "admin_listen": f"{env.host}:{admin_port}",
        "workers": 2,
        "auth": {"method": "trust", "users": []},
        "backends": {"old": backend("old"), "new": backend("new")},
        # Shorter than the fixture's wait between SIGTERM and SIGKILL.
        "limits": {"drain_timeout_ms": 5000},
        "log": {"level": "info", "format": "text"},
        # Tests that flip phases by reload are not about the cutover gate: it is forced (and
        # logged) for them; operations/test_cutover_gate.py turns it back on.
        # Each instance flips by itself (one instance per test); operations/test_fleet_flip.py
        # runs the fleet.
        "migration": {"phase": "prepare",
                      "cutover": {"force": True, "coordination": "local"}},
    }


class _Target:
    """What a test talks to: the same attributes whether pgdual or PostgreSQL."""

    host: str
    port: int
    env: Env

    def dsn(self, dbname: str, user: str | None = None, password: str | None = None,
            **kw) -> str:
        """libpq keyword/value string for this target; kw adds parameters
        (sslmode=..., application_name=..., options=...)."""
        params = {"host": self.host, "port": self.port, "dbname": dbname,
                  "user": user or self.env.user,
                  "password": self.env.password if password is None else password,
                  "connect_timeout": 10}
        params.update(kw)
        return conninfo(**params)

    def url(self, dbname: str, user: str | None = None, password: str | None = None,
            **params) -> str:
        """postgresql:// URI for this target (for node, JDBC-like clients)."""
        from urllib.parse import quote, urlencode
        user = user or self.env.user
        password = self.env.password if password is None else password
        query = ("?" + urlencode(params)) if params else ""
        return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
                f"@{self.host}:{self.port}/{quote(dbname, safe='')}{query}")

    def connect(self, dbname: str, user: str | None = None, password: str | None = None,
                autocommit: bool = True, **kw) -> psycopg.Connection:
        """A psycopg connection through this target (the caller closes it)."""
        return psycopg.connect(self.dsn(dbname, user, password, **kw), autocommit=autocommit)


class DirectTarget(_Target):
    """PGDUAL_TARGET=direct: the old server itself, to validate the tests."""

    is_direct = True

    def __init__(self, env: Env):
        self.env = env
        self.host = env.host
        self.port = env.old_port
        self.admin_port = None
        self.log_path = None
        self.config_path = None
        self.config = None
        self.process = None

    def metrics(self) -> str:
        pytest.skip("PGDUAL_TARGET=direct: no pgdual metrics")

    def get(self, path: str):
        pytest.skip("PGDUAL_TARGET=direct: no pgdual admin endpoint")

    def reload(self) -> None:
        pytest.skip("PGDUAL_TARGET=direct: no pgdual to reload")

    def update_config(self, **overrides) -> None:
        pytest.skip("PGDUAL_TARGET=direct: no pgdual config")

    def log_text(self) -> str:
        return ""

    def stop(self) -> int | None:
        return None


class Proxy(_Target):
    """A running `pgdual run --config FILE`."""

    is_direct = False

    def __init__(self, env: Env, config: dict, workdir: Path, name: str):
        self.env = env
        self.config = config
        self.host, port = config["listen"].rsplit(":", 1)
        self.port = int(port)
        admin = config.get("admin_listen")
        self.admin_port = int(admin.rsplit(":", 1)[1]) if admin else None
        self.config_path = workdir / f"{name}.yaml"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(to_yaml(config))
        self.process: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle

    def start(self, wait: bool = True, extra_env: dict | None = None) -> "Proxy":
        self._log_file = open(self.log_path, "ab")
        proc_env = os.environ.copy()
        if extra_env:
            proc_env.update({k: str(v) for k, v in extra_env.items()})
        self.process = subprocess.Popen(
            [self.env.pgdual_bin, "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            env=proc_env, preexec_fn=_terminate_with_parent)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout: float = PROXY_START_SECONDS) -> None:
        """Waits until the process has its client port in LISTEN state. Reads
        /proc rather than connecting, so no stray connection is counted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"pgdual exited with {code} during start-up\n"
                                   + self.log_tail())
            if _pid_listens_on(self.process.pid, self.port):
                return
            time.sleep(0.02)
        raise RuntimeError(f"pgdual did not listen on {self.host}:{self.port} within "
                           f"{timeout}s\n" + self.log_tail())

    def stop(self, timeout: float = PROXY_STOP_SECONDS) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit status (negative = signal)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode

    def reload(self) -> None:
        """SIGHUP: re-read the config file."""
        self.process.send_signal(signal.SIGHUP)

    def update_config(self, **overrides) -> None:
        """Deep-merges overrides into the config and rewrites the file (no signal)."""
        self.config = deep_merge(self.config, overrides)
        tmp = self.config_path.with_suffix(".yaml.tmp")
        tmp.write_text(to_yaml(self.config))
        tmp.replace(self.config_path)

    # -- observation

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET http://admin_listen/path -> (status, body). Retries briefly
        while the admin listener comes up."""
        url = f"http://{self.host}:{self.admin_port}{path}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as err:
                return err.code, err.read().decode(errors="replace")
            except (ConnectionError, urllib.error.URLError, socket.timeout):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def metrics(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics returned {status}: {body[:500]}"
        return body

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "--- pgdual log (tail)\n" + "\n".join(self.log_text().splitlines()[-lines:])


def metric_value(metrics_text: str, name: str, labels: dict | None = None) -> float | None:
    """The value of one sample in Prometheus text, or None. labels must all match."""
    for line in metrics_text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                match.group(3) or ""))
        if all(found.get(k) == str(v) for k, v in (labels or {}).items()):
            return float(match.group(4))
    return None


def _pid_listens_on(pid: int, port: int) -> bool:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    cols = row.split()
                    local_port = int(cols[1].rsplit(":", 1)[1], 16)
                    if local_port == port and cols[3] == "0A" and cols[9] in inodes:
                        return True
        except OSError:
            continue
    return False


_CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGFPE,
                  -signal.SIGILL}
_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "ThreadSanitizer", "terminate called")


def _check_clean_exit(proxy: Proxy, code: int | None) -> str | None:
    text = proxy.log_text()
    for mark in _SANITIZER_MARKS:
        if mark in text:
            return f"pgdual log contains {mark!r}"
    if code in _CRASH_SIGNALS:
        return f"pgdual died with signal {-code}"
    return None


@pytest.fixture
def proxy_factory(env, tmp_path):
    """proxy_factory(overrides=None, *, wait=True, extra_env=None, **overrides) -> Proxy

    Writes a config (trust auth, phase prepare, free ports, backends old/new
    from the environment) deep-merged with the overrides into tmp_path, starts
    pgdual, and waits until it listens. Every proxy is stopped after the test;
    a crash or a sanitizer report in its log fails the test.

    With PGDUAL_TARGET=direct it returns a DirectTarget (the old server; the
    overrides are ignored, and metrics()/reload() skip the test)."""
    started: list[Proxy] = []

    def make(overrides: dict | None = None, *, wait: bool = True,
             extra_env: dict | None = None, **kw_overrides):
        if env.direct:
            return DirectTarget(env)
        config = default_config(env, free_port(), free_port())
        config = deep_merge(config, overrides or {})
        config = deep_merge(config, kw_overrides)
        proxy = Proxy(env, config, tmp_path, f"pgdual{len(started)}")
        started.append(proxy)
        return proxy.start(wait=wait, extra_env=extra_env)

    yield make
    problems = []
    for proxy in started:
        code = proxy.stop()
        problem = _check_clean_exit(proxy, code)
        if problem:
            problems.append(f"{problem}\n{proxy.log_tail(200)}")
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def proxy(proxy_factory):
    """pgdual with the default config (trust auth, phase prepare), or the old
    server itself with PGDUAL_TARGET=direct."""
    return proxy_factory()


def pytest_report_header(config):
    return (f"pgdual target: {os.environ.get('PGDUAL_TARGET', 'proxy')}, "
            f"python {sys.version.split()[0]}, psycopg {psycopg.__version__}")


def wait_for(predicate, timeout: float, what: str = "condition", interval: float = 0.05):
    """Polls predicate() until it returns a truthy value and returns it;
    fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
