"""16 pgbench clients race on 5 hot rows through pgdual (dual_write, strategy sync), in
explicit transactions: a relative UPDATE, a last-writer column and an upsert on each row. The
primary's row locks order the conflicting transactions, and under sync a transaction's
secondary has caught up before its primary COMMIT releases them, so both stores end identical,
table by table.

Autocommit writes get the same guarantee (routing/sync_order.hpp, issue 12): pgdual runs each on
the primary inside its own BEGIN ... COMMIT and sends that COMMIT only once the secondary has
answered, so last-writer-wins UPDATEs, upserts and DELETEs of 16 clients on 20 hot rows end
identical in all three protocol modes."""

from __future__ import annotations

from dual_write_helpers import (finish_process, metric_sum, migration, needs_proxy, on_both,
                                pgbench_cmd, pgbench_summary, start_process, table_digest,
                                wait_sessions_settled)

pytestmark = needs_proxy

SECONDS_PER_MODE = 6
TABLES = {"hot": "id", "hot_log": "id"}
SCRIPT = """\\set id random(1, 5)
\\set delta random(-100, 100)
BEGIN;
UPDATE hot SET v = v + :delta, last_client = :client_id WHERE id = :id;
INSERT INTO hot_log (id, n, last_client) VALUES (:id, 1, :client_id)
  ON CONFLICT (id) DO UPDATE SET n = hot_log.n + 1, last_client = EXCLUDED.last_client;
END;
"""



def race_and_compare(env, proxy, direct_conn, dbname, script, mode: str, tables: dict):
    """16 pgbench clients run `script` in protocol `mode` through pgdual; then every table of
    `tables` ({name: order}) must be identical on both stores. Returns (transactions processed,
    {store: {table: digest}})."""
    process = start_process(
        pgbench_cmd(proxy, env, dbname, "-n", "-c", "16", "-j", "2",
                    "-T", str(SECONDS_PER_MODE), "-M", mode, "-f", str(script)),
        {"PGPASSWORD": env.password})
    code, out, err = finish_process(process, timeout=SECONDS_PER_MODE + 60)
    assert code == 0, f"pgbench -M {mode} failed:\n{out}\n{err}\n{proxy.log_tail()}"
    processed, failed = pgbench_summary(out)
    assert processed > 0 and failed == 0, out
    wait_sessions_settled(proxy, timeout=30)
    digests = {which: {t: table_digest(direct_conn, which, dbname, t, order)
                       for t, order in tables.items()} for which in ("old", "new")}
    mismatched = [t for t in tables if digests["old"][t] != digests["new"][t]]
    assert not mismatched, (f"after -M {mode} the stores differ in {mismatched}: {digests}\n"
                            + proxy.log_tail())
    return processed, digests

def test_16_clients_on_hot_rows_leave_both_stores_identical(env, proxy_factory, fresh_db,
                                                            direct_conn, tmp_path):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL, last_client int)",
            "INSERT INTO hot SELECT g, 0, NULL FROM generate_series(1, 5) g",
            "CREATE TABLE hot_log (id int PRIMARY KEY, n bigint NOT NULL, last_client int)")
    script = tmp_path / "hot_rows.sql"
    script.write_text(SCRIPT)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    for mode in ("simple", "prepared"):
        _, digests = race_and_compare(env, proxy, direct_conn, fresh_db, script, mode, TABLES)
        # The race really happened: every hot row was written, by more than one client.
        assert digests["old"]["hot_log"][0] == 5, digests


# Writes that conflict through row locks: last-writer UPDATEs, upserts, and DELETEs racing
# UPDATEs of the same rows by key. (A write whose WHERE reads a column another session is
# changing, or a row another session is inserting, sees the primary's snapshot: no lock orders
# it, and the secondary may see the other write already. Such a write is detected, not exact:
# its command tags differ and pgdual_write_divergence_total counts it; docs/dual-write.md.)
AUTOCOMMIT_SCRIPT = """\\set id random(1, 20)
\\set gone random(1, 3000)
\\set touched random(1, 3000)
UPDATE hot SET v = :client_id, last_client = :client_id WHERE id = :id;
INSERT INTO hot_log (id, n, last_client) VALUES (:id, 1, :client_id)
  ON CONFLICT (id) DO UPDATE SET n = hot_log.n + 1, last_client = EXCLUDED.last_client;
UPDATE hot_gone SET v = v + 1, last_client = :client_id WHERE id = :touched;
DELETE FROM hot_gone WHERE id = :gone;
"""
AUTOCOMMIT_TABLES = {**TABLES, "hot_gone": "id"}


def test_16_autocommit_clients_on_hot_rows_keep_the_primary_order(env, proxy_factory, fresh_db,
                                                                  direct_conn, tmp_path):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL, last_client int)",
            "INSERT INTO hot SELECT g, 0, NULL FROM generate_series(1, 20) g",
            "CREATE TABLE hot_log (id int PRIMARY KEY, n bigint NOT NULL, last_client int)",
            "CREATE TABLE hot_gone (id int PRIMARY KEY, v bigint NOT NULL, last_client int)",
            "INSERT INTO hot_gone SELECT g, 0, NULL FROM generate_series(1, 3000) g")
    script = tmp_path / "hot_autocommit.sql"
    script.write_text(AUTOCOMMIT_SCRIPT)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    for mode in ("simple", "extended", "prepared"):
        race_and_compare(env, proxy, direct_conn, fresh_db, script, mode, AUTOCOMMIT_TABLES)
    assert metric_sum(proxy, "pgdual_write_divergence_total") == 0
    assert metric_sum(proxy, "pgdual_drift_risk_total") == 0


# Clock calls in racing writes (issue 17): under -M simple the rewrite splices the transaction's
# timestamp into the text (routing/rewrite/time_call_splice.hpp), under -M prepared it becomes a
# parameter of the named statement (the full rewrite). Either way both stores get one value.
CLOCK_TABLES = {"clock_hot": "id", "clock_events": "id, client, n"}
CLOCK_SCRIPT = """\\set id random(1, 3)
\\set n random(1, 1000000000)
BEGIN;
UPDATE clock_hot SET v = v + 1, at = now(), day = CURRENT_DATE, local = LOCALTIMESTAMP
  WHERE id = :id;
INSERT INTO clock_events (id, client, n, at) VALUES (:id, :client_id, :n, CURRENT_TIMESTAMP);
END;
"""


def test_16_clients_writing_the_clock_on_hot_rows_leave_both_stores_identical(
        env, proxy_factory, fresh_db, direct_conn, tmp_path):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE clock_hot (id int PRIMARY KEY, v bigint NOT NULL, at timestamptz,"
            " day date, local timestamp)",
            "INSERT INTO clock_hot SELECT g, 0 FROM generate_series(1, 3) g",
            "CREATE TABLE clock_events (id int, client int, n bigint, at timestamptz NOT NULL)")
    script = tmp_path / "clock_hot.sql"
    script.write_text(CLOCK_SCRIPT)
    proxy = proxy_factory(migration("dual_write", strategy="sync"))
    for mode in ("simple", "prepared"):
        rewritten_before = metric_sum(proxy, "pgdual_statements_rewritten_total", reason="time")
        processed, _ = race_and_compare(env, proxy, direct_conn, fresh_db, script, mode,
                                        CLOCK_TABLES)
        # Every clock write was rewritten, none sent as it was.
        rewritten = (metric_sum(proxy, "pgdual_statements_rewritten_total", reason="time")
                     - rewritten_before)
        assert rewritten >= processed, (mode, rewritten, processed)
        assert metric_sum(proxy, "pgdual_nondeterministic_statements_total") == 0
