"""The journal gate is per database (journal/gate.hpp, issue 12). A connection to a database
that does not exist (pg_isready's default "root", a typo) used to open the gate of the whole
instance for good: every later write of every session was journaled, the client's COMMIT
returned before the new store had it, and shadow reads stopped. Now only a database the primary
accepted is noted for the journal, a database missing on the primary is forgotten, and a
database that cannot be counted keeps only its own gate open.

Each check of where data landed queries the servers directly."""

from __future__ import annotations

import subprocess
import time

from dual_write_helpers import (finish_process, journal_count, journal_migration, metric_sum,
                                needs_proxy, on_both, pgbench_cmd, pgbench_summary, scalar,
                                start_process, table_digest, tool, wait_for,
                                wait_sessions_settled)

pytestmark = needs_proxy

SECONDS_PER_MODE = 4
SCRIPT = """\\set id random(1, 20)
UPDATE gate_hot SET v = v + 1, last_client = :client_id WHERE id = :id;
INSERT INTO gate_log (client, id) VALUES (:client_id, :id);
"""


def probe_missing_databases(env, proxy) -> None:
    """What a readiness probe and a typo do: connect to databases that do not exist."""
    probe = subprocess.run([tool("pg_isready"), "-h", proxy.host, "-p", str(proxy.port),
                            "-U", env.user], capture_output=True, text=True, timeout=30,
                           env={"PGPASSWORD": env.password, "PATH": "/usr/bin:/bin"})
    # pg_isready reports "accepting connections" even when the database is refused.
    assert probe.returncode == 0, probe.stdout + probe.stderr
    typo = subprocess.run([tool("psql"), "-h", proxy.host, "-p", str(proxy.port), "-U", env.user,
                           "-d", "no_such_database_x", "-c", "SELECT 1"],
                          capture_output=True, text=True, timeout=30,
                          env={"PGPASSWORD": env.password, "PATH": "/usr/bin:/bin"})
    assert typo.returncode != 0
    assert 'database "no_such_database_x" does not exist' in typo.stderr, typo.stderr


def test_missing_database_probe_leaves_sync_direct(env, proxy_factory, fresh_db, direct_conn,
                                                   tmp_path):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE gate_hot (id int PRIMARY KEY, v bigint NOT NULL, last_client int)",
            "INSERT INTO gate_hot SELECT g, 0, NULL FROM generate_series(1, 20) g",
            "CREATE TABLE gate_log (n bigserial PRIMARY KEY, client int, id int)",
            "CREATE TABLE gate_probe (id int PRIMARY KEY)")
    proxy = proxy_factory(journal_migration("dual_write", strategy="sync"))
    probe_missing_databases(env, proxy)

    # The relay has counted the real database once a session used it; the gate then closes.
    with proxy.connect(fresh_db) as conn:
        conn.execute("SELECT 1")
    wait_for(lambda: metric_sum(proxy, "pgdual_journal_gate_active") == 0, 15,
             "every journal gate closed after the probes")
    assert metric_sum(proxy, "pgdual_journal_gate_active", database="root") == 0

    # Sync's promise: once COMMIT is answered, the new store has the write.
    with proxy.connect(fresh_db) as conn, direct_conn("new", fresh_db) as new:
        for i in range(1, 51):
            conn.execute("INSERT INTO gate_probe VALUES (%s)", (i,))
            found = new.execute("SELECT count(*) FROM gate_probe WHERE id = %s", (i,)).fetchone()
            assert found[0] == 1, f"row {i} was not on the new store when its COMMIT returned"

    # 16 clients on 20 hot rows in each protocol mode, with a probe of a missing database
    # during each run: nothing is journaled, and the stores end identical.
    script = tmp_path / "gate.sql"
    script.write_text(SCRIPT)
    for mode in ("simple", "extended", "prepared"):
        process = start_process(
            pgbench_cmd(proxy, env, fresh_db, "-n", "-c", "16", "-j", "2",
                        "-T", str(SECONDS_PER_MODE), "-M", mode, "-f", str(script)),
            {"PGPASSWORD": env.password})
        time.sleep(1)
        probe_missing_databases(env, proxy)
        code, out, err = finish_process(process, timeout=SECONDS_PER_MODE + 60)
        assert code == 0, f"pgbench -M {mode} failed:\n{out}\n{err}\n{proxy.log_tail()}"
        processed, failed = pgbench_summary(out)
        assert processed > 0 and failed == 0, out
        wait_sessions_settled(proxy, timeout=30)
        for table, order in (("gate_hot", "id"), ("gate_log", "n")):
            old = table_digest(direct_conn, "old", fresh_db, table, order)
            new = table_digest(direct_conn, "new", fresh_db, table, order)
            assert old == new, f"after -M {mode} {table} differs: {old} {new}\n{proxy.log_tail()}"
    assert metric_sum(proxy, "pgdual_journal_appends_total") == 0
    assert journal_count(direct_conn, "old", fresh_db) == 0
    assert scalar(direct_conn, "old", fresh_db, "SELECT count(*) FROM gate_log") > 0
    assert "queued behind the journal" not in proxy.log_tail(2000)
