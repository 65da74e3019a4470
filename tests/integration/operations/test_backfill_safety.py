"""`pgdual backfill` regression tests for the fixes made after the review (jobs/backfill):

- a chunk commits on the new store only if its old-store transaction, and so its FOR SHARE row
  locks, lived until then (a session lost mid-chunk means a retry, not a stale commit);
- the new store's session runs with session_replication_role = replica: user triggers and
  foreign-key checks do not fire on copied rows, and a trigger that would still fire (ENABLE
  ALWAYS / REPLICA) refuses the table;
- the new store's session lost mid-run: the copier reconnects and recreates its temporary stage;
- --lock-keyless replaces a target that is partitioned on the new store as a whole;
- GENERATED ALWAYS identity values that differ (no UPDATE may set them) are reported for a
  reconciliation, and a done table keeps that note on later runs;
- strategy sync with the file journal refuses the run;
- a key that changed since a paused run refuses --resume.

Three more pin bugs found on the way and fixed: a trigger enabled ALWAYS on a leaf of a
partitioned target is seen; identity differences are counted once when a chunk is retried; the
advisory lock that refuses a second job is taken again with the new store's session.

Real PostgreSQL servers; the test role is a superuser, so the job may SET
session_replication_role. No pgdual proxy runs: the tests play the application's writes on
both stores directly, in the order pgdual would (old store, then new store)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conftest import run, wait_for
from dual_write_helpers import needs_proxy, on_both, on_store, query, scalar
from test_backfill_cli import (
    assert_nothing_copied,
    assert_same_rows,
    backfill,
    count,
    expect_done,
    finish_backfill,
    progress_exists,
    progress_row,
    start_backfill,
    write_config,
)

pytestmark = needs_proxy

APP = "pgdual backfill"  # the application_name of every session of the job
# Bounds for the waits on the running job (a loaded machine included).
START_PATIENCE = 30


# --------------------------------------------------------------------------
# Helpers


@pytest.fixture
def config(env, tmp_path) -> Path:
    """A config in phase dual_write, strategy sync (journal: the table store)."""
    return write_config(env, tmp_path)


def job_pids(direct_conn, which: str, dbname: str, condition: str = "true") -> list[int]:
    """The backends of the job on one store (application_name 'pgdual backfill', this database)
    that meet `condition` (SQL over pg_stat_activity aliased a)."""
    return [row[0] for row in query(
        direct_conn, which, dbname,
        "SELECT a.pid FROM pg_stat_activity a WHERE a.datname = current_database() "
        f"AND a.application_name = %s AND a.pid <> pg_backend_pid() AND ({condition}) "
        "ORDER BY a.pid", (APP,))]


def terminate(direct_conn, which: str, dbname: str, pids: list[int]) -> None:
    """pg_terminate_backend each pid, waiting (at most 10 s each) until it is gone."""
    with direct_conn(which, dbname) as conn:
        for pid in pids:
            assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0], \
                f"{which} store: backend {pid} did not end"


def stop_job(process) -> None:
    """Ends a job a test left running (after a failed assertion)."""
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=10)


def running_progress(direct_conn, dbname: str, table: str, process, min_chunks: int):
    """For wait_for: the progress row once at least min_chunks chunks committed; fails at once
    if the job exited first."""
    if process.poll() is not None:
        pytest.fail(f"the job exited before {min_chunks} chunks committed\n"
                    f"{finish_backfill(process)}")
    if not progress_exists(direct_conn, dbname):
        return None
    row = progress_row(direct_conn, dbname, table)
    return row if row is not None and row["chunks"] >= min_chunks else None


# --------------------------------------------------------------------------
# 1. The old store's session lost while the chunk is written on the new store


SLOW_KEY = 5  # the merge of this row sleeps on the new store while the marker is on
SLOW_SECONDS = 4


def slow_check_on_new() -> list[str]:
    """SQL for the new store: a CHECK on t whose function sleeps SLOW_SECONDS on row SLOW_KEY
    while slow_marker says so (CHECK constraints run under session_replication_role = replica
    too). The marker table is on the new store only, so the job does not see it."""
    return [
        "CREATE TABLE slow_marker (slow boolean NOT NULL)",
        "INSERT INTO slow_marker VALUES (true)",
        f"""CREATE FUNCTION slow_ok(k int) RETURNS boolean LANGUAGE plpgsql
            SET search_path = public AS $$
            BEGIN
              IF k = {SLOW_KEY} AND EXISTS (SELECT 1 FROM slow_marker WHERE slow) THEN
                PERFORM pg_sleep({SLOW_SECONDS});
              END IF;
              RETURN true;
            END $$""",
        "ALTER TABLE t ADD CONSTRAINT slow CHECK (slow_ok(id)) NOT VALID",
    ]


def wait_for_sleeping_merge(direct_conn, dbname: str, job) -> list[int]:
    """Waits until the job's new-store session sleeps in slow_ok; returns [its pid]."""
    def sleeping():
        if job.poll() is not None:
            pytest.fail(f"the job exited before the merge slept\n{finish_backfill(job)}")
        return job_pids(direct_conn, "new", dbname,
                        "a.wait_event = 'PgSleep' AND a.state = 'active'")

    sleeper = wait_for(sleeping, START_PATIENCE, f"the chunk's merge to sleep on row {SLOW_KEY}")
    assert len(sleeper) == 1, sleeper
    return sleeper


def chunk_holders(direct_conn, dbname: str, table: str) -> list[int]:
    """Exactly the job's old-store session that holds the chunk: in a transaction, with the
    FOR SHARE's lock on the table (the job's control session is idle, outside a transaction)."""
    holders = job_pids(direct_conn, "old", dbname,
                       "a.state = 'idle in transaction' AND a.xact_start IS NOT NULL "
                       "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
                       f"AND l.relation = '{table}'::regclass AND l.mode = 'RowShareLock' "
                       "AND l.granted)")
    assert len(holders) == 1, (holders, query(
        direct_conn, "old", dbname,
        "SELECT pid, state, xact_start IS NOT NULL FROM pg_stat_activity "
        "WHERE application_name = %s", (APP,)))
    return holders


def test_old_store_session_lost_mid_chunk_retries_the_chunk(env, config, fresh_db, direct_conn):
    """While the chunk's merge sleeps on the new store (a CHECK calling pg_sleep on row 5), the
    job's old-store session, which holds the chunk's FOR SHARE locks, is terminated; a live write
    then updates row 5 and deletes row 6 on the old store and (finding nothing yet) on the new.
    The chunk must be rolled back and retried rather than committed with the stale rows 5 and 6:
    the stores end identical."""
    on_both(direct_conn, fresh_db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g")
    on_store(direct_conn, "new", fresh_db, *slow_check_on_new())

    # 50 rows: the whole table is the first chunk (1,000 rows).
    job = start_backfill(env, config, fresh_db, "--chunk-ms", "10000")
    try:
        sleeper = wait_for_sleeping_merge(direct_conn, fresh_db, job)
        slept_at = time.monotonic()
        terminate(direct_conn, "old", fresh_db, chunk_holders(direct_conn, fresh_db, "t"))

        # The live write, as pgdual plays it: the old store first (the row locks are gone, so
        # it does not wait), then the new store (the chunk's rows are not committed there).
        with direct_conn("old", fresh_db) as old:
            old.execute("SET statement_timeout = '10s'")
            assert old.execute(f"UPDATE t SET v = 'T' WHERE id = {SLOW_KEY}").rowcount == 1
            assert old.execute(f"DELETE FROM t WHERE id = {SLOW_KEY + 1}").rowcount == 1
        with direct_conn("new", fresh_db) as new:
            new.execute("SET statement_timeout = '10s'")
            new.execute(f"UPDATE t SET v = 'T' WHERE id = {SLOW_KEY}")
            new.execute(f"DELETE FROM t WHERE id = {SLOW_KEY + 1}")
            new.execute("UPDATE slow_marker SET slow = false")  # the retry does not sleep
        # The write landed while the chunk was still uncommitted on the new store: otherwise
        # this test would not tell a stale commit from a retry.
        assert job_pids(direct_conn, "new", fresh_db, "a.wait_event = 'PgSleep'") == sleeper, \
            f"the merge stopped sleeping before the live write was played " \
            f"({time.monotonic() - slept_at:.1f}s)"
        outcome = finish_backfill(job)
    finally:
        stop_job(job)

    expect_done(outcome)
    summary = outcome.table("public.t")
    assert (summary["rows_copied"], summary["rows_skipped"], summary["rows_overwritten"],
            summary["chunks"]) == (49, 0, 0, 1), summary
    assert "needs_reconciliation" not in summary, summary
    assert_same_rows(direct_conn, fresh_db, "t", 49)
    assert scalar(direct_conn, "new", fresh_db, f"SELECT v FROM t WHERE id = {SLOW_KEY}") == "T"
    assert count(direct_conn, "new", fresh_db, f"t WHERE id = {SLOW_KEY + 1}") == 0
    progress = progress_row(direct_conn, fresh_db, "public.t")
    assert (progress["state"], progress["rows_copied"], progress["chunks"], progress["error"]) \
        == ("done", 49, 1, None), progress


# --------------------------------------------------------------------------
# 2. Triggers on the new store


STAMP_FUNCTION = """CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := '2099-01-01 00:00:00+00';
  RETURN NEW;
END $$"""

AUDIT_FUNCTION = """CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stamped_audit VALUES (NEW.id, TG_OP);
  RETURN NULL;
END $$"""


def test_triggers_do_not_fire_on_copied_rows(env, config, fresh_db, direct_conn):
    """A BEFORE INSERT OR UPDATE trigger that sets updated_at and an AFTER trigger that writes an
    audit row, on the new store only: neither fires on the rows the job inserts or overwrites
    (its session runs as replica), so the rows are the old store's; the triggers stay enabled
    for everybody else."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE stamped (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO stamped SELECT g, 'v' || g, "
             "'2020-01-01 00:00:00+00'::timestamptz + g * interval '1 minute' "
             "FROM generate_series(1, 3000) g")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE stamped_audit (id int, op text)",
             STAMP_FUNCTION, AUDIT_FUNCTION,
             "CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON stamped "
             "FOR EACH ROW EXECUTE FUNCTION stamp()",
             "CREATE TRIGGER audit AFTER INSERT OR UPDATE ON stamped "
             "FOR EACH ROW EXECUTE FUNCTION audit()",
             # Rows dual writes put there: the trigger stamped them, so they differ and the
             # job overwrites them (an UPDATE, which must not fire the trigger either).
             "INSERT INTO stamped SELECT g, 'v' || g, now() FROM generate_series(1001, 1010) g")
    assert scalar(direct_conn, "new", fresh_db,
                  "SELECT count(*) FROM stamped WHERE updated_at = '2099-01-01 00:00+00'") == 10
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "20")
    expect_done(outcome)
    summary = outcome.table("public.stamped")
    assert (summary["rows_copied"], summary["rows_overwritten"], summary["rows_skipped"]) == \
        (2990, 10, 0), summary
    assert_same_rows(direct_conn, fresh_db, "stamped", 3000)
    assert scalar(direct_conn, "new", fresh_db,
                  "SELECT count(*) FROM stamped WHERE updated_at >= '2099-01-01'") == 0
    assert count(direct_conn, "new", fresh_db, "stamped_audit") == 10  # the test's own inserts
    # The job did not disable them: they still fire for other sessions.
    assert query(direct_conn, "new", fresh_db,
                 "SELECT tgname::text, tgenabled::text FROM pg_trigger "
                 "WHERE tgrelid = 'stamped'::regclass AND NOT tgisinternal ORDER BY 1") == \
        [("audit", "O"), ("stamp", "O")]
    on_store(direct_conn, "new", fresh_db,
             "INSERT INTO stamped VALUES (5000, 'x', '2000-01-01 00:00+00')")
    assert str(scalar(direct_conn, "new", fresh_db,
                      "SELECT updated_at::date FROM stamped WHERE id = 5000")) == "2099-01-01"


@pytest.mark.parametrize("mode", ["ALWAYS", "REPLICA"])
def test_trigger_that_would_fire_refuses_the_table(mode, env, config, fresh_db, direct_conn):
    """A trigger enabled ALWAYS (or REPLICA) fires even under session_replication_role =
    replica: the table is refused with the trigger named, and nothing is copied."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE stamped (id int PRIMARY KEY, v text, updated_at timestamptz)",
            "CREATE TABLE plain (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO stamped SELECT g, 'v', now() FROM generate_series(1, 100) g",
             "INSERT INTO plain SELECT generate_series(1, 100)")
    on_store(direct_conn, "new", fresh_db, STAMP_FUNCTION,
             "CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON stamped "
             "FOR EACH ROW EXECUTE FUNCTION stamp()",
             f"ALTER TABLE stamped ENABLE {mode} TRIGGER stamp")
    outcome = backfill(env, config, fresh_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["ok"] is False
    assert [r["table"] for r in outcome.report["refused"]] == ["public.stamped"], str(outcome)
    reason = outcome.report["refused"][0]["reason"]
    assert "triggers on the new store would fire on copied rows" in reason, reason
    assert "stamp" in reason and "enabled ALWAYS or REPLICA" in reason, reason
    assert f"refused: public.stamped: {reason}" in outcome.stderr.splitlines()
    assert outcome.report["rows_copied"] == 0
    assert_nothing_copied(direct_conn, fresh_db, ["stamped", "plain"])


def test_always_trigger_on_a_leaf_of_a_partitioned_target(env, config, fresh_db, direct_conn):
    """Plain on the old store, partitioned on the new, where one leaf (not the root) has a
    trigger enabled ALWAYS: the table must be refused (nothing copied), or at least the copied
    rows must be the old store's."""
    on_store(direct_conn, "old", fresh_db,
             "CREATE TABLE p (id int PRIMARY KEY, v text, updated_at timestamptz)",
             "INSERT INTO p SELECT g, 'v' || g, '2000-01-01 00:00+00' "
             "FROM generate_series(1, 100) g")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE p (id int PRIMARY KEY, v text, updated_at timestamptz) "
             "PARTITION BY RANGE (id)",
             "CREATE TABLE p_low PARTITION OF p FOR VALUES FROM (MINVALUE) TO (50)",
             "CREATE TABLE p_high PARTITION OF p FOR VALUES FROM (50) TO (MAXVALUE)",
             STAMP_FUNCTION,
             "CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON p_high "
             "FOR EACH ROW EXECUTE FUNCTION stamp()",
             "ALTER TABLE p_high ENABLE ALWAYS TRIGGER stamp")
    outcome = backfill(env, config, fresh_db)
    if outcome.code == 1 and [r["table"] for r in outcome.report["refused"]] == ["public.p"]:
        assert "p_high" in outcome.report["refused"][0]["reason"] or \
            "stamp" in outcome.report["refused"][0]["reason"], str(outcome)
        assert_nothing_copied(direct_conn, fresh_db, ["p"])
    else:
        expect_done(outcome)
        assert_same_rows(direct_conn, fresh_db, "p", 100)


# --------------------------------------------------------------------------
# 3. A self-referencing foreign key with forward references


def test_self_reference_to_a_later_chunk(env, config, fresh_db, direct_conn):
    """Row 1's parent is row 2000, and rows 2..1000 point 1,500 rows ahead: copied in a chunk
    before their parents (the first chunk has 1,000 rows). The new store's foreign-key check
    does not run on copied rows (replica), so every chunk commits; the stores end identical and
    consistent."""
    rows = 4000
    on_both(direct_conn, fresh_db,
            "CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree, v text)")
    # One statement: its foreign-key checks run at its end, when every parent exists.
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO tree SELECT g, CASE WHEN g = 1 THEN 2000 WHEN g <= 1000 THEN g + 1500 "
             "WHEN g % 10 = 0 THEN NULL ELSE g - 1 END, 'v' || g "
             f"FROM generate_series(1, {rows}) g")
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "20")
    expect_done(outcome)
    assert outcome.report["unordered_foreign_keys"] == \
        ["public.tree -> public.tree (self-reference)"], str(outcome)
    summary = outcome.table("public.tree")
    assert summary["chunks"] >= 2 and summary["rows_copied"] == rows, summary
    assert_same_rows(direct_conn, fresh_db, "tree", rows)
    assert scalar(direct_conn, "new", fresh_db, "SELECT parent FROM tree WHERE id = 1") == 2000
    assert scalar(direct_conn, "new", fresh_db,
                  "SELECT count(*) FROM tree c WHERE c.parent IS NOT NULL AND NOT EXISTS "
                  "(SELECT 1 FROM tree p WHERE p.id = c.parent)") == 0
    # The constraint is still enforced for everybody else.
    with pytest.raises(Exception, match="violates foreign key constraint"):
        on_store(direct_conn, "new", fresh_db, "INSERT INTO tree VALUES (-1, 999999, 'x')")


# --------------------------------------------------------------------------
# 4 and 6. GENERATED ALWAYS identity values that differ, and the note on later runs


IDENTITY_NOTE = ("2 rows differ in GENERATED ALWAYS identity columns, which no UPDATE may set: "
                 "reconcile it")


def copy_identity_table(env, config, dbname: str, direct_conn):
    """ident's key is code; n is an identity column outside it. The new store already has two
    keys with other identity values (c007 otherwise identical, c008 with another v as well)."""
    on_both(direct_conn, dbname,
            "CREATE TABLE ident (code text PRIMARY KEY, "
            "n bigint GENERATED ALWAYS AS IDENTITY, v text)")
    on_store(direct_conn, "old", dbname,
             "INSERT INTO ident (code, v) SELECT 'c' || lpad(g::text, 3, '0'), 'v' || g "
             "FROM generate_series(1, 100) g")
    on_store(direct_conn, "new", dbname,
             "INSERT INTO ident (code, n, v) OVERRIDING SYSTEM VALUE "
             "VALUES ('c007', 907, 'v7'), ('c008', 908, 'other')")
    outcome = backfill(env, config, dbname)
    assert outcome.code == 0, str(outcome)
    expect_done(outcome)
    return outcome


def assert_identity_noted(outcome, direct_conn, dbname: str) -> None:
    summary = outcome.table("public.ident")
    assert summary["state"] == "done", summary
    assert summary.get("needs_reconciliation") == IDENTITY_NOTE, summary
    progress = progress_row(direct_conn, dbname, "public.ident")
    assert progress["state"] == "done" and progress["error"] == IDENTITY_NOTE, progress
    # The job could not set them: the identity values stay, everything else is the old store's.
    assert query(direct_conn, "new", dbname,
                 "SELECT code, n, v FROM ident WHERE code IN ('c007', 'c008') ORDER BY 1") == \
        [("c007", 907, "v7"), ("c008", 908, "v8")]
    assert_same_rows(direct_conn, dbname, "ident", 100, columns="code, v")
    assert_same_rows(direct_conn, dbname, "(SELECT * FROM ident WHERE code NOT IN "
                     "('c007', 'c008')) others", 98)


def test_differing_identity_outside_the_key_needs_reconciliation(env, config, fresh_db,
                                                                 direct_conn):
    outcome = copy_identity_table(env, config, fresh_db, direct_conn)
    summary = outcome.table("public.ident")
    assert (summary["rows_copied"], summary["rows_skipped"], summary["rows_overwritten"]) == \
        (98, 1, 1), summary
    assert_identity_noted(outcome, direct_conn, fresh_db)
    # ...and queued for `pgdual reconcile --continuous` (journal/reconcile_queue.hpp).
    assert query(direct_conn, "new", fresh_db,
                 "SELECT marked > resolved FROM pgdual.reconcile_queue "
                 "WHERE table_name = 'public.ident'") == [(True,)]


def test_note_survives_later_runs(env, config, fresh_db, direct_conn):
    """A done table is left alone by later runs (with --resume or without): its note stays in
    the summary and in backfill_progress.error, and its row is not rewritten."""
    first = copy_identity_table(env, config, fresh_db, direct_conn)
    assert_identity_noted(first, direct_conn, fresh_db)
    before = progress_row(direct_conn, fresh_db, "public.ident")
    for args in (["--resume"], []):
        again = backfill(env, config, fresh_db, *args)
        expect_done(again)
        summary = again.table("public.ident")
        assert (summary["rows_copied"], summary["rows_skipped"], summary["rows_overwritten"]) \
            == (98, 1, 1), (args, summary)
        assert_identity_noted(again, direct_conn, fresh_db)
        after = progress_row(direct_conn, fresh_db, "public.ident")
        assert (after["updated_at"], after["finished_at"], after["chunks"]) == \
            (before["updated_at"], before["finished_at"], before["chunks"]), (args, after)


def test_identity_differences_counted_once_across_a_retry(env, config, fresh_db, direct_conn):
    """One row differs in its identity value; the only chunk is retried once (its old-store
    session terminated while its merge sleeps): the note must still count one row."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE t (id int PRIMARY KEY, n bigint GENERATED ALWAYS AS IDENTITY, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO t (id, v) SELECT g, 'v' || g FROM generate_series(1, 50) g")
    on_store(direct_conn, "new", fresh_db,
             "INSERT INTO t (id, n, v) OVERRIDING SYSTEM VALUE VALUES (1, 901, 'v1')",
             *slow_check_on_new())
    job = start_backfill(env, config, fresh_db)
    try:
        sleeper = wait_for_sleeping_merge(direct_conn, fresh_db, job)
        terminate(direct_conn, "old", fresh_db, chunk_holders(direct_conn, fresh_db, "t"))
        on_store(direct_conn, "new", fresh_db, "UPDATE slow_marker SET slow = false")
        assert job_pids(direct_conn, "new", fresh_db, "a.wait_event = 'PgSleep'") == sleeper
        outcome = finish_backfill(job)
    finally:
        stop_job(job)
    expect_done(outcome)
    assert outcome.table("public.t").get("needs_reconciliation") == (
        "1 rows differ in GENERATED ALWAYS identity columns, which no UPDATE may set: "
        "reconcile it"), str(outcome)


# --------------------------------------------------------------------------
# 5. --lock-keyless into a table partitioned only on the new store


def test_lock_keyless_into_partitioned_target(env, config, fresh_db, direct_conn):
    """Keyless and plain on the old store, partitioned (range, with a default leaf) on the new,
    where dual writes already put some rows: the locked copy replaces the whole partitioned
    table, so nothing is doubled."""
    on_store(direct_conn, "old", fresh_db, "CREATE TABLE kl (a int, b text)")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE kl (a int, b text) PARTITION BY RANGE (a)",
             "CREATE TABLE kl_low PARTITION OF kl FOR VALUES FROM (MINVALUE) TO (50)",
             "CREATE TABLE kl_high PARTITION OF kl FOR VALUES FROM (50) TO (MAXVALUE)",
             "CREATE TABLE kl_rest PARTITION OF kl DEFAULT")
    rows = ("INSERT INTO kl SELECT CASE WHEN g % 25 = 0 THEN NULL ELSE g % 100 END, "
            "'b' || g % 7 FROM generate_series({first}, {last}) g")
    on_store(direct_conn, "old", fresh_db, rows.format(first=1, last=2000))
    # The same rows as the old store's first 60 (in every leaf), as dual writes left them.
    on_store(direct_conn, "new", fresh_db, rows.format(first=1, last=60))
    for leaf in ("kl_low", "kl_high", "kl_rest"):
        assert count(direct_conn, "new", fresh_db, leaf) > 0, leaf
    outcome = backfill(env, config, fresh_db, "--lock-keyless")
    expect_done(outcome)
    summary = outcome.table("public.kl")
    assert summary["locked_copy"] is True and summary["chunks"] == 1, summary
    assert summary["rows_copied"] == 2000 and summary.get("rows_replaced") == 60, summary
    assert count(direct_conn, "new", fresh_db, "kl") == 2000
    assert_same_rows(direct_conn, fresh_db, "kl", 2000)
    assert query(direct_conn, "new", fresh_db,
                 "SELECT count(*) FILTER (WHERE tableoid = 'kl_low'::regclass), "
                 "count(*) FILTER (WHERE tableoid = 'kl_high'::regclass), "
                 "count(*) FILTER (WHERE tableoid = 'kl_rest'::regclass) FROM kl") == \
        query(direct_conn, "old", fresh_db,
              "SELECT count(*) FILTER (WHERE a < 50), count(*) FILTER (WHERE a >= 50), "
              "count(*) FILTER (WHERE a IS NULL) FROM kl")


# --------------------------------------------------------------------------
# 7. strategy sync with the file journal


def test_sync_with_file_journal_refuses_the_run(env, tmp_path, fresh_db, direct_conn):
    """Under sync the job checks the journal table for writes the new store failed; with the
    file store it cannot see them: the whole run is refused (dry run included), nothing copied.
    With the journal disabled, the same store setting is no obstacle."""
    on_both(direct_conn, fresh_db, "CREATE TABLE ok_t (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO ok_t SELECT g, 'v' || g FROM generate_series(1, 100) g")
    directory = tmp_path / "journal"
    directory.mkdir()
    refused_config = write_config(env, tmp_path, name="file_journal", strategy="sync",
                                  journal={"enabled": True, "store": "file",
                                           "directory": str(directory)})
    run([env.pgdual_bin, "check-config", str(refused_config)], timeout=30)  # a valid config
    for args in ([], ["--dry-run"], ["--resume"]):
        outcome = backfill(env, refused_config, fresh_db, *args)
        assert outcome.code == 1, (args, str(outcome))
        error = outcome.report.get("error", "")
        assert error.startswith("strategy sync with journal.store: file:"), (args, str(outcome))
        assert "Use the table store for the backfill" in error, error
        assert f"pgdual backfill: {error}" in outcome.stderr
        assert outcome.report["ok"] is False
        assert outcome.report["tables"] == [] and outcome.report["refused"] == []
        assert_nothing_copied(direct_conn, fresh_db, ["ok_t"])

    disabled = write_config(env, tmp_path, name="no_journal", strategy="sync",
                            journal={"enabled": False, "store": "file",
                                     "directory": str(directory)})
    expect_done(backfill(env, disabled, fresh_db))
    assert_same_rows(direct_conn, fresh_db, "ok_t", 100)


# --------------------------------------------------------------------------
# 8. The new store's sessions lost mid-run


def test_new_store_sessions_lost_mid_run(env, config, fresh_db, direct_conn):
    """After the first chunks committed, every session of the job on the new store is
    terminated: the copier reconnects (with a new temporary stage) and finishes; every row is
    counted exactly once."""
    rows = 20000
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             f"INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {rows}) g")
    job = start_backfill(env, config, fresh_db, "--max-rows-per-second", "4000",
                         "--chunk-ms", "100")
    try:
        committed = wait_for(lambda: running_progress(direct_conn, fresh_db, "public.big", job, 2),
                             START_PATIENCE, "two chunks to commit")
        sessions = job_pids(direct_conn, "new", fresh_db)
        # The copier's and the job's control session (which holds the advisory locks).
        assert len(sessions) == 2, sessions
        terminate(direct_conn, "new", fresh_db, sessions)
        assert job.poll() is None, "the job finished before its sessions were terminated"
        assert committed["rows_copied"] < rows, committed
        # A new copier session, and chunks committed through it.
        wait_for(lambda: job.poll() is not None or
                 set(job_pids(direct_conn, "new", fresh_db)) - set(sessions),
                 START_PATIENCE, "the copier to reconnect")
        outcome = finish_backfill(job)
    finally:
        stop_job(job)
    expect_done(outcome)
    summary = outcome.table("public.big")
    assert summary["rows_copied"] + summary["rows_skipped"] + summary["rows_overwritten"] == \
        rows, summary
    assert summary["rows_copied"] == rows, summary
    assert_same_rows(direct_conn, fresh_db, "big", rows)
    progress = progress_row(direct_conn, fresh_db, "public.big")
    assert progress["state"] == "done" and progress["error"] is None, progress
    assert progress["rows_copied"] + progress["rows_skipped"] + progress["rows_overwritten"] \
        == rows, progress
    assert progress["chunks"] > committed["chunks"], (committed, progress)
    assert progress["last_key"] == [str(rows)], progress


def test_second_job_still_refused_after_new_store_sessions_lost(env, config, fresh_db,
                                                                 direct_conn):
    """docs/backfill.md: a second job on a table another job is copying is refused (advisory
    locks held for the whole run). Still so after the first job's new-store sessions were lost
    and its copier reconnected."""
    rows = 20000
    on_both(direct_conn, fresh_db, "CREATE TABLE big (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             f"INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {rows}) g")
    first = start_backfill(env, config, fresh_db, "--max-rows-per-second", "2000")
    try:
        wait_for(lambda: running_progress(direct_conn, fresh_db, "public.big", first, 2),
                 START_PATIENCE, "two chunks to commit")
        sessions = job_pids(direct_conn, "new", fresh_db)
        terminate(direct_conn, "new", fresh_db, sessions)
        wait_for(lambda: first.poll() is not None or
                 set(job_pids(direct_conn, "new", fresh_db)) - set(sessions),
                 START_PATIENCE, "the copier to reconnect")
        assert first.poll() is None, "the first job finished too early"
        second = backfill(env, config, fresh_db, "--resume", timeout=60)
        first_outcome = finish_backfill(first)
    finally:
        stop_job(first)
    expect_done(first_outcome)
    assert second.code == 1, str(second)
    assert "is being copied by another pgdual backfill" in second.report.get("error", ""), \
        str(second)


# --------------------------------------------------------------------------
# 9. A changed key refuses --resume


def test_changed_key_refuses_resume(env, config, fresh_db, direct_conn):
    """A run paused (SIGTERM) on key id; then both stores' key becomes code (the primary key
    dropped, a unique NOT NULL key on another column added). The recorded last key is an id, not
    a code: --resume refuses the table and copies nothing; --restart copies it by the new key."""
    rows = 5000
    on_both(direct_conn, fresh_db,
            "CREATE TABLE rekeyed (id int PRIMARY KEY, code text NOT NULL, v text)")
    # code orders the rows differently from id.
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO rekeyed SELECT g, md5(g::text), 'v' || g "
             f"FROM generate_series(1, {rows}) g")
    job = start_backfill(env, config, fresh_db, "--max-rows-per-second", "500")
    try:
        wait_for(lambda: running_progress(direct_conn, fresh_db, "public.rekeyed", job, 1),
                 START_PATIENCE, "the first chunk to commit")
        job.send_signal(signal.SIGTERM)
        stopped = finish_backfill(job, timeout=60)
    finally:
        stop_job(job)
    assert stopped.code == 1 and stopped.report["stopped"] is True, str(stopped)
    assert stopped.table("public.rekeyed")["state"] == "paused", str(stopped)
    paused = progress_row(direct_conn, fresh_db, "public.rekeyed")
    assert paused["state"] == "paused" and paused["key_columns"] == ["id"], paused
    copied = count(direct_conn, "new", fresh_db, "rekeyed")
    assert 0 < copied < rows, copied

    on_both(direct_conn, fresh_db,
            "ALTER TABLE rekeyed DROP CONSTRAINT rekeyed_pkey",
            "ALTER TABLE rekeyed ADD CONSTRAINT rekeyed_code_key UNIQUE (code)")
    resumed = backfill(env, config, fresh_db, "--resume")
    assert resumed.code == 1, str(resumed)
    assert resumed.report["ok"] is False and resumed.report["refused"] == [], str(resumed)
    failed = resumed.table("public.rekeyed")
    assert failed["state"] == "failed", str(resumed)
    assert failed["error"] == ("the key chosen for this table changed since the earlier "
                               "backfill: pass --restart"), failed
    assert "--restart" in resumed.stderr
    assert count(direct_conn, "new", fresh_db, "rekeyed") == copied
    unchanged = progress_row(direct_conn, fresh_db, "public.rekeyed")
    assert (unchanged["state"], unchanged["key_columns"], unchanged["last_key"]) == \
        ("paused", ["id"], paused["last_key"]), unchanged

    restarted = backfill(env, config, fresh_db, "--restart")
    expect_done(restarted)
    summary = restarted.table("public.rekeyed")
    assert (summary["rows_copied"], summary["rows_skipped"]) == (rows - copied, copied), summary
    assert_same_rows(direct_conn, fresh_db, "rekeyed", rows)
    done = progress_row(direct_conn, fresh_db, "public.rekeyed")
    assert (done["state"], done["key_columns"]) == ("done", ["code"]), done
    assert done["last_key"] == [scalar(direct_conn, "old", fresh_db,
                                       "SELECT max(code) FROM rekeyed")], done
