"""Helpers shared by the dual-write integration tests (test_dual_write_*.py).

The tests check where writes land by querying each PostgreSQL server
directly, never through pgdual: "old" and "new" are the two stores of the
migration, and the proxy decides, per phase, which one is primary.
"""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import metric_value, wait_for

STORES = ("old", "new")

# Where the spec's phase table sends reads, and which stores receive writes
# (docs/configuration.md, "Phases"). "cutover_no_keep" is cutover with
# migration.keep_old_in_sync: false.
PHASES = ("prepare", "dual_write", "backfill", "shadow_read", "cutover", "cleanup")
READ_STORE = {"prepare": "old", "dual_write": "old", "backfill": "old", "shadow_read": "old",
              "cutover": "new", "cutover_no_keep": "new", "cleanup": "new"}
WRITE_STORES = {"prepare": {"old"}, "dual_write": {"old", "new"}, "backfill": {"old", "new"},
                "shadow_read": {"old", "new"}, "cutover": {"old", "new"},
                "cutover_no_keep": {"new"}, "cleanup": {"new"}}


def migration(phase: str = "dual_write", **settings) -> dict:
    """Config overrides for the migration section. `phase` may be
    "cutover_no_keep" (cutover with keep_old_in_sync: false); a global
    cleanup gets the confirmation it requires (overrides that use cleanup
    must pass confirm_cleanup=True themselves)."""
    section = dict(settings)
    if phase == "cutover_no_keep":
        section.update(phase="cutover", keep_old_in_sync=False)
    else:
        section["phase"] = phase
    if phase == "cleanup":
        section.setdefault("confirm_cleanup", True)
    return {"migration": section}


def on_both(direct_conn, dbname: str, *statements: str) -> None:
    """Runs the statements directly on both servers (schema set-up)."""
    for which in STORES:
        with direct_conn(which, dbname) as conn:
            for sql in statements:
                conn.execute(sql)


def on_store(direct_conn, which: str, dbname: str, *statements: str) -> None:
    with direct_conn(which, dbname) as conn:
        for sql in statements:
            conn.execute(sql)


def query(direct_conn, which: str, dbname: str, sql: str, params=None) -> list[tuple]:
    """All rows of a query run directly on one server."""
    with direct_conn(which, dbname) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def scalar(direct_conn, which: str, dbname: str, sql: str, params=None):
    rows = query(direct_conn, which, dbname, sql, params)
    return rows[0][0] if rows else None


def table_rows(direct_conn, dbname: str, table: str, order: str = "1") -> dict[str, list[tuple]]:
    """{store: sorted rows of the table} for both stores; None for a store
    where the table does not exist."""
    out = {}
    for which in STORES:
        try:
            out[which] = query(direct_conn, which, dbname, f"SELECT * FROM {table} ORDER BY {order}")
        except psycopg.errors.UndefinedTable:
            out[which] = None
    return out


def table_exists(direct_conn, which: str, dbname: str, table: str) -> bool:
    return scalar(direct_conn, which, dbname, "SELECT to_regclass(%s) IS NOT NULL", (table,))


def table_digest(direct_conn, which: str, dbname: str, table: str, order: str) -> tuple:
    """(row count, md5 of every row's text in a fixed order) of a table."""
    return tuple(query(direct_conn, which, dbname,
                       f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY {order}), '')) "
                       f"FROM {table} t")[0])





def metric(proxy, name: str, labels: dict | None = None) -> float:
    """A sample's value from /metrics, 0 when absent."""
    value = metric_value(proxy.metrics(), name, labels)
    return 0.0 if value is None else value


def metric_samples(proxy, name: str) -> list[tuple[dict, float]]:
    """Every sample of one metric: [(labels, value)]."""
    out = []
    for line in proxy.metrics().splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not match or match.group(1) != name:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 match.group(3) or ""))
        out.append((labels, float(match.group(4))))
    return out


def reload_count(proxy) -> float:
    return metric(proxy, "pgdual_config_reloads_total", {"result": "ok"})


def change_config(proxy, timeout: float = 10.0, **overrides) -> None:
    """Rewrites the config, sends SIGHUP and waits until pgdual reports a
    successful reload (the file watcher may reload it first; either counts)."""
    before = reload_count(proxy)
    proxy.update_config(**overrides)
    proxy.reload()
    wait_for(lambda: reload_count(proxy) > before, timeout, what="a successful config reload")
    # The watcher and SIGHUP may both fire: let the second one land too, so
    # that it cannot fall into the middle of what the test does next.
    time.sleep(0.3)


def tool(name: str) -> str:
    """A PostgreSQL client program, bypassing Debian's pg_wrapper (a Perl
    script that costs most of a second per call on a busy machine)."""
    import os
    path = f"/usr/lib/postgresql/15/bin/{name}"
    return path if os.access(path, os.X_OK) else name


def direct_target(env, which: str):
    """A pgbench_cmd target that is one server itself ("old" or "new"), not pgdual."""
    class Target:
        host = env.host
        port = env.port(which)
    return Target


def pgbench_cmd(target, env, dbname: str, *args) -> list[str]:
    return [tool("pgbench"), "-h", target.host, "-p", str(target.port), "-U", env.user, *args, dbname]


def pgbench_summary(output: str) -> tuple[int, int]:
    """(transactions processed, failed transactions) from pgbench's report."""
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert processed and failed, output
    return int(processed.group(1)), int(failed.group(1))


def start_process(cmd: list, env_vars: dict | None = None) -> subprocess.Popen:
    """A client program in the background; finish it with finish_process."""
    import os
    full_env = os.environ.copy()
    full_env.update({k: str(v) for k, v in (env_vars or {}).items()})
    return subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


def finish_process(process: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """Waits (bounded) for a background client: (exit code, stdout, stderr)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        pytest.fail(f"{process.args[0]} did not finish within {timeout}s\n{out}\n{err}")
    return process.returncode, out, err


# Dual-write needs two stores: with PGDUAL_TARGET=direct there is only one.
needs_proxy = pytest.mark.skipif(__import__("os").environ.get("PGDUAL_TARGET") == "direct",
                                 reason="dual-write tests need pgdual between two stores")


SYNC = object()  # in pipeline_batch's statements: a Sync between batches


def pipeline_batch(dsn: str, statements: list, timeout: float = 20.0,
                   wait_each_sync: bool = False,
                   write_each: float | None = None) -> list[tuple[str, str | None]]:
    """Sends the statements with libpq's pipeline mode: Parse/Bind/Describe/
    Execute per statement, a Sync wherever SYNC appears and one at the end,
    on a fresh connection. Everything is written at once, or with
    wait_each_sync each batch only after the previous one's answers came
    back (as psycopg's pipeline does after a BEGIN). With write_each=SECONDS
    every message group is written by itself, that long after the previous
    one (psycopg writes each statement as it is executed). Returns, per statement,
    (result status name, SQLSTATE or None). Every wait is bounded."""
    import select

    from psycopg import pq

    batches: list[list] = [[]]
    for item in statements:
        if item is SYNC:
            batches.append([])
        else:
            batches[-1].append((item, ()) if isinstance(item, str) else item)
    if not wait_each_sync:
        batches = [sum(([*b, SYNC] for b in batches[:-1]), []) + batches[-1]]

    pg = pq.PGconn.connect(dsn.encode())
    deadline = time.monotonic() + timeout

    def wait(read: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"pipelined batch got no complete answer within {timeout}s")
        select.select([pg.socket] if read else [], [] if read else [pg.socket], [], remaining)

    results: list[tuple[str, str | None]] = []
    try:
        assert pg.status == pq.ConnStatus.OK, pg.error_message
        pg.nonblocking = 1
        pg.enter_pipeline_mode()
        for batch in batches:
            syncs = 1
            for item in batch:
                if item is SYNC:
                    pg.pipeline_sync()
                    syncs += 1
                    continue
                sql, params = item
                pg.send_query_params(sql.encode(), [str(p).encode() for p in params] or None)
                if write_each is not None:
                    while pg.flush() != 0:
                        wait(read=False)
                    time.sleep(write_each)
            pg.pipeline_sync()
            while pg.flush() != 0:
                wait(read=False)
            while syncs:
                while pg.is_busy():
                    wait(read=True)
                    pg.consume_input()
                result = pg.get_result()
                if result is None:
                    continue  # end of one statement's results
                status = pq.ExecStatus(result.status)
                if status == pq.ExecStatus.PIPELINE_SYNC:
                    syncs -= 1
                    continue
                sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
                results.append((status.name, sqlstate.decode() if sqlstate else None))
        pg.exit_pipeline_mode()
        return results
    finally:
        pg.finish()


# --------------------------------------------------------------------------
# The replay journal, the outbox and rollback (test_journal.py,
# test_outbox.py, test_rollback.py; docs/journal.md)

JOURNAL_SCHEMA = "pgdual"
# Short intervals so that the relay reacts within a test's patience.
FAST_JOURNAL = {"poll_interval_ms": 100, "retry_base_ms": 50, "retry_max_ms": 500}


def journal_migration(phase: str = "dual_write", strategy: str = "sync",
                      on_secondary_failure: str = "continue", **journal) -> dict:
    """migration(...) overrides with migration.journal set to FAST_JOURNAL
    updated by `journal` (any key of migration.journal)."""
    settings = dict(FAST_JOURNAL)
    settings.update(journal)
    return migration(phase, strategy=strategy, on_secondary_failure=on_secondary_failure,
                     journal=settings)


def metric_sum(proxy, name: str, **labels) -> float:
    """The sum of every sample of a metric whose labels include `labels`
    (0 when there is none): the journal's gauges may carry a database label."""
    return sum(value for found, value in metric_samples(proxy, name)
               if all(found.get(k) == str(v) for k, v in labels.items()))


def journal_count(direct_conn, which: str, dbname: str, table: str = "journal",
                  schema: str = JOURNAL_SCHEMA) -> int:
    """Rows of <schema>.<table> (journal, dead_letter) on one store, read
    directly; 0 while the table does not exist yet (it is created lazily)."""
    with direct_conn(which, dbname) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                              (f"{schema}.{table}",)).fetchone()[0]
        if not exists:
            return 0
        return conn.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]


def wait_sessions_settled(proxy, timeout: float) -> None:
    """Waits until pgdual has no client session left and its journal gate is closed. A client
    that exits (pgbench at the end of -T) does not wait for pgdual: its session may still be
    finishing its last transaction on the secondary, or journaling it, after the client is
    gone. Compare the stores only after this."""
    state = {}

    def settled() -> bool:
        state["sessions"] = metric_sum(proxy, "pgdual_client_connections")
        state["gate"] = metric_sum(proxy, "pgdual_journal_gate_active")
        return state["sessions"] == 0 and state["gate"] == 0

    deadline = time.monotonic() + timeout
    while not settled():
        if time.monotonic() > deadline:
            pytest.fail(f"pgdual's sessions did not settle within {timeout}s ({state})\n"
                        + proxy.log_tail())
        time.sleep(0.2)


def wait_journal_drained(proxy, direct_conn, primary: str, dbname: str, timeout: float,
                         table_store: bool = True, schema: str = JOURNAL_SCHEMA) -> None:
    """Waits until pgdual_journal_depth_records is 0 and, for the table
    store, <schema>.journal on the primary is empty."""
    state = {}

    def drained() -> bool:
        state["metric"] = metric_sum(proxy, "pgdual_journal_depth_records")
        if table_store:
            state["rows"] = journal_count(direct_conn, primary, dbname, schema=schema)
        return state["metric"] == 0 and state.get("rows", 0) == 0

    deadline = time.monotonic() + timeout
    while not drained():
        if time.monotonic() > deadline:
            pytest.fail(f"the journal did not drain within {timeout}s (depth metric "
                        f"{state.get('metric')}, rows on {primary}: {state.get('rows')})\n"
                        + proxy.log_tail())
        time.sleep(0.2)


def applied_marker_columns(direct_conn, which: str, dbname: str,
                           schema: str = JOURNAL_SCHEMA) -> list[str]:
    """The columns of <schema>.applied_transactions (the idempotency marker
    on the secondary), [] when the table does not exist."""
    return [r[0] for r in query(
        direct_conn, which, dbname,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'applied_transactions' "
        "ORDER BY ordinal_position", (schema,))]


def applied_marker_insert(columns: list[str], instance: str, journal_id: int,
                          schema: str = JOURNAL_SCHEMA) -> tuple[str, tuple]:
    """The INSERT of the marker of journal entry `journal_id` of `instance`,
    for either layout: key text = '<instance>:<id>', or (instance, journal_id)."""
    if "key" in columns:
        return (f"INSERT INTO {schema}.applied_transactions (key) VALUES (%s)",
                (f"{instance}:{journal_id}",))
    if "instance" in columns and "journal_id" in columns:
        return (f"INSERT INTO {schema}.applied_transactions (instance, journal_id) "
                f"VALUES (%s, %s)", (instance, journal_id))
    pytest.fail(f"{schema}.applied_transactions has an unknown layout: {columns}")


class PgServers:
    """Stops and starts the test's PostgreSQL servers ("old", "new") with
    pg_ctl, as the user that owns the data directory (found with SHOW
    data_directory while the server is up; scripts/lib/pg_cluster.sh keeps
    server.log next to it). Whatever is stopped is started again at the end
    of the test (fixture pg_servers)."""

    def __init__(self, env):
        self.env = env
        self._data: dict[str, str] = {}
        self.stopped: set[str] = set()

    def data_dir(self, which: str) -> str:
        if which not in self._data:
            with psycopg.connect(host=self.env.host, port=self.env.port(which),
                                 dbname="postgres", user=self.env.user,
                                 password=self.env.password, autocommit=True,
                                 connect_timeout=10) as conn:
                self._data[which] = conn.execute("SHOW data_directory").fetchone()[0]
        return self._data[which]

    def _pg_ctl(self, which: str, *args: str, timeout: float) -> None:
        import os
        import pwd

        from conftest import run

        data = self.data_dir(which)
        owner_uid = os.stat(data).st_uid
        cmd = [tool("pg_ctl"), "-D", data, *args]
        if os.geteuid() != owner_uid:
            owner = pwd.getpwuid(owner_uid).pw_name
            cmd = (["runuser", "-u", owner, "--", *cmd] if os.geteuid() == 0
                   else ["sudo", "-n", "-u", owner, *cmd])
        run(cmd, timeout=timeout, cwd="/")

    def is_up(self, which: str) -> bool:
        try:
            with psycopg.connect(host=self.env.host, port=self.env.port(which),
                                 dbname="postgres", user=self.env.user,
                                 password=self.env.password, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self, which: str) -> None:
        """Fast shutdown (open sessions are ended), waiting until it is down."""
        self.data_dir(which)
        self.stopped.add(which)
        self._pg_ctl(which, "-m", "fast", "-w", "-t", "30", "stop", timeout=60)

    def start(self, which: str) -> None:
        import os
        log = os.path.join(os.path.dirname(self.data_dir(which).rstrip("/")), "server.log")
        self._pg_ctl(which, "-l", log, "-w", "-t", "60", "start", timeout=90)
        self.stopped.discard(which)
        wait_for(lambda: self.is_up(which), 30, what=f"the {which} server to accept connections")

    def restore(self) -> None:
        for which in sorted(self.stopped):
            self.start(which)


@pytest.fixture
def pg_servers(env, make_db):
    """A PgServers; every server it stopped is started again after the test,
    before the test's databases are dropped (hence make_db)."""
    servers = PgServers(env)
    yield servers
    servers.restore()


def pgdual_cli(env, *args: str, timeout: float = 60, check: bool = True):
    """Runs `pgdual ARGS...` (e.g. journal status --config FILE): the
    CompletedProcess, text output."""
    from conftest import run
    return run([env.pgdual_bin, *args], timeout=timeout, check=check)


def cli_count(output: str, word: str) -> int | None:
    """The number an operator command prints next to `word` ("pending",
    "dead"); None when absent."""
    for pattern in (rf"{word}[\w ]*?[:=]\s*(\d+)",  # "pending: 3", "dead letters = 0"
                    rf"{word}\w*\s+(\d+)",            # "pending 3", "dead_letter 0"
                    rf"(\d+)\s+{word}"):               # "3 pending", "0 dead letters"
        match = re.search(pattern, output, re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def reload_outcome(proxy, expect_ok: bool, timeout: float = 10.0, **overrides) -> str:
    """Rewrites the config, sends SIGHUP and waits until pgdual counts the
    reload as ok or failed; fails the test unless it was the expected one.
    Returns what the log gained meanwhile."""
    ok_before = metric(proxy, "pgdual_config_reloads_total", {"result": "ok"})
    failed_before = metric(proxy, "pgdual_config_reloads_total", {"result": "failed"})
    log_mark = len(proxy.log_text())
    proxy.update_config(**overrides)
    proxy.reload()
    outcome = {}

    def settled() -> bool:
        outcome["ok"] = metric(proxy, "pgdual_config_reloads_total", {"result": "ok"}) > ok_before
        outcome["failed"] = metric(proxy, "pgdual_config_reloads_total",
                                   {"result": "failed"}) > failed_before
        return outcome["ok"] or outcome["failed"]

    deadline = time.monotonic() + timeout
    while not settled():
        if time.monotonic() > deadline:
            pytest.fail(f"no reload was counted within {timeout}s\n" + proxy.log_tail())
        time.sleep(0.05)
    time.sleep(0.3)  # the watcher and SIGHUP may both fire: let the second land too
    settled()
    new_log = proxy.log_text()[log_mark:]
    if expect_ok:
        assert outcome["ok"] and not outcome["failed"], \
            f"the reload was refused, expected it accepted: {overrides}\n{new_log}"
    else:
        assert outcome["failed"] and not outcome["ok"], \
            f"the reload was accepted, expected it refused: {overrides}\n{new_log}"
    return new_log


class RowChurn(threading.Thread):
    """Through pgdual, on a table items (id int PRIMARY KEY, n int NOT NULL, note text):
    increments (not idempotent), deletes and re-inserts of random keys in 1..keys, until told to
    stop, so that they race whatever copy or comparison runs meanwhile. Counts what it did and
    keeps the errors it met."""

    def __init__(self, proxy, dbname: str, seed: int, keys: int, pause: float = 0.0,
                 updates_per_delete: int = 3):
        super().__init__(daemon=True)
        self.proxy, self.dbname, self.keys, self.pause = proxy, dbname, keys, pause
        self.actions = ("update",) * updates_per_delete + ("delete", "insert")
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.count = 0
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            with self.proxy.connect(self.dbname) as conn:
                while not self.stop.is_set():
                    key = self.random.randint(1, self.keys)
                    action = self.random.choice(self.actions)
                    if action == "update":
                        conn.execute("UPDATE items SET n = n + 1 WHERE id = %s", (key,))
                    elif action == "delete":
                        conn.execute("DELETE FROM items WHERE id = %s", (key,))
                    else:
                        conn.execute("INSERT INTO items VALUES (%s, 100, 'again') "
                                     "ON CONFLICT (id) DO UPDATE SET n = items.n + 1000", (key,))
                    self.count += 1
                    if self.pause:
                        time.sleep(self.pause)
        except psycopg.Error as error:
            self.errors.append(str(error))
