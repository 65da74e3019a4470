"""`pgdual reconcile` from the command line (jobs/reconcile, cmd/commands/reconcile.cpp), against
two real servers with drift injected directly on one of them: it finds exactly the injected
differences (values compared as values: jsonb and json key order, numeric scale and time zones
are not differences; NULL against '' and a float's last digit are), its repairs make the stores
identical by full ordered digests, the dry-run SQL does the same when applied by hand, values are
redacted unless log_values is full, --proof, --resume, one reconciler per table, the queue's marks
resolved, and its exit codes.

No proxy runs here and nothing writes meanwhile: test_reconcile_live.py runs it under pgbench."""

from __future__ import annotations

import json
import signal

import pytest

from dual_write_helpers import (needs_proxy, on_both, on_store, query, scalar, table_digest,
                                table_exists)
from reconcile_helpers import (PROGRESS, QUEUE, expect_equal, finish_reconcile, reconcile,
                               start_reconcile, write_config)
from conftest import run, wait_for

pytestmark = needs_proxy

FULL = {"migration": {"shadow_read": {"log_values": "full"}}}

DRIFT_TABLE = (
    "CREATE TABLE drift (id int PRIMARY KEY, name text NOT NULL, doc jsonb, j json, "
    "amount float8, price numeric, note text, at timestamptz)")
DRIFT_ROWS = (
    "INSERT INTO drift SELECT g, 'name ' || g, jsonb_build_object('a', g, 'b', 'x'), "
    "json_build_object('a', g, 'b', 'x'), g / 7.0::float8, (g / 4.0)::numeric, "
    "CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' || g END, "
    "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' "
    "FROM generate_series(1, 3000) g")

# What is written on each store for the rows that stay equal as values, and the drift.
EQUAL_AS_VALUES_OLD = [
    "UPDATE drift SET doc = '{\"a\": 400, \"b\": \"x\"}' WHERE id = 400",
    "UPDATE drift SET j = '{\"a\": 500, \"b\": \"x\"}' WHERE id = 500",
    "UPDATE drift SET price = 1.5 WHERE id = 700",
    "UPDATE drift SET at = '2026-01-01 00:00:00+00' WHERE id = 800",
    "UPDATE drift SET amount = 0.3 WHERE id = 600",
]
DRIFT_NEW = [
    "UPDATE drift SET doc = '{\"b\": \"x\", \"a\": 400}' WHERE id = 400",  # jsonb: equal
    "UPDATE drift SET j = '{\"b\":  \"x\", \"a\": 500}' WHERE id = 500",  # json as jsonb: equal
    "UPDATE drift SET price = 1.50 WHERE id = 700",  # numeric scale: equal
    "UPDATE drift SET at = '2026-01-01 05:00:00+05' WHERE id = 800",  # same instant: equal
    "UPDATE drift SET amount = 0.1::float8 + 0.2::float8 WHERE id = 600",  # last digit: differs
    "UPDATE drift SET name = 'changed' WHERE id = 100",
    "UPDATE drift SET note = '' WHERE id = 300",  # NULL on the old store
    "DELETE FROM drift WHERE id IN (200, 2999)",
    "INSERT INTO drift (id, name) VALUES (0, 'only new'), (5000, 'only new')",
]
EXPECTED = {
    ("different", ("100",)), ("different", ("300",)), ("different", ("600",)),
    ("only_on_old", ("200",)), ("only_on_old", ("2999",)),
    ("only_on_new", ("0",)), ("only_on_new", ("5000",)),
}


@pytest.fixture
def drift_db(fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    on_store(direct_conn, "old", fresh_db, *EQUAL_AS_VALUES_OLD)
    on_store(direct_conn, "new", fresh_db, *DRIFT_NEW)
    return fresh_db


def mark(table: str, count: int) -> str:
    """What a pgdual instance does when it marks a table (journal/reconcile_queue.hpp)."""
    return (f"INSERT INTO {QUEUE} AS q (table_name, marked) VALUES ('{table}', {count}) "
            "ON CONFLICT (table_name) DO UPDATE SET marked = q.marked + EXCLUDED.marked")


def digests(direct_conn, dbname: str, table: str, order: str = "1") -> tuple:
    return (table_digest(direct_conn, "old", dbname, table, order),
            table_digest(direct_conn, "new", dbname, table, order))


def test_equal_stores_exit_zero_with_every_row_compared(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    outcome = reconcile(env, write_config(env, tmp_path), fresh_db)
    expect_equal(outcome)
    table = outcome.table("public.drift")
    assert table["rows_compared"] == 3000 and table["rows_matching"] == 3000, str(outcome)
    assert table["differences"] == [], str(outcome)
    assert outcome.report["settings"]["json"] == "compared as jsonb"


def test_finds_exactly_the_injected_differences(env, tmp_path, drift_db, direct_conn):
    outcome = reconcile(env, write_config(env, tmp_path, extra=FULL), drift_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["verdict"] == "different"
    assert outcome.differences("public.drift") == EXPECTED, str(outcome)
    table = outcome.table("public.drift")
    assert (table["different"], table["only_on_old"], table["only_on_new"]) == (3, 2, 2)
    changed = [d for d in table["differences"] if d["key"] == ["100"]][0]
    assert changed["columns"] == ["name"]
    assert changed["old"]["name"] == "name 100" and changed["new"]["name"] == "changed"
    null_vs_empty = [d for d in table["differences"] if d["key"] == ["300"]][0]
    assert null_vs_empty["old"]["note"] is None and null_vs_empty["new"]["note"] == ""
    # Dry run: nothing changed on either store.
    assert scalar(direct_conn, "new", drift_db, "SELECT name FROM drift WHERE id = 100") == "changed"


def test_values_are_redacted_unless_log_values_full(env, tmp_path, drift_db):
    outcome = reconcile(env, write_config(env, tmp_path), drift_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["values"] == "redacted"
    table = outcome.table("public.drift")
    assert len(table["differences"]) == len(EXPECTED)
    for difference in table["differences"]:
        assert all(part.startswith("sha256:") for part in difference["key"]), difference
        assert "repair_sql" not in difference
    assert "name 100" not in outcome.stdout and "changed" not in outcome.stdout
    assert "--sql-file" in outcome.stderr


def test_execute_repairs_until_the_digests_match(env, tmp_path, drift_db, direct_conn):
    config = write_config(env, tmp_path)
    assert digests(direct_conn, drift_db, "drift")[0] != digests(direct_conn, drift_db, "drift")[1]
    outcome = reconcile(env, config, drift_db, "--repair", "execute")
    assert outcome.code == 0, str(outcome)
    table = outcome.table("public.drift")
    assert table["repaired"] == len(EXPECTED) and table["remaining"] == 0, str(outcome)
    assert "7 rows repaired" in outcome.stderr
    # One log line per repaired row, its key redacted.
    assert outcome.stderr.count("repaired public.drift ") == 7, outcome.stderr
    assert "repaired public.drift only_on_new key (sha256:" in outcome.stderr
    # Byte-identical by full ordered digests, json's text included (the repair wrote the old
    # store's values): the equal-as-value rows other than json were left alone.
    old, new = digests(direct_conn, drift_db, "drift")
    assert old[0] == new[0] == 3000
    rows = {which: query(direct_conn, which, drift_db,
                         "SELECT id, name, note, amount FROM drift ORDER BY id")
            for which in ("old", "new")}
    assert rows["old"] == rows["new"]
    again = reconcile(env, config, drift_db)
    expect_equal(again)


def test_dry_run_sql_file_applied_by_hand_makes_the_stores_equal(env, tmp_path, drift_db,
                                                                 direct_conn):
    config = write_config(env, tmp_path)
    sql_file = tmp_path / "repair.sql"
    outcome = reconcile(env, config, drift_db, "--sql-file", str(sql_file))
    assert outcome.code == 1, str(outcome)
    assert (sql_file.stat().st_mode & 0o077) == 0, "the statements hold values: owner only"
    script = sql_file.read_text()
    assert script.count("INSERT INTO") == 5 and script.count("DELETE FROM") == 2, script
    with direct_conn("new", drift_db) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(script)
    expect_equal(reconcile(env, config, drift_db))


def test_composite_text_key_and_partitioned_table(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE pairs (region text, code text, n int, PRIMARY KEY (region, code))",
            "INSERT INTO pairs SELECT 'r' || (g % 7), 'c' || g, g FROM generate_series(1, 2500) g",
            "CREATE TABLE events (id bigint, day date, v text, PRIMARY KEY (id, day)) "
            "PARTITION BY RANGE (day)",
            "CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2026-01-01') TO "
            "('2026-02-01')",
            "CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2026-02-01') TO "
            "('2026-03-01')",
            "INSERT INTO events SELECT g, date '2026-01-01' + (g % 50), 'v' || g "
            "FROM generate_series(1, 2000) g")
    on_store(direct_conn, "new", fresh_db,
             "UPDATE pairs SET n = -1 WHERE region = 'r3' AND code = 'c10'",
             "DELETE FROM events WHERE id = 45",  # in February: events_b
             "UPDATE events SET v = 'x' WHERE id = 7")
    outcome = reconcile(env, write_config(env, tmp_path, extra=FULL), fresh_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.differences("public.pairs") == {("different", ("r3", "c10"))}
    assert [t["table"] for t in outcome.report["tables"]].count("public.events") == 1
    day_45 = scalar(direct_conn, "old", fresh_db, "SELECT day::text FROM events WHERE id = 45")
    day_7 = scalar(direct_conn, "old", fresh_db, "SELECT day::text FROM events WHERE id = 7")
    assert outcome.differences("public.events") == {("only_on_old", ("45", day_45)),
                                                    ("different", ("7", day_7))}
    repaired = reconcile(env, write_config(env, tmp_path, name="again"), fresh_db,
                         "--repair", "execute")
    assert repaired.code == 0, str(repaired)
    assert digests(direct_conn, fresh_db, "events", "id") == (
        table_digest(direct_conn, "old", fresh_db, "events", "id"),) * 2


def test_proof_writes_markdown_and_json(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    outcome = reconcile(env, write_config(env, tmp_path), fresh_db, "--proof", "--proof-dir",
                        str(tmp_path))
    expect_equal(outcome)
    proof = json.loads((tmp_path / f"reconcile-proof-{fresh_db}.json").read_text())
    assert proof["verdict"] == "equal"
    [table] = proof["tables"]
    assert table["verdict"] == "equal" and table["old_rows"] == table["new_rows"] == 3000
    assert table["old_checksum"] == table["new_checksum"]
    markdown = (tmp_path / f"reconcile-proof-{fresh_db}.md").read_text()
    assert "Verdict: **equal**" in markdown and "public.drift | equal | 3000 | 3000" in markdown
    saved = query(direct_conn, "new", fresh_db,
                  f"SELECT proof_verdict, proof_old_checksum = proof_new_checksum FROM {PROGRESS}")
    assert saved == [("equal", True)]
    # A difference makes the proof say so.
    on_store(direct_conn, "new", fresh_db, "UPDATE drift SET name = 'x' WHERE id = 5")
    different = reconcile(env, write_config(env, tmp_path, name="p2"), fresh_db, "--proof",
                          "--proof-dir", str(tmp_path))
    assert different.code == 1
    proof = json.loads((tmp_path / f"reconcile-proof-{fresh_db}.json").read_text())
    assert proof["verdict"] == "different" and proof["tables"][0]["verdict"] == "different"


def test_resume_continues_after_the_last_compared_range(env, tmp_path, fresh_db, direct_conn):
    rows = 1000000
    on_both(direct_conn, fresh_db,
            "CREATE TABLE big (id int PRIMARY KEY, v text)",
            f"INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {rows}) g")
    on_store(direct_conn, "new", fresh_db, f"UPDATE big SET v = 'x' WHERE id = {rows - 1}")
    config = write_config(env, tmp_path, extra=FULL)
    # Stopped by SIGTERM once its first chunks are recorded (it needs about half a second for
    # the whole table; the signal comes within a few tens of milliseconds).
    process = start_reconcile(env, config, fresh_db, "--chunk-ms", "10")
    try:
        wait_for(lambda: query(direct_conn, "new", fresh_db,
                               f"SELECT rows_compared > 0 FROM {PROGRESS}") == [(True,)]
                 if table_exists(direct_conn, "new", fresh_db, PROGRESS) else False,
                 timeout=60, what="the first chunks recorded", interval=0.01)
    finally:
        process.send_signal(signal.SIGTERM)
    first = finish_reconcile(process)
    assert first.code == 1, str(first)
    table = first.table("public.big")
    assert table["state"] == "paused", str(first)
    assert 0 < table["rows_compared"] < rows, str(first)
    # A difference in the range already compared: a resumed run does not go back for it.
    on_store(direct_conn, "new", fresh_db, "UPDATE big SET v = 'y' WHERE id = 1")
    second = reconcile(env, config, fresh_db, "--resume")
    assert second.code == 1, str(second)
    table = second.table("public.big")
    assert table["state"] == "done" and table["rows_compared"] == rows, str(second)
    assert second.differences("public.big") == {("different", (str(rows - 1),))}
    # Without --resume it starts over and finds both.
    third = reconcile(env, config, fresh_db)
    assert third.differences("public.big") == {("different", (str(rows - 1),)),
                                               ("different", ("1",))}


def test_a_second_reconciler_on_the_table_is_refused(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    with direct_conn("new", fresh_db) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext('pgdual reconcile'), "
                       "hashtext('public.drift'))")
        outcome = reconcile(env, write_config(env, tmp_path), fresh_db)
    assert outcome.code == 2, str(outcome)
    assert "being compared by another pgdual reconcile" in outcome.stdout, str(outcome)


def test_marks_in_the_queue_are_resolved(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    config = write_config(env, tmp_path)
    expect_equal(reconcile(env, config, fresh_db))  # creates the queue table
    on_store(direct_conn, "new", fresh_db,
             mark("public.drift", 3),
             "UPDATE drift SET name = 'x' WHERE id = 9")
    outcome = reconcile(env, config, fresh_db)
    assert outcome.code == 1
    assert query(direct_conn, "new", fresh_db,
                 f"SELECT marked, resolved, differences FROM {QUEUE}") == [(3, 3, 1)]
    expect_equal(reconcile(env, config, fresh_db, "--repair", "execute"))
    assert query(direct_conn, "new", fresh_db,
                 f"SELECT marked, resolved, differences FROM {QUEUE}") == [(3, 3, 0)]


def test_continuous_mode_works_through_the_queue(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    config = write_config(env, tmp_path)
    expect_equal(reconcile(env, config, fresh_db))
    on_store(direct_conn, "new", fresh_db,
             mark("public.drift", 1),
             "DELETE FROM drift WHERE id = 11")
    process = start_reconcile(env, config, fresh_db, "--continuous", "--repair", "execute",
                              "--interval-seconds", "1")
    try:
        wait_for(lambda: query(direct_conn, "new", fresh_db,
                               f"SELECT resolved, differences FROM {QUEUE}") == [(1, 0)],
                 timeout=60, what="the queued table reconciled")
    finally:
        process.send_signal(signal.SIGTERM)
        outcome = finish_reconcile(process, timeout=60)
    assert scalar(direct_conn, "new", fresh_db, "SELECT count(*) FROM drift WHERE id = 11") == 1
    assert "1 rows repaired" in outcome.stderr, str(outcome)


@pytest.mark.parametrize("args, message", [
    (["--repair", "maybe"], "--repair: expected dry-run or execute"),
    (["--format", "xml"], "--format: expected table or json"),
    (["--max-differences", "0"], "--max-differences"),
    (["--continuous", "--proof"], "--continuous excludes"),
])
def test_bad_command_lines_exit_2(env, tmp_path, fresh_db, args, message):
    outcome = reconcile(env, write_config(env, tmp_path), fresh_db, *args)
    assert outcome.code == 2 and message in outcome.stderr, str(outcome)


def test_refused_before_dual_writes_and_for_keyless_tables(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE loose (v int)", "CREATE TABLE kept (id int "
            "PRIMARY KEY)")
    prepare = reconcile(env, write_config(env, tmp_path, phase="prepare"), fresh_db)
    assert prepare.code == 2 and "nothing to reconcile yet" in prepare.stdout, str(prepare)
    keyless = reconcile(env, write_config(env, tmp_path, name="k"), fresh_db)
    assert keyless.code == 2, str(keyless)
    assert [r["table"] for r in keyless.report["refused"]] == ["public.loose"]
    table_only = reconcile(env, write_config(env, tmp_path, name="t"), fresh_db,
                           "--tables", "kept")
    expect_equal(table_only)


def test_table_format_is_readable(env, tmp_path, drift_db):
    result = run([env.pgdual_bin, "reconcile", "--config",
                  str(write_config(env, tmp_path, extra=FULL)), "--database", drift_db],
                 check=False, timeout=120)
    assert result.returncode == 1
    assert "public.drift" in result.stdout and "verdict: different" in result.stdout
    assert "only_on_new key (5000)" in result.stdout
    assert "-- repair statements (dry run: not executed)" in result.stdout


def test_float_tolerance_from_shadow_read_settings(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, "CREATE TABLE measures (id int PRIMARY KEY, x float8, y real)",
            "INSERT INTO measures SELECT g, g * 1.1, g * 0.5 FROM generate_series(1, 3000) g")
    on_store(direct_conn, "new", fresh_db,
             "UPDATE measures SET x = x * (1 + 1e-12) WHERE id BETWEEN 10 AND 20",  # within
             "UPDATE measures SET x = x * (1 + 1e-6) WHERE id = 30",  # beyond
             "UPDATE measures SET y = y * 1.001 WHERE id = 40")  # beyond
    exact = reconcile(env, write_config(env, tmp_path, extra=FULL), fresh_db)
    assert exact.code == 1 and len(exact.table("public.measures")["differences"]) == 13
    tolerant = reconcile(env, write_config(env, tmp_path, name="tolerant", extra={
        "migration": {"shadow_read": {"log_values": "full", "float_tolerance": 1e-9}}}),
        fresh_db)
    assert tolerant.code == 1, str(tolerant)
    assert tolerant.differences("public.measures") == {("different", ("30",)),
                                                       ("different", ("40",))}
    assert tolerant.report["settings"]["floats"].startswith("relative tolerance")


def test_cutover_phase_repairs_the_old_store_from_the_new(env, tmp_path, fresh_db, direct_conn):
    """After cutover the new store is the primary: its rows win."""
    on_both(direct_conn, fresh_db, DRIFT_TABLE, DRIFT_ROWS)
    on_store(direct_conn, "old", fresh_db,
             "UPDATE drift SET name = 'stale' WHERE id = 10", "DELETE FROM drift WHERE id = 11")
    config = write_config(env, tmp_path, phase="cutover", extra=FULL)
    outcome = reconcile(env, config, fresh_db, "--repair", "execute")
    assert outcome.code == 0, str(outcome)
    assert outcome.report["settings"]["primary"] == "new store (cutover)"
    assert outcome.differences("public.drift") == {("different", ("10",)),
                                                   ("only_on_new", ("11",))}
    assert digests(direct_conn, fresh_db, "drift", "id")[0] == \
        digests(direct_conn, fresh_db, "drift", "id")[1]
    assert scalar(direct_conn, "old", fresh_db, "SELECT name FROM drift WHERE id = 10") == "name 10"
