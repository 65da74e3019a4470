"""The operator's view (docs/operations.md): the status report on /status.json, /status.txt and
`pgdual status`; the page /status in headless Chromium; the psql admin console (SCRAM, admin.users
only, SHOW ..., RELOAD, PAUSE, RESUME) with psql and psycopg, and PAUSE under 16 pgbench clients
racing on hot rows."""

from __future__ import annotations

import json
import os
import re
import secrets
import struct
import subprocess
import threading
import time
import urllib.request
import zlib
from html.parser import HTMLParser

import psycopg
import psycopg.errors as errors
import pytest

from conftest import free_port, wait_for
from dual_write_helpers import (finish_process, metric, on_both, pgbench_cmd,
                                pgbench_summary, query, scalar, start_process)

CHROMIUM = "/usr/bin/chromium"
HOT_ROWS = 3
# A table name an attacker could choose: the page must show it as text, never as markup.
MARKUP_TABLE = 'public."<img src=x onerror=alert(1)>"'
MARKUP_NAME = "public.<img src=x onerror=alert(1)>"  # as pgdual keeps it: the quotes removed


@pytest.fixture
def proxy_only(env):
    if env.direct:
        pytest.skip("tests pgdual itself")


@pytest.fixture
def ops_password():
    return secrets.token_hex(12)


@pytest.fixture
def operator_proxy(proxy_only, env, proxy_factory, fresh_db, ops_password):
    """pgdual in dual_write with SCRAM for clients; `ops` is the admin console's only user."""
    on_both_setup = ["CREATE TABLE hot (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)",
                     f"INSERT INTO hot SELECT g, 0 FROM generate_series(1, {HOT_ROWS}) g"]
    proxy = proxy_factory(
        {"auth": {"method": "scram-sha-256",
                  "users": [{"name": env.user, "password": "${PGDUAL_TEST_PASSWORD}"},
                            {"name": "ops", "password": "${OPS_PASSWORD}"}]},
         "admin": {"users": ["ops"], "status_interval_ms": 1000, "pause_timeout_ms": 20000},
         "migration": {"phase": "dual_write",
                       "tables": {"public.hot": {"phase": "shadow_read"},
                                  MARKUP_TABLE: {"phase": "dual_write"}}}},
        extra_env={"OPS_PASSWORD": ops_password})
    proxy.database = fresh_db
    proxy.ops_password = ops_password
    return proxy, on_both_setup


def console(proxy, password: str, user: str = "ops") -> psycopg.Connection:
    return psycopg.connect(proxy.dsn("pgdual", user=user, password=password), autocommit=True)


def status_json(proxy) -> dict:
    code, body = proxy.get("/status.json")
    assert code == 200, body
    return json.loads(body)


def write_through(proxy, env, dbname: str, count: int) -> None:
    with proxy.connect(dbname) as conn:
        for i in range(count):
            conn.execute("UPDATE hot SET n = n + 1 WHERE id = %s", (i % HOT_ROWS + 1,))


# --------------------------------------------------------------------------
# /status.json, /status.txt, pgdual status


def test_status_json_and_text_follow_the_traffic(env, operator_proxy, direct_conn):
    proxy, setup = operator_proxy
    on_both(direct_conn, proxy.database, *setup)
    write_through(proxy, env, proxy.database, 7)

    status = status_json(proxy)
    assert status["migration"]["phase"] == "dual_write"
    assert status["migration"]["strategy"] == "sync"
    assert status["migration"]["primary"] == "old" and status["migration"]["secondary"] == "new"
    assert status["stores"]["old_up"] and status["stores"]["new_up"]
    assert status["stores"]["writes_ok_old"] >= 7
    assert status["stores"]["writes_ok_new"] >= 7
    tables = {t["table"]: t for t in status["tables"]}
    assert tables["public.hot"]["phase"] == "shadow_read"
    assert tables[MARKUP_NAME]["phase"] == "dual_write"
    scopes = {(p["scope"], p["name"]): p["phase"] for p in status["migration"]["phases"]}
    assert scopes[("default", "")] == "dual_write"
    assert scopes[("table", "public.hot")] == "shadow_read"

    # The status watch measures the gate for the databases this instance served, and reads the
    # fleet: this instance shows up live within a few looks.
    def this_instance_live():
        s = status_json(proxy)
        mine = [i for i in s["instances"] if i["this_instance"]]
        return s if mine and mine[0]["state"] == "live" else None
    status = wait_for(this_instance_live, 20, what="this instance live in /status.json")
    assert status["cutover"]["measured"]
    assert proxy.database in status["cutover"]["databases"]
    criteria = {(c["criterion"], c["database"]) for c in status["cutover"]["checklist"]}
    assert ("shadow_match_rate", "") in criteria
    assert ("backfill", proxy.database) in criteria
    # Too few compared reads for the gate: it fails, and says why.
    assert status["cutover"]["ready"] is False
    match_rate = [c for c in status["cutover"]["checklist"] if c["criterion"] == "shadow_match_rate"]
    assert not match_rate[0]["ok"] and "not measured" in match_rate[0]["measured"]

    # The same verdict as metrics, for dashboards and alerts.
    assert metric(proxy, "pgdual_cutover_ready") == 0
    for item in status["cutover"]["checklist"]:
        labels = {"criterion": item["criterion"], "database": item["database"]}
        assert metric(proxy, "pgdual_cutover_criterion_ok", labels) == int(item["ok"]), item
    assert any(item["ok"] for item in status["cutover"]["checklist"])

    code, text = proxy.get("/status.txt")
    assert code == 200
    assert "phase dual_write" in text and "public.hot" in text and "CUTOVER  NOT READY" in text
    assert "(this)" in text


def test_status_page_headers_and_unknown_paths(operator_proxy):
    proxy, _ = operator_proxy
    url = f"http://{proxy.host}:{proxy.admin_port}"
    with urllib.request.urlopen(url + "/status", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
    with urllib.request.urlopen(url + "/status.json", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
    assert proxy.get("/status.html")[0] == 404
    request = urllib.request.Request(url + "/status.json", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_pgdual_status_cli(env, operator_proxy, direct_conn, run):
    proxy, setup = operator_proxy
    on_both(direct_conn, proxy.database, *setup)
    write_through(proxy, env, proxy.database, 2)

    # --config reads the whole file, so the secrets it names must be there, as for `pgdual run`.
    secrets_env = {"OPS_PASSWORD": proxy.ops_password}
    table = run([env.pgdual_bin, "status", "--config", str(proxy.config_path)], timeout=30,
                env=secrets_env)
    assert table.returncode == 0
    assert "phase dual_write  strategy sync  primary old  secondary new" in table.stdout
    assert re.search(r"^public\.hot\s+shadow_read", table.stdout, re.M), table.stdout

    as_json = run([env.pgdual_bin, "status", "--admin", f"{proxy.host}:{proxy.admin_port}",
                   "--json"], timeout=30)
    parsed = json.loads(as_json.stdout)
    assert parsed["migration"]["phase"] == "dual_write"
    assert parsed["stores"]["writes_ok_old"] >= 2

    watched = run([env.pgdual_bin, "status", "--config", str(proxy.config_path), "--watch",
                   "--interval", "0.2", "--count", "3"], timeout=30, env=secrets_env)
    assert watched.returncode == 0
    assert watched.stdout.count("phase dual_write") == 3

    closed = run([env.pgdual_bin, "status", "--admin", f"127.0.0.1:{free_port()}"], timeout=30,
                 check=False)
    assert closed.returncode == 1
    assert "cannot read http://127.0.0.1:" in closed.stderr

    bad = run([env.pgdual_bin, "status", "--interval", "0"], timeout=30, check=False)
    assert bad.returncode == 2 and "--interval" in bad.stderr


# --------------------------------------------------------------------------
# The page in headless Chromium


class _Dom(HTMLParser):
    """Element ids and data-table rows of a dumped DOM, and every tag seen."""

    def __init__(self):
        super().__init__()
        self.text_by_id: dict[str, str] = {}
        self.table_rows: dict[str, list[str]] = {}
        self.tags: list[str] = []
        self._open_id: list[str | None] = []
        self._row: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "data-table" in attrs:
            self._row = attrs["data-table"]
            self.table_rows[self._row] = []
        self._open_id.append(attrs.get("id"))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        if self._open_id:
            self._open_id.pop()

    def handle_data(self, data):
        for element_id in self._open_id:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data
        if self._row is not None and data.strip():
            self.table_rows[self._row].append(data.strip())


def chromium(run, tmp_path, *args) -> subprocess.CompletedProcess:
    # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    return run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000",
                *args], timeout=90, check=False)


def png_colours(path) -> int:
    """The number of distinct pixel colours of an 8-bit RGB(A) PNG (enough to tell a rendered
    page from a blank one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack("!IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    assert depth == 8 and colour_type in (2, 6), header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    colours, previous = set(), bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):  # PNG filters (RFC 2083 6.)
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else
                                      up if pb <= pc else up_left)) & 255
        if y % 4 == 0:  # every fourth row is plenty to count colours
            for x in range(0, stride, channels * 2):
                colours.add(bytes(line[x:x + 3]))
        previous = line
    return len(colours)


def test_status_page_in_headless_chromium(env, operator_proxy, direct_conn, run, tmp_path):
    proxy, setup = operator_proxy
    on_both(direct_conn, proxy.database, *setup)
    write_through(proxy, env, proxy.database, 3)
    wait_for(lambda: status_json(proxy)["cutover"]["measured"], 20, what="a first look")
    url = f"http://{proxy.host}:{proxy.admin_port}/status"

    dumped = chromium(run, tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)
    # The script ran and filled the page from /status.json.
    assert 'data-loaded="true"' in dumped.stdout
    assert dom.text_by_id.get("phase") == "dual_write"
    assert dom.text_by_id.get("strategy") == "sync"
    assert dom.text_by_id.get("primary") == "old"
    assert dom.text_by_id.get("instance") == status_json(proxy)["instance"]
    assert dom.table_rows["public.hot"][:2] == ["public.hot", "shadow_read"]
    assert "backfill" in dom.text_by_id.get("checklist", "")
    assert "NOT READY" in dom.text_by_id.get("cutover-verdict", "")
    assert "error" not in dom.text_by_id or not dom.text_by_id["error"].strip()
    # The name with markup is text in its cell, and no element came of it.
    assert dom.table_rows[MARKUP_NAME][0] == MARKUP_NAME
    assert "img" not in dom.tags

    shot = tmp_path / "status.png"
    taken = chromium(run, tmp_path, f"--screenshot={shot}", "--window-size=1280,900", url)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    # A rendered page: text, table rules and the coloured verdicts, not a blank canvas.
    assert png_colours(shot) >= 8


# --------------------------------------------------------------------------
# The admin console


def psql(run, proxy, password: str, command: str, user: str = "ops", check: bool = True):
    return run(["psql", "-X", "-h", proxy.host, "-p", str(proxy.port), "-U", user, "-d", "pgdual",
                "-v", "ON_ERROR_STOP=1", "-c", command], timeout=30, check=check,
               env={"PGPASSWORD": password})


def test_admin_console_with_psql(env, operator_proxy, run):
    proxy, _ = operator_proxy
    password = proxy.ops_password
    phases = psql(run, proxy, password, "SHOW PHASES")
    lines = phases.stdout.splitlines()
    assert re.match(r"\s*scope\s+\|\s+name\s+\|\s+phase\s+\|\s+primary\s+\|\s+secondary", lines[0])
    assert re.search(r"default\s+\|\s+\|\s+dual_write\s+\|\s+old\s+\|\s+new", phases.stdout)
    assert re.search(r"table\s+\|\s+public\.hot\s+\|\s+shadow_read", phases.stdout)
    assert "(3 rows)" in phases.stdout

    for command in ("SHOW STATS", "show journal;", "SHOW BACKFILL", "SHOW RECONCILE",
                    "SHOW INSTANCES", "SHOW CUTOVER", "SHOW HELP"):
        assert psql(run, proxy, password, command).returncode == 0, command
    config = psql(run, proxy, password, "SHOW CONFIG").stdout
    assert re.search(r"admin\.users\s+\|\s+ops\s+\|\s+reload", config)
    assert re.search(r"listen\s+\|\s+127\.0\.0\.1:\d+\s+\|\s+restart", config)
    assert re.search(r"backends\.old\.password\s+\|\s+\(set\)", config)
    assert env.password not in config and password not in config

    unknown = psql(run, proxy, password, "SHOW NOTHING", check=False)
    assert unknown.returncode != 0 and "SHOW NOTHING: no such object" in unknown.stderr

    # Everyone else is refused, with or without the right password.
    refused = psql(run, proxy, env.password, "SHOW STATS", user=env.user, check=False)
    assert refused.returncode != 0
    assert f'user "{env.user}" may not use the admin console' in refused.stderr
    wrong = psql(run, proxy, "not-the-password", "SHOW STATS", check=False)
    assert wrong.returncode != 0 and "authentication failed" in wrong.stderr.lower()


def test_admin_console_with_psycopg(env, operator_proxy):
    proxy, _ = operator_proxy
    with console(proxy, proxy.ops_password) as conn:
        rows = dict(conn.execute("SHOW STATS").fetchall())
        assert rows["phase"] == "dual_write" and rows["old_up"] == "yes"
        assert rows["instance"] == status_json(proxy)["instance"]
        cursor = conn.execute("SHOW CONFIG")
        assert [c.name for c in cursor.description] == ["key", "value", "changes"]
        with pytest.raises(errors.UndefinedObject):
            conn.execute("SHOW NOTHING")
        with pytest.raises(errors.SyntaxError):
            conn.execute("SELECT 1")
        with pytest.raises(errors.SyntaxError):
            conn.execute("SHOW STATS; SHOW PHASES")
        # The extended protocol (a prepared statement) is refused per batch, and the session
        # goes on.
        with pytest.raises(errors.FeatureNotSupported):
            conn.execute("SHOW STATS", prepare=True)
        assert conn.execute("SHOW PHASES").fetchall()[0][0] == "default"
    with pytest.raises(psycopg.OperationalError, match="may not use the admin console"):
        psycopg.connect(proxy.dsn("pgdual"), autocommit=True)


def test_console_reload_applies_a_good_file_and_refuses_a_bad_one(operator_proxy):
    proxy, _ = operator_proxy
    with console(proxy, proxy.ops_password) as conn:
        proxy.update_config(migration={"tables": {"public.hot": {"phase": "backfill"}}})
        conn.execute("RELOAD")
        phases = {(r[0], r[1]): r[2] for r in conn.execute("SHOW PHASES").fetchall()}
        assert phases[("table", "public.hot")] == "backfill"

        proxy.update_config(migration={"phase": "no_such_phase"})
        with pytest.raises(errors.ConfigFileError) as refused:
            conn.execute("RELOAD")
        assert "migration.phase" in str(refused.value)
        phases = {(r[0], r[1]): r[2] for r in conn.execute("SHOW PHASES").fetchall()}
        assert phases[("default", "")] == "dual_write"
        assert phases[("table", "public.hot")] == "backfill"


def test_pause_holds_16_pgbench_clients_on_hot_rows_until_resume(env, operator_proxy,
                                                                  direct_conn, tmp_path):
    proxy, setup = operator_proxy
    dbname = proxy.database
    on_both(direct_conn, dbname, *setup)
    script = tmp_path / "hot.sql"
    script.write_text(f"\\set id random(1, {HOT_ROWS})\n"
                      "BEGIN;\n"
                      "UPDATE hot SET n = n + 1 WHERE id = :id;\n"
                      "COMMIT;\n")
    bench = start_process(pgbench_cmd(proxy, env, dbname, "-n", "-c", "16", "-j", "2", "-T", "10",
                                      "-f", str(script)),
                          {"PGPASSWORD": env.password})
    total = lambda which: scalar(direct_conn, which, dbname, "SELECT sum(n) FROM hot")  # noqa: E731
    try:
        wait_for(lambda: total("old") > 50, 15, what="pgbench writing through pgdual")
        with console(proxy, proxy.ops_password) as conn:
            started = time.monotonic()
            conn.execute("PAUSE")
            paused_in = time.monotonic() - started
            assert metric(proxy, "pgdual_admin_paused") == 1
            assert dict(conn.execute("SHOW STATS").fetchall())["paused"] == "admin"
            # Paused: every transaction in flight has ended, none starts. Nothing moves on either
            # store, and no session sits inside a transaction.
            held = (total("old"), total("new"))
            time.sleep(1.0)
            assert (total("old"), total("new")) == held
            assert held[0] == held[1]
            in_transaction = scalar(direct_conn, "old", dbname,
                                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND state LIKE 'idle in transaction%' "
                                    "AND pid <> pg_backend_pid()")
            assert in_transaction == 0
            conn.execute("RESUME")
            assert metric(proxy, "pgdual_admin_paused") == 0
        wait_for(lambda: total("old") > held[0], 10, what="writes after RESUME")
        code, out, err = finish_process(bench, 60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert code == 0, err
    processed, failed = pgbench_summary(out)
    assert failed == 0
    # Each transaction added exactly 1: nothing lost or doubled across the pause, on either store.
    assert total("old") == processed == total("new")
    rows = query(direct_conn, "old", dbname, "SELECT id, n FROM hot ORDER BY id")
    assert rows == query(direct_conn, "new", dbname, "SELECT id, n FROM hot ORDER BY id")
    assert paused_in < 10


def test_pause_gives_up_while_a_transaction_stays_open(env, proxy_only, proxy_factory, fresh_db,
                                                       direct_conn, ops_password):
    proxy = proxy_factory(
        {"auth": {"method": "scram-sha-256",
                  "users": [{"name": env.user, "password": "${PGDUAL_TEST_PASSWORD}"},
                            {"name": "ops", "password": "${OPS_PASSWORD}"}]},
         "admin": {"users": ["ops"], "pause_timeout_ms": 2000},
         "migration": {"phase": "dual_write"}},
        extra_env={"OPS_PASSWORD": ops_password})
    on_both(direct_conn, fresh_db, "CREATE TABLE t (id int PRIMARY KEY, v int)",
            "INSERT INTO t VALUES (1, 0)")
    with proxy.connect(fresh_db, autocommit=False) as open_transaction:
        open_transaction.execute("UPDATE t SET v = 1 WHERE id = 1")
        # A PAUSE waiting for that transaction; a second one is refused, and a RESUME ends the
        # wait: the first PAUSE then reports that nothing is paused.
        outcome = {}

        def pause_in_background():
            with console(proxy, ops_password) as conn:
                try:
                    conn.execute("PAUSE")
                    outcome["result"] = "paused"
                except psycopg.Error as e:
                    outcome["result"] = f"{e.sqlstate} {e}"
        waiting = threading.Thread(target=pause_in_background)
        waiting.start()
        wait_for(lambda: metric(proxy, "pgdual_admin_paused") == 1, 10, what="PAUSE waiting")
        with console(proxy, ops_password) as conn:
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="another PAUSE"):
                conn.execute("PAUSE")
            conn.execute("RESUME")
        waiting.join(10)
        assert outcome["result"].startswith("55000 a RESUME arrived"), outcome
        assert metric(proxy, "pgdual_admin_paused") == 0

        # Alone, it gives up after admin.pause_timeout_ms and undoes the pause.
        with console(proxy, ops_password) as conn:
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="PAUSE gave up"):
                conn.execute("PAUSE")
            assert metric(proxy, "pgdual_admin_paused") == 0
            with pytest.raises(errors.ObjectNotInPrerequisiteState, match="not paused"):
                conn.execute("RESUME")
        open_transaction.commit()
    # Nothing stayed paused: a new transaction goes through at once.
    with proxy.connect(fresh_db) as conn:
        conn.execute("UPDATE t SET v = 2 WHERE id = 1")
    assert scalar(direct_conn, "new", fresh_db, "SELECT v FROM t") == 2


def test_console_session_ends_at_once_on_shutdown(operator_proxy):
    proxy, _ = operator_proxy
    conn = console(proxy, proxy.ops_password)
    started = time.monotonic()
    code = proxy.stop()
    # Not held for limits.drain_timeout_ms (5 s in the tests' config): an idle console is closed.
    assert time.monotonic() - started < 4
    assert code == 0
    assert "drain timeout" not in proxy.log_text()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SHOW STATS")
    conn.close()


NODE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "node")
NODE_CONSOLE = """
const { Client } = require('pg');
const client = new Client({host: process.env.H, port: Number(process.env.P), database: 'pgdual',
                           user: 'ops', password: process.env.W, connectionTimeoutMillis: 10000});
(async () => {
  await client.connect();
  const phases = await client.query('SHOW PHASES');
  console.log(JSON.stringify({fields: phases.fields.map(f => f.name), rows: phases.rows}));
  try { await client.query('SHOW NOTHING'); console.log('no error'); }
  catch (e) { console.log('SQLSTATE ' + e.code); }
  await client.end();
})().catch(e => { console.log('FAILED ' + e.message); process.exit(1); });
"""


def test_admin_console_with_node_postgres_and_pgjdbc(operator_proxy, run):
    proxy, _ = operator_proxy
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")):
        run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock",
             "--loglevel=error"], timeout=600, cwd=NODE_DIR)
    node = run(["node", "-e", NODE_CONSOLE], timeout=60, cwd=NODE_DIR,
               env={"H": proxy.host, "P": proxy.port, "W": proxy.ops_password})
    lines = node.stdout.splitlines()
    result = json.loads(lines[0])
    assert result["fields"] == ["scope", "name", "phase", "primary", "secondary"]
    assert result["rows"][0] == {"scope": "default", "name": "", "phase": "dual_write",
                                 "primary": "old", "secondary": "new"}
    assert lines[1] == "SQLSTATE 42704"

    source = os.path.join(os.path.dirname(os.path.dirname(__file__)), "clients",
                          "ConsoleCheck.java")
    url = (f"jdbc:postgresql://{proxy.host}:{proxy.port}/pgdual"
           "?sslmode=disable&preferQueryMode=simple&connectTimeout=10&socketTimeout=60")
    java = run(["java", "-cp", "/usr/share/java/postgresql.jar", source, url, "ops",
                proxy.ops_password], timeout=180)
    assert "ROW default  dual_write old new" in java.stdout, java.stdout
    assert "ROW table public.hot shadow_read null null" in java.stdout, java.stdout
    assert "SQLSTATE 42704" in java.stdout
    assert "STATS instance" in java.stdout
