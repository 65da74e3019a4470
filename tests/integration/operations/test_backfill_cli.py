"""`pgdual backfill` from the command line (jobs/backfill, cmd/commands/backfill.cpp): what it
refuses (and that a refusal copies nothing), its exit codes, --dry-run, a byte-exact copy of every
class of column type, foreign-key order, --lock-keyless, the progress it reports (JSON on stdout,
lines on stderr, pgdual.backfill_progress on the new store), a second job on the same table, a
signal and --resume, and the sequences moved at the end.

No pgdual proxy runs here: the job reads a config file and talks to both stores itself. Nothing
writes to the old store while it copies (test_backfill_live.py covers concurrent load)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import _terminate_with_parent, default_config, deep_merge, free_port, run, to_yaml
from conftest import wait_for
from dual_write_helpers import migration, needs_proxy, on_both, on_store, query, scalar

pytestmark = needs_proxy

# One run of the job against a few thousand rows takes about a second; the bound is generous for
# a loaded machine.
RUN_TIMEOUT = 120
PROGRESS = "pgdual.backfill_progress"


# --------------------------------------------------------------------------
# Helpers


@dataclass
class Outcome:
    code: int
    report: dict | None  # the JSON summary on stdout; None when stdout is empty
    stdout: str
    stderr: str

    def table(self, name: str) -> dict:
        found = [t for t in self.report["tables"] if t["table"] == name]
        assert len(found) == 1, f"{name} in the report's tables: {self.report['tables']}"
        return found[0]

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def write_config(env, tmp_path: Path, phase: str = "dual_write", name: str = "backfill",
                 **settings) -> Path:
    """A pgdual config file (backends from the environment) with migration(phase, **settings)."""
    config = deep_merge(default_config(env, free_port(), free_port()),
                        migration(phase, **settings))
    path = tmp_path / f"{name}.yaml"
    path.write_text(to_yaml(config))
    return path


@pytest.fixture
def config(env, tmp_path) -> Path:
    """A config in phase dual_write, strategy sync."""
    return write_config(env, tmp_path)


def command(env, config: Path, dbname: str, *args: str) -> list[str]:
    return [env.pgdual_bin, "backfill", "--config", str(config), "--database", dbname, *args]


def parse_report(stdout: str) -> dict | None:
    return json.loads(stdout) if stdout.strip() else None


def backfill(env, config: Path, dbname: str, *args: str, timeout: float = RUN_TIMEOUT) -> Outcome:
    """Runs `pgdual backfill --config CONFIG --database DBNAME ARGS...` to its end (stderr is not
    a terminal here: the plain progress lines)."""
    result = run(command(env, config, dbname, *args), timeout=timeout, check=False)
    return Outcome(result.returncode, parse_report(result.stdout), result.stdout, result.stderr)


def start_backfill(env, config: Path, dbname: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(command(env, config, dbname, *args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_terminate_with_parent)


def finish_backfill(process: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> Outcome:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        pytest.fail(f"pgdual backfill did not finish within {timeout}s\n{out}\n{err}")
    return Outcome(process.returncode, parse_report(out), out, err)


def expect_done(outcome: Outcome) -> None:
    assert outcome.code == 0, str(outcome)
    assert outcome.report["ok"] is True, str(outcome)
    assert outcome.report["refused"] == [], str(outcome)
    for table in outcome.report["tables"]:
        assert table["state"] == "done", str(outcome)


def count(direct_conn, which: str, dbname: str, table: str) -> int:
    return scalar(direct_conn, which, dbname, f"SELECT count(*) FROM {table}")


def progress_exists(direct_conn, dbname: str) -> bool:
    return scalar(direct_conn, "new", dbname, "SELECT to_regclass(%s) IS NOT NULL", (PROGRESS,))


def progress_row(direct_conn, dbname: str, table: str) -> dict | None:
    with direct_conn("new", dbname) as conn:
        cursor = conn.execute(f"SELECT * FROM {PROGRESS} WHERE source_table = %s", (table,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c.name for c in cursor.description], row))


def comparable_session(conn) -> None:
    """Session settings under which both stores print the same values alike."""
    for setting in ("timezone = 'UTC'", "extra_float_digits = 3", "datestyle = 'ISO, YMD'",
                    "intervalstyle = 'postgres'"):
        conn.execute(f"SET {setting}")


def row_texts(direct_conn, which: str, dbname: str, table: str,
              columns: str = "*") -> list[str]:
    """Every row of the table (its `columns`) as its text form, in that text's order."""
    with direct_conn(which, dbname) as conn:
        comparable_session(conn)
        return [r[0] for r in conn.execute(
            f"SELECT bf_row::text FROM (SELECT {columns} FROM {table}) bf_row "
            "ORDER BY bf_row::text COLLATE \"C\"")]


def digest(direct_conn, which: str, dbname: str, table: str,
           columns: str = "*") -> tuple[int, str]:
    """(rows, md5 of every row's text joined in order, in UTF8) of a table on one store."""
    with direct_conn(which, dbname) as conn:
        comparable_session(conn)
        return tuple(conn.execute(
            "SELECT count(*), coalesce(md5(convert_to(string_agg(bf_row::text, '|' "
            "ORDER BY bf_row::text COLLATE \"C\"), 'UTF8')), '') "
            f"FROM (SELECT {columns} FROM {table}) bf_row").fetchone())


def assert_same_rows(direct_conn, dbname: str, table: str, expect_rows: int | None = None,
                     columns: str = "*") -> None:
    """The table holds the same rows, byte for byte in their text form, on both stores (every
    column, or `columns` where their order differs)."""
    old, new = (digest(direct_conn, which, dbname, table, columns) for which in ("old", "new"))
    if old != new:
        old_rows = row_texts(direct_conn, "old", dbname, table, columns)
        new_rows = row_texts(direct_conn, "new", dbname, table, columns)
        only_old = sorted(set(old_rows) - set(new_rows))[:10]
        only_new = sorted(set(new_rows) - set(old_rows))[:10]
        pytest.fail(f"{table} differs: old {old[0]} rows, new {new[0]} rows\n"
                    f"only on the old store: {only_old}\nonly on the new store: {only_new}")
    if expect_rows is not None:
        assert old[0] == expect_rows, f"{table}: {old[0]} rows, expected {expect_rows}"


def progress_lines(stderr: str, table: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(table + " ")]


def copy_bytes(direct_conn, dbname: str, table: str, binary: bool) -> int:
    """Length of `COPY (SELECT <every non-generated column> FROM ONLY table) TO STDOUT` on the
    old store, in the job's session settings."""
    with direct_conn("old", dbname) as conn:
        for setting in ("datestyle = 'ISO, YMD'", "intervalstyle = 'postgres'",
                        "timezone = 'UTC'", "extra_float_digits = 3",
                        "client_encoding = 'UTF8'"):
            conn.execute(f"SET {setting}")
        columns = [r[0] for r in conn.execute(
            "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            (table,))]
        sql = f"COPY (SELECT {', '.join(columns)} FROM ONLY {table}) TO STDOUT"
        if binary:
            sql += " (FORMAT binary)"
        total = 0
        with conn.cursor().copy(sql) as copy:
            for block in copy:
                total += len(block)
        return total


# A binary COPY starts with a 19-byte header (signature, flags, extension length) and ends with a
# 2-byte trailer: each chunk's COPY carries both.
BINARY_COPY_OVERHEAD = 19 + 2


# --------------------------------------------------------------------------
# Refusals: the whole run refused, nothing copied


# Every case: (id, SQL on the old store, SQL on the new store, extra arguments, migration
# settings, the refused table, a regular expression its reason must match).
REFUSALS = [
    ("missing_on_new",
     ["CREATE TABLE gone (id int PRIMARY KEY, v text)"], [],
     [], {}, "public.gone",
     r"missing on the new store \(public\.gone\).*pg_dump --schema-only"),
    ("column_missing_on_new",
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, b text)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a int)"],
     [], {}, "public.cols", r"column b is missing on the new store"),
    ("column_only_on_new",
     ["CREATE TABLE cols (id int PRIMARY KEY, a int)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, extra text)"],
     [], {}, "public.cols", r"column extra exists only on the new store"),
    ("column_renamed",
     ["CREATE TABLE cols (id int PRIMARY KEY, \"Name\" text)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, name text)"],
     [], {}, "public.cols",
     r"column \"Name\" is missing on the new store; column name exists only on the new store"),
    ("column_type",
     ["CREATE TABLE cols (id int PRIMARY KEY, a int)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a bigint)"],
     [], {}, "public.cols", r"column a is integer on the old store but bigint on the new"),
    ("column_typmod",
     ["CREATE TABLE cols (id int PRIMARY KEY, a varchar(10))"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a varchar(20))"],
     [], {}, "public.cols",
     r"column a is character varying\(10\) on the old store but character varying\(20\) "
     r"on the new"),
    ("generated_only_on_old",
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, g int)"],
     [], {}, "public.cols", r"column g is generated only on the old store"),
    ("generated_only_on_new",
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, g int)"],
     ["CREATE TABLE cols (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED)"],
     [], {}, "public.cols", r"column g is generated only on the new store"),
    ("no_key",
     ["CREATE TABLE keyless (a int, b text)"], ["CREATE TABLE keyless (a int, b text)"],
     [], {}, "public.keyless",
     r"no primary key or unique NOT NULL key that is not deferrable \(ON CONFLICT cannot use a "
     r"deferrable one\): add one, or pass --lock-keyless"),
    ("nullable_unique_is_no_key",
     ["CREATE TABLE keyless (a int UNIQUE, b text)"],
     ["CREATE TABLE keyless (a int UNIQUE, b text)"],
     [], {}, "public.keyless",
     r"no primary key or unique NOT NULL key that is not deferrable \(ON CONFLICT cannot use a "
     r"deferrable one\): add one, or pass --lock-keyless"),
    ("partial_unique_is_no_key",
     ["CREATE TABLE keyless (a int NOT NULL, b text)",
      "CREATE UNIQUE INDEX ON keyless (a) WHERE a > 0"],
     ["CREATE TABLE keyless (a int NOT NULL, b text)",
      "CREATE UNIQUE INDEX ON keyless (a) WHERE a > 0"],
     [], {}, "public.keyless", r"no primary key or unique NOT NULL key"),
    ("keyless_leaf_even_with_lock_keyless",
     ["CREATE TABLE parted (a int, b text) PARTITION BY RANGE (a)",
      "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100)"],
     ["CREATE TABLE parted (a int, b text)"],
     ["--lock-keyless"], {}, "public.parted_1",
     r"no primary key or unique NOT NULL key that is not deferrable \(partition leaves cannot take "
     r"the locked copy\)"),
    ("new_store_lacks_the_key",
     ["CREATE TABLE keyed (id int PRIMARY KEY, v text)"],
     ["CREATE TABLE keyed (id int NOT NULL, v text)"],
     [], {}, "public.keyed",
     r"the new store has no unique key on \(id\): insert-if-absent could not tell a row "
     r"already there"),
    ("new_store_has_another_key",
     ["CREATE TABLE keyed (id int PRIMARY KEY, v text NOT NULL)"],
     ["CREATE TABLE keyed (id int NOT NULL, v text PRIMARY KEY)"],
     [], {}, "public.keyed", r"the new store has no unique key on \(id\)"),
    ("new_store_key_in_another_order",
     ["CREATE TABLE keyed (a int, b int, PRIMARY KEY (a, b))"],
     ["CREATE TABLE keyed (a int, b int, PRIMARY KEY (b, a))"],
     [], {}, "public.keyed", r"the new store has no unique key on \(a,b\)"),
    ("named_table_missing",
     [], [], ["--tables", "ok_t,nope"], {}, "public.nope", r"no such table on the old store"),
    ("named_table_not_mirrored",
     ["CREATE TABLE frozen (id int PRIMARY KEY)"], ["CREATE TABLE frozen (id int PRIMARY KEY)"],
     ["--tables", "ok_t,frozen"], {"tables": {"frozen": {"phase": "prepare"}}}, "public.frozen",
     r"its phase sends no writes to the new store \(set it to dual_write or backfill first\)"),
    ("named_table_in_cutover",
     ["CREATE TABLE moved (id int PRIMARY KEY)"], ["CREATE TABLE moved (id int PRIMARY KEY)"],
     ["--tables", "moved,ok_t"], {"tables": {"public.moved": {"phase": "cutover"}}},
     "public.moved", r"its phase sends no writes to the new store"),
]


def setup_ok_table(direct_conn, dbname: str, rows: int = 100) -> None:
    """ok_t: a table the job could copy, with rows on the old store only."""
    on_both(direct_conn, dbname, "CREATE TABLE ok_t (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", dbname,
             f"INSERT INTO ok_t SELECT g, 'v' || g FROM generate_series(1, {rows}) g")


def fill_old_tables(direct_conn, dbname: str) -> list[str]:
    """Puts 10 rows into every table of the old store (but ok_t) that can take them; returns the
    tables filled."""
    filled = []
    with direct_conn("old", dbname) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
            "AND NOT c.relispartition AND n.nspname = 'public' AND c.relname <> 'ok_t'")]
        for table in tables:
            columns = conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "AND attgenerated = '' ORDER BY attnum", (table,)).fetchall()
            names = ", ".join(f'"{name}"' for name, _ in columns)
            values = ", ".join(f"(g % 50)::text::{kind}" for _, kind in columns)
            conn.execute(f"INSERT INTO {table} ({names}) SELECT {values} "
                         "FROM generate_series(1, 10) g")
            filled.append(table)
    return filled


def table_exists_on_new(direct_conn, dbname: str, table: str) -> bool:
    return scalar(direct_conn, "new", dbname, "SELECT to_regclass(%s) IS NOT NULL", (table,))


def assert_nothing_copied(direct_conn, dbname: str, tables: list[str]) -> None:
    for table in tables:
        assert count(direct_conn, "new", dbname, table) == 0, f"{table} got rows on the new store"
    assert not progress_exists(direct_conn, dbname), \
        f"{PROGRESS} was created although the run was refused"


@pytest.mark.parametrize("case", REFUSALS, ids=[case[0] for case in REFUSALS])
def test_refusal_copies_nothing(case, env, tmp_path, fresh_db, direct_conn):
    _, old_sql, new_sql, args, settings, table, reason = case
    setup_ok_table(direct_conn, fresh_db)
    on_store(direct_conn, "old", fresh_db, *old_sql)
    on_store(direct_conn, "new", fresh_db, *new_sql)
    filled = fill_old_tables(direct_conn, fresh_db)
    config = write_config(env, tmp_path, **settings)

    outcome = backfill(env, config, fresh_db, *args)
    assert outcome.code == 1, str(outcome)
    report = outcome.report
    assert report["ok"] is False and report["stopped"] is False
    assert [r["table"] for r in report["refused"]] == [table], str(outcome)
    assert re.search(reason, report["refused"][0]["reason"]), report["refused"][0]["reason"]
    line = f"refused: {table}: {report['refused'][0]['reason']}"
    assert line in outcome.stderr.splitlines(), outcome.stderr
    assert "1 tables refused: nothing was copied" in outcome.stderr
    # The table it could copy is planned but untouched.
    ok_t = outcome.table("public.ok_t")
    assert ok_t["state"] == "pending" and ok_t["rows_copied"] == 0
    assert report["rows_copied"] == 0 and report["bytes"] == 0
    assert "sequences" not in report
    new_tables = [t for t in filled if table_exists_on_new(direct_conn, fresh_db, t)]
    assert_nothing_copied(direct_conn, fresh_db, ["ok_t", *new_tables])
    assert count(direct_conn, "old", fresh_db, "ok_t") == 100


def test_every_refusal_is_reported_at_once(env, tmp_path, fresh_db, direct_conn):
    """Several refused tables: the report names each, with its own reason."""
    setup_ok_table(direct_conn, fresh_db)
    on_store(direct_conn, "old", fresh_db,
             "CREATE TABLE gone (id int PRIMARY KEY)",
             "CREATE TABLE cols (id int PRIMARY KEY, a int)",
             "CREATE TABLE keyless (a int)",
             "CREATE TABLE keyed (id int PRIMARY KEY)")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE cols (id int PRIMARY KEY, a text)",
             "CREATE TABLE keyless (a int)",
             "CREATE TABLE keyed (id int)")
    fill_old_tables(direct_conn, fresh_db)
    outcome = backfill(env, write_config(env, tmp_path), fresh_db)
    assert outcome.code == 1, str(outcome)
    reasons = {r["table"]: r["reason"] for r in outcome.report["refused"]}
    assert set(reasons) == {"public.gone", "public.cols", "public.keyless", "public.keyed"}
    assert "missing on the new store" in reasons["public.gone"]
    assert "is integer on the old store but text on the new" in reasons["public.cols"]
    assert "no primary key or unique NOT NULL key" in reasons["public.keyless"]
    assert "the new store has no unique key on (id)" in reasons["public.keyed"]
    assert "4 tables refused: nothing was copied" in outcome.stderr
    for table, reason in reasons.items():
        assert f"refused: {table}: {reason}" in outcome.stderr
    assert_nothing_copied(direct_conn, fresh_db, ["ok_t", "cols", "keyless", "keyed"])


def test_tables_not_mirrored_are_left_out(env, tmp_path, fresh_db, direct_conn):
    """Without --tables, a table whose phase mirrors no writes is left out (reported, not
    refused); the others are copied."""
    setup_ok_table(direct_conn, fresh_db)
    on_both(direct_conn, fresh_db, "CREATE TABLE frozen (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO frozen SELECT generate_series(1, 10)")
    config = write_config(env, tmp_path, tables={"frozen": {"phase": "prepare"}})
    outcome = backfill(env, config, fresh_db)
    expect_done(outcome)
    assert outcome.report["not_mirrored"] == ["public.frozen"]
    assert "left out: public.frozen (its phase mirrors no writes to the new store)" \
        in outcome.stderr
    assert [t["table"] for t in outcome.report["tables"]] == ["public.ok_t"]
    assert count(direct_conn, "new", fresh_db, "frozen") == 0
    assert_same_rows(direct_conn, fresh_db, "ok_t", 100)


def test_mixed_case_table_not_mirrored_is_refused(env, tmp_path, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, 'CREATE SCHEMA "Sales"',
            'CREATE TABLE "Sales"."Orders" (id int PRIMARY KEY)')
    on_store(direct_conn, "old", fresh_db, 'INSERT INTO "Sales"."Orders" VALUES (1), (2)')
    # to_yaml writes keys as they are: this one as a YAML double-quoted scalar.
    config = write_config(env, tmp_path,
                          tables={json.dumps('"Sales"."Orders"'): {"phase": "prepare"}})
    run([env.pgdual_bin, "check-config", str(config)], timeout=30)
    named = backfill(env, config, fresh_db, "--tables", '"Sales"."Orders"', "--dry-run")
    assert named.code == 1, str(named)
    assert [r["table"] for r in named.report["refused"]] == ["Sales.Orders"], str(named)
    everything = backfill(env, config, fresh_db)
    assert everything.report["not_mirrored"] == ["Sales.Orders"], str(everything)
    assert count(direct_conn, "new", fresh_db, '"Sales"."Orders"') == 0


RUN_REFUSALS = [
    ("async", {"phase": "dual_write", "strategy": "async"},
     r"strategy async: a write queued in a pgdual instance's memory.*Switch migration\.strategy "
     r"to sync or outbox"),
    ("prepare", {"phase": "prepare"},
     r"database {db} is in phase prepare: the new store does not receive its writes.*Set "
     r"migration\.phase to dual_write"),
    ("cutover", {"phase": "cutover"}, r"database {db} is in phase cutover"),
    ("cleanup", {"phase": "cleanup", "confirm_cleanup": True},
     r"database {db} is in phase cleanup"),
    ("tenant_rule_prepare",
     {"phase": "dual_write", "tenants": [{"match": {"database": "{db}"}, "phase": "prepare"}]},
     r"database {db} is in phase prepare"),
]


def _with_db(value, dbname: str):
    if isinstance(value, str):
        return value.replace("{db}", dbname)
    if isinstance(value, dict):
        return {k: _with_db(v, dbname) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_db(v, dbname) for v in value]
    return value


@pytest.mark.parametrize("case", RUN_REFUSALS, ids=[case[0] for case in RUN_REFUSALS])
def test_whole_run_refused(case, env, tmp_path, fresh_db, direct_conn):
    _, settings, reason = case
    settings = _with_db(settings, fresh_db)
    setup_ok_table(direct_conn, fresh_db)
    config = write_config(env, tmp_path, **settings)
    run([env.pgdual_bin, "check-config", str(config)], timeout=30)  # a valid config
    for args in ([], ["--dry-run"]):
        outcome = backfill(env, config, fresh_db, *args)
        assert outcome.code == 1, str(outcome)
        expected = reason.replace("{db}", re.escape(fresh_db))
        assert re.search(expected, outcome.report.get("error", "")), str(outcome)
        assert f"pgdual backfill: {outcome.report['error']}" in outcome.stderr
        assert outcome.report["ok"] is False
        assert outcome.report["tables"] == [] and outcome.report["refused"] == []
        assert_nothing_copied(direct_conn, fresh_db, ["ok_t"])


# --------------------------------------------------------------------------
# The command line


MALFORMED = [
    ("workers_zero", ["--workers", "0"], "--workers: expected a whole number from 1 to 64"),
    ("workers_too_many", ["--workers", "65"], "--workers: expected a whole number from 1 to 64"),
    ("workers_fraction", ["--workers", "1.5"], "--workers: expected a whole number from 1 to 64"),
    ("workers_word", ["--workers", "two"], "--workers: expected a whole number from 1 to 64"),
    ("rate_word", ["--max-rows-per-second", "abc"],
     "--max-rows-per-second: expected a number > 0"),
    ("rate_zero", ["--max-rows-per-second", "0"], "--max-rows-per-second: expected a number > 0"),
    ("rate_negative", ["--max-rows-per-second", "-5"],
     "--max-rows-per-second: expected a number > 0"),
    ("chunk_ms_small", ["--chunk-ms", "5"], "--chunk-ms: expected milliseconds from 10 to 60000"),
    ("chunk_ms_word", ["--chunk-ms", "fast"],
     "--chunk-ms: expected milliseconds from 10 to 60000"),
    ("resume_and_restart", ["--resume", "--restart"],
     "--resume and --restart exclude each other"),
    ("unknown_flag", ["--frobnicate"], "unknown argument --frobnicate"),
    ("value_missing", ["--workers"], "unknown argument --workers"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_command_line_exits_2(case, env, config, fresh_db, direct_conn):
    _, args, message = case
    setup_ok_table(direct_conn, fresh_db)
    outcome = backfill(env, config, fresh_db, *args)
    assert outcome.code == 2, str(outcome)
    assert message in outcome.stderr, str(outcome)
    assert outcome.stdout == "", "no JSON summary for a malformed command line"
    assert_nothing_copied(direct_conn, fresh_db, ["ok_t"])


def test_config_is_required(env, run):
    result = run([env.pgdual_bin, "backfill", "--database", "postgres"], timeout=30, check=False)
    assert result.returncode == 2
    assert "backfill needs --config FILE" in result.stderr
    assert result.stdout == ""


# --------------------------------------------------------------------------
# --dry-run


def test_dry_run_plans_and_copies_nothing(env, config, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TYPE mood AS ENUM ('sad', 'happy')",
            "CREATE TABLE plain (id int PRIMARY KEY, v text)",
            "CREATE TABLE moods (a int, b text, m mood, PRIMARY KEY (a, b))",
            "CREATE TABLE keyless (v text)",
            "CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO plain SELECT g, 'v' FROM generate_series(1, 1000) g",
             "INSERT INTO moods SELECT g, 'b', 'sad' FROM generate_series(1, 10) g",
             "INSERT INTO keyless VALUES ('x')",
             "INSERT INTO tree VALUES (1, NULL), (2, 1)",
             "ANALYZE plain")
    outcome = backfill(env, config, fresh_db, "--dry-run", "--lock-keyless")
    assert outcome.code == 0, str(outcome)
    assert outcome.report["ok"] is True
    lines = outcome.stderr.splitlines()
    assert "would copy public.plain -> public.plain: by key (id), binary COPY, ~1000 rows" in lines
    assert "would copy public.moods -> public.moods: by key (a, b), text COPY, unknown rows" \
        in lines
    assert ("would copy public.keyless -> public.keyless: whole, under a SHARE lock, binary COPY, "
            "unknown rows") in lines
    assert "would copy public.tree -> public.tree: by key (id), binary COPY, unknown rows" in lines
    assert "foreign key not ordered: public.tree -> public.tree (self-reference)" in lines
    assert outcome.report["unordered_foreign_keys"] == ["public.tree -> public.tree "
                                                        "(self-reference)"]
    formats = {t["table"]: (t["format"], t["locked_copy"], t["state"], t["rows_copied"])
               for t in outcome.report["tables"]}
    assert formats == {"public.plain": ("binary", False, "pending", 0),
                       "public.moods": ("text", False, "pending", 0),
                       "public.keyless": ("binary", True, "pending", 0),
                       "public.tree": ("binary", False, "pending", 0)}
    assert "sequences" not in outcome.report
    assert_nothing_copied(direct_conn, fresh_db, ["plain", "moods", "keyless", "tree"])
    assert scalar(direct_conn, "new", fresh_db,
                  "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgdual'") == 0

    # A dry run with a refusal says so and exits 1.
    refused = backfill(env, config, fresh_db, "--dry-run")
    assert refused.code == 1, str(refused)
    assert [r["table"] for r in refused.report["refused"]] == ["public.keyless"]
    assert_nothing_copied(direct_conn, fresh_db, ["plain", "moods", "keyless", "tree"])


# --------------------------------------------------------------------------
# A byte-exact copy


TYPES_SCHEMA = [
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
    "CREATE TYPE pair AS (a int, b text)",
    # Every class, with user types: copied as text.
    """CREATE TABLE everything (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         i int, b bigint, n numeric, f float8, r4 real, t text, vc varchar(20), ch char(5),
         bt bytea, jb jsonb, js json,
         ai int[], at text[], md int[][], ir int4range, tr tstzrange,
         m mood, ma mood[], d posint, c pair, ca pair[],
         ts timestamp, tz timestamptz, dt date, tm time, iv interval, u uuid, ip inet, cd cidr,
         vb bit varying, bo boolean, mo money, x xml,
         g text GENERATED ALWAYS AS (coalesce(t, '<null>') || '/' || coalesce(i::text, '-'))
           STORED)""",
    # Built-in types only: copied in binary.
    """CREATE TABLE builtin_only (
         id int PRIMARY KEY, i int, b bigint, n numeric, f float8, r4 real, t text,
         vc varchar(20), ch char(5), bt bytea, jb jsonb, js json,
         ai int[], at text[], md int[][], ir int4range, tr tstzrange, nr numrange,
         ts timestamp, tz timestamptz, dt date, tm time, iv interval, u uuid, ip inet, cd cidr,
         vb bit varying, bo boolean, ab bool[], fa float8[],
         g bigint GENERATED ALWAYS AS (coalesce(b, 0) / 2) STORED)""",
]

TYPES_ROWS = r"""
INSERT INTO everything (i, b, n, f, r4, t, vc, ch, bt, jb, js, ai, at, md, ir, tr, m, ma, d, c,
                        ca, ts, tz, dt, tm, iv, u, ip, cd, vb, bo, mo, x) VALUES
 (1, 9223372036854775807, 12345678901234567890.123456789, 'NaN', 'NaN',
  'it''s "quoted" \ back\\slash, {braces} and (parens)', 'abc', 'ab',
  '\x00ff5c0a0d', '{"a": [1, 2.50, null], "b": "x"}', '{ "a" :  [1,2.50] ,"dup":1, "dup":2 }',
  '{1,NULL,3}', '{"a,b","c\"d",NULL,"NULL",""}', '{{1,2},{3,NULL}}', '[1,10)',
  '[2020-01-01 00:00+00,2020-02-01 00:00+00)', 'happy', '{sad,NULL,ok}', 5, ROW(1, 'x,"y"'),
  ARRAY[ROW(1, 'a'), NULL, ROW(NULL, 'b\c')]::pair[],
  '2020-02-29 23:59:59.999999', '2020-02-29 23:59:59.999999+05:30', '2020-02-29', '23:59:59.5',
  '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24',
  '10.0.0.0/8', B'10101', true, '12.34', '<a x="1">t &amp; u</a>'),
 (-2147483648, -9223372036854775808, 'NaN', '-0', '-0', '', '', '',
  '\x', '[]', '[ ]', '{}', '{}', '{{{1}}}', 'empty', '(,)', 'sad', '{}', 1, ROW(NULL, NULL),
  '{}', 'infinity', '-infinity', 'infinity', '00:00', '-1 days +00:00:00.000001',
  '00000000-0000-0000-0000-000000000000', '::1', '::/0', B'', false, '-0.01', ''),
 (0, 0, '-0.000000000000000000001', 1e-300, 1e-38,
  E'unicode \u00e9\u4e2d\U0001F600 tab\there', E'\u00e9\u00e8', E'\u4e2d',
  E'\\x5c', '{"nested": {"k": "\u00e9", "e": ""}}', E'"str\\n"', '{-1}', '{" "}', NULL,
  '(0,1]', NULL, 'ok', NULL, 2147483647, ROW(3, ''), ARRAY[NULL]::pair[],
  '0001-01-01 00:00:00', '1999-12-31 23:59:60+00', '0001-01-01', '24:00', '0',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '2001:db8::ff00:42:8329/128', '2001:db8::/32', B'1',
  NULL, '0', '<!-- c --><x/>'),
 (NULL, NULL, 'Infinity', '-Infinity', 'Infinity', NULL, NULL, NULL, NULL, 'null', 'null',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (7, 7, '-Infinity', 'Infinity', '-Infinity', E'line\nbreak\r\nand \\N literal\\.', E'\\N', '\.',
  E'\\x000102', '{"a": 1e400, "b": 0.1000}', '{"a":1e400 , "b" : 0.1000}', '{1,2}', '{a}',
  '{{NULL,NULL},{NULL,NULL}}', '[,)', '[2020-01-01,2020-01-01]', 'happy', '{happy}', 3,
  ROW(4, NULL), '{"(5,\"\")"}', '2020-01-01', '2020-01-01 12:00', '2020-01-01', '12:00',
  '-2 hours', '11111111-2222-3333-4444-555555555555', '10.0.0.1', '10.1.0.0/16',
  B'0000000000000000000000000000000000000000000000000000000000000000000001', true,
  '92233720368547758.07', NULL),
 (8, 8, 1.5, 0.1, 0.1, 'nul\\0 and \\\\ and \\t', 'x', 'x', E'\\xdeadbeef', '1', '1',
  '{}', '{"\\"}', NULL, '[5,5]', NULL, NULL, '{NULL}', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '1 mon -1 days', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- Many rows, so that the copy takes several chunks.
INSERT INTO everything (i, n, f, t, jb, ai, tz, iv)
  SELECT g, g / 7.0, g / 3.0, repeat('x', g % 50) || g, jsonb_build_object('g', g),
         ARRAY[g, NULL, -g], '2000-01-01'::timestamptz + g * interval '1 hour 1 second',
         g * interval '1 minute'
  FROM generate_series(100, 4000) g;
-- Gaps in the identity values, a row given its identity by hand.
DELETE FROM everything WHERE i BETWEEN 200 AND 210;
INSERT INTO everything (id, i) OVERRIDING SYSTEM VALUE VALUES (1000000, 42);
INSERT INTO builtin_only (id, i, b, n, f, r4, t, vc, ch, bt, jb, js, ai, at, md, ir, tr, nr, ts,
                          tz, dt, tm, iv, u, ip, cd, vb, bo, ab, fa)
  SELECT id, i, b, n, f, r4, t, vc, ch, bt, jb, js, ai, at, md, ir, tr,
         CASE WHEN n IS NULL OR n = 'NaN' OR n IN ('Infinity', '-Infinity') THEN NULL
              ELSE numrange(n, n + 1) END,
         ts, tz, dt, tm, iv, u, ip, cd, vb, bo, ARRAY[bo, NULL, NOT bo], ARRAY[f, -f, NULL]
  FROM everything;
INSERT INTO builtin_only (id, nr, fa) VALUES (-1, '(,)', '{NaN,-0,1e-300,Infinity}'),
                                             (-2, 'empty', '{}');
"""


def test_every_type_class_copied_byte_exact(env, config, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db, *TYPES_SCHEMA)
    # The new store computes a stored generated column itself: a different expression there
    # shows that the value is not copied.
    on_both(direct_conn, fresh_db, "CREATE TABLE gen (id int PRIMARY KEY, a int)")
    on_store(direct_conn, "old", fresh_db,
             "ALTER TABLE gen ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED")
    on_store(direct_conn, "new", fresh_db,
             "ALTER TABLE gen ADD COLUMN g int GENERATED ALWAYS AS (a * 3) STORED")
    # The same columns in another order on each store, a dropped one on the old store.
    on_store(direct_conn, "old", fresh_db,
             "CREATE TABLE reordered (x int, id int PRIMARY KEY, gone text, y text, z date)",
             "ALTER TABLE reordered DROP COLUMN gone")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE reordered (z date, y text, id int PRIMARY KEY, x int)")
    on_store(direct_conn, "old", fresh_db, TYPES_ROWS,
             "INSERT INTO gen (id, a) SELECT g, g FROM generate_series(1, 50) g",
             "INSERT INTO reordered SELECT g, g * 10, 'y' || g, DATE '2020-01-01' + g "
             "FROM generate_series(1, 20) g")
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "10")
    expect_done(outcome)
    assert outcome.table("public.everything")["format"] == "text"
    assert outcome.table("public.builtin_only")["format"] == "binary"
    everything = count(direct_conn, "old", fresh_db, "everything")
    assert everything == 3897
    assert outcome.table("public.everything")["rows_copied"] == everything
    assert outcome.table("public.everything")["chunks"] >= 2
    assert_same_rows(direct_conn, fresh_db, "everything", everything)
    assert_same_rows(direct_conn, fresh_db, "builtin_only", everything + 2)
    # Identity values preserved, gaps and the hand-set one included.
    ids = "SELECT array_agg(id ORDER BY id) FROM everything"
    assert scalar(direct_conn, "old", fresh_db, ids) == scalar(direct_conn, "new", fresh_db, ids)
    assert scalar(direct_conn, "new", fresh_db,
                  "SELECT count(*) FROM everything WHERE id = 1000000 AND i = 42") == 1
    # Values the text forms could blur, checked as values on the new store.
    checks = {
        "SELECT f::text FROM everything WHERE i = -2147483648": "-0",
        "SELECT (f = 1e-300)::text FROM builtin_only WHERE id = 3": "true",
        "SELECT js::text FROM everything WHERE i = 1":
            '{ "a" :  [1,2.50] ,"dup":1, "dup":2 }',
        "SELECT js::text FROM builtin_only WHERE i = 7": '{"a":1e400 , "b" : 0.1000}',
        "SELECT encode(bt, 'hex') FROM everything WHERE i = 1": "00ff5c0a0d",
        "SELECT (t = '')::text FROM everything WHERE i = -2147483648": "true",
        "SELECT (t IS NULL)::text FROM everything WHERE b IS NULL AND n = 'Infinity'": "true",
        "SELECT fa::text FROM builtin_only WHERE id = -1": "{NaN,-0,1e-300,Infinity}",
    }
    for sql, expected in checks.items():
        assert scalar(direct_conn, "new", fresh_db, sql) == expected, sql
    assert_same_rows(direct_conn, fresh_db, "reordered", 20, columns="id, x, y, z")
    # gen: a copied, g computed by the new store's expression.
    assert query(direct_conn, "new", fresh_db,
                 "SELECT count(*), sum(a), sum(g) FROM gen") == [(50, 1275, 3825)]


PARTITIONED_TARGETS = [
    "partitioned",
    "plain",
]


@pytest.mark.parametrize("target", PARTITIONED_TARGETS)
def test_partitioned_table_leaves_land_in_the_root(target, env, config, fresh_db, direct_conn):
    """The old store's leaves (range partitions) go into the root on the new store: partitioned
    there too, by hash with other leaf names, or a plain table. Naming the root in --tables takes
    its leaves."""
    on_store(direct_conn, "old", fresh_db,
             "CREATE TABLE events (id bigint, region text, payload jsonb, PRIMARY KEY (id)) "
             "PARTITION BY RANGE (id)",
             "CREATE TABLE events_low PARTITION OF events FOR VALUES FROM (MINVALUE) TO (2000)",
             "CREATE TABLE events_high PARTITION OF events FOR VALUES FROM (2000) TO (4000)",
             "CREATE TABLE events_rest PARTITION OF events DEFAULT",
             "INSERT INTO events SELECT g, 'r' || g % 7, jsonb_build_object('g', g) "
             "FROM generate_series(-100, 5000) g")
    if target == "partitioned":
        on_store(direct_conn, "new", fresh_db,
                 "CREATE TABLE events (id bigint, region text, payload jsonb, PRIMARY KEY (id)) "
                 "PARTITION BY HASH (id)",
                 *[f"CREATE TABLE events_h{i} PARTITION OF events "
                   f"FOR VALUES WITH (MODULUS 3, REMAINDER {i})" for i in range(3)])
    else:
        on_store(direct_conn, "new", fresh_db,
                 "CREATE TABLE events (id bigint PRIMARY KEY, region text, payload jsonb)")
    outcome = backfill(env, config, fresh_db, "--tables", "events", "--workers", "2")
    expect_done(outcome)
    leaves = {t["table"]: (t["target"], t["rows_copied"]) for t in outcome.report["tables"]}
    assert leaves == {"public.events_low": ("public.events", 2100),
                      "public.events_high": ("public.events", 2000),
                      "public.events_rest": ("public.events", 1001)}
    assert_same_rows(direct_conn, fresh_db, "events", 5101)
    if target == "partitioned":
        for i in range(3):
            assert count(direct_conn, "new", fresh_db, f"events_h{i}") > 0
    states = query(direct_conn, "new", fresh_db,
                   f"SELECT source_table, target_table, state FROM {PROGRESS} ORDER BY 1")
    assert states == [("public.events_high", "public.events", "done"),
                      ("public.events_low", "public.events", "done"),
                      ("public.events_rest", "public.events", "done")]


def test_composite_and_quoted_text_keys_across_chunks(env, config, fresh_db, direct_conn):
    """Chunk boundaries on a composite key (int, varchar, timestamptz) and on a text key whose
    values hold quotes, backslashes, commas and braces: the last key round-trips through
    backfill_progress and the next chunk's WHERE."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE composite (tenant int, code varchar(60), at timestamptz, v text, "
            "PRIMARY KEY (tenant, code, at))",
            "CREATE TABLE quoted (k text PRIMARY KEY, v int)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO composite SELECT g % 3, 'c''o\"d\\e,' || (g % 17), "
             "'2021-03-04 05:06:07.123456+00'::timestamptz + g * interval '1.5 seconds', "
             "'v' || g FROM generate_series(1, 6000) g",
             "INSERT INTO quoted SELECT 'O''Brien \"q\" \\ {a,b} ' || chr(233) || ' ' || "
             "lpad(g::text, 5, '0') || CASE WHEN g % 2 = 0 THEN ' ' ELSE '' END, g "
             "FROM generate_series(1, 6000) g",
             "INSERT INTO quoted VALUES ('', 0), ('\"', -1), ('\\', -2), ('''', -3), "
             "('{}', -4), ('NULL', -5), (' ', -6)")
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "10")
    expect_done(outcome)
    for table, rows in (("composite", 6000), ("quoted", 6007)):
        summary = outcome.table(f"public.{table}")
        assert summary["rows_copied"] == rows and summary["rows_skipped"] == 0, summary
        assert summary["chunks"] >= 2, summary
        assert_same_rows(direct_conn, fresh_db, table, rows)
        progress = progress_row(direct_conn, fresh_db, f"public.{table}")
        assert progress["state"] == "done" and progress["chunks"] == summary["chunks"]
    with direct_conn("old", fresh_db) as conn:
        conn.execute("SET timezone = 'UTC'")
        last_composite = list(conn.execute(
            "SELECT tenant::text, code::text, at::text FROM composite "
            "ORDER BY tenant DESC, code DESC, at DESC LIMIT 1").fetchone())
        last_quoted = [conn.execute("SELECT max(k) FROM quoted").fetchone()[0]]
    assert progress_row(direct_conn, fresh_db, "public.composite")["last_key"] == last_composite
    assert progress_row(direct_conn, fresh_db, "public.quoted")["last_key"] == last_quoted
    assert progress_row(direct_conn, fresh_db, "public.composite")["key_columns"] == \
        ["tenant", "code", "at"]


def test_odd_table_names(env, config, fresh_db, direct_conn):
    """Names that need quoting (case, spaces, dots, commas, quotes) are copied, reported as
    stored, and recorded in backfill_progress."""
    on_both(direct_conn, fresh_db, 'CREATE SCHEMA "Odd Schema"',
            'CREATE TABLE "Odd Schema"."x.y" ("Key" int PRIMARY KEY, "v,w" text)',
            'CREATE TABLE "My""Table" ("a b" text PRIMARY KEY, "select" int)',
            'CREATE TABLE "a,b" (id int PRIMARY KEY)')
    on_store(direct_conn, "old", fresh_db,
             'INSERT INTO "Odd Schema"."x.y" SELECT g, \'v\' || g FROM generate_series(1, 2500) g',
             'INSERT INTO "My""Table" SELECT \'k "\' || g, g FROM generate_series(1, 2500) g',
             'INSERT INTO "a,b" SELECT generate_series(1, 5)')
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "10")
    expect_done(outcome)
    assert sorted(t["table"] for t in outcome.report["tables"]) == \
        ["Odd Schema.x.y", 'public.My"Table', "public.a,b"]
    assert_same_rows(direct_conn, fresh_db, '"Odd Schema"."x.y"', 2500)
    assert_same_rows(direct_conn, fresh_db, '"My""Table"', 2500)
    assert_same_rows(direct_conn, fresh_db, '"a,b"', 5)
    assert progress_row(direct_conn, fresh_db, 'public.My"Table')["key_columns"] == ['"a b"']
    assert progress_row(direct_conn, fresh_db, "Odd Schema.x.y")["last_key"] == ["2500"]
    # --tables takes SQL spellings.
    named = backfill(env, config, fresh_db, "--tables", '"Odd Schema"."x.y"', "--dry-run")
    assert named.code == 0, str(named)
    assert [t["table"] for t in named.report["tables"]] == ["Odd Schema.x.y"]


def test_tables_option_takes_quoted_names_with_commas_and_quotes(env, config, fresh_db,
                                                                 direct_conn):
    on_both(direct_conn, fresh_db, 'CREATE TABLE "My""Table" (id int PRIMARY KEY)',
            'CREATE TABLE "a,b" (id int PRIMARY KEY)')
    for spelling, stored in (('"My""Table"', 'public.My"Table'), ('"a,b"', "public.a,b")):
        outcome = backfill(env, config, fresh_db, "--tables", spelling, "--dry-run")
        assert outcome.report["refused"] == [], str(outcome)
        assert [t["table"] for t in outcome.report["tables"]] == [stored]


def test_database_from_the_config(env, tmp_path, fresh_db, direct_conn):
    """Without --database the job copies backends.old.dbname; with neither it refuses."""
    setup_ok_table(direct_conn, fresh_db)
    config = deep_merge(default_config(env, free_port(), free_port()), migration("dual_write"))
    bare = tmp_path / "bare.yaml"
    bare.write_text(to_yaml(config))
    result = run([env.pgdual_bin, "backfill", "--config", str(bare)], timeout=RUN_TIMEOUT,
                 check=False)
    assert result.returncode == 1, result.stderr
    report = parse_report(result.stdout)
    assert report["error"] == "no database: give --database (backends.old.dbname is not set)"
    assert_nothing_copied(direct_conn, fresh_db, ["ok_t"])

    named = tmp_path / "named.yaml"
    named.write_text(to_yaml(deep_merge(config, {"backends": {"old": {"dbname": fresh_db}}})))
    result = run([env.pgdual_bin, "backfill", "--config", str(named)], timeout=RUN_TIMEOUT,
                 check=False)
    assert result.returncode == 0, result.stderr
    assert parse_report(result.stdout)["database"] == fresh_db
    assert_same_rows(direct_conn, fresh_db, "ok_t", 100)


def test_latin1_old_store_to_utf8_new_store(env, config, make_db, direct_conn):
    """Text travels in the sessions' client encoding (UTF8), binary COPY included: an old
    database in LATIN1 lands intact in a UTF8 one."""
    dbname = make_db()
    with direct_conn("old", "postgres") as conn:
        conn.execute(f'DROP DATABASE "{dbname}"')
        conn.execute(f"CREATE DATABASE \"{dbname}\" ENCODING 'LATIN1' TEMPLATE template0 "
                     "LOCALE 'C'")
    schema = ("CREATE TABLE enc (id int PRIMARY KEY, t text, j jsonb, js json, v varchar(10), "
              "c char(3), x xml, n name, a text[])")
    on_both(direct_conn, dbname, schema)
    with direct_conn("old", dbname, client_encoding="UTF8") as conn:
        conn.execute("INSERT INTO enc SELECT g, 'café ÿ ' || g, '{\"é\": \"à\"}', "
                     "'{\"ß\": 1}', 'é', 'ñ', '<a b=\"é\">ü</a>', 'naïve', ARRAY['ø', NULL] "
                     "FROM generate_series(1, 1500) g")
    outcome = backfill(env, config, dbname)
    expect_done(outcome)
    assert outcome.table("public.enc")["format"] == "binary"
    assert_same_rows(direct_conn, dbname, "enc", 1500)
    assert scalar(direct_conn, "new", dbname, "SELECT t FROM enc WHERE id = 7") == "café ÿ 7"


def test_key_chosen_is_the_one_both_stores_have(env, config, fresh_db, direct_conn):
    """The old store's primary key is missing on the new store, a unique NOT NULL key both have
    orders the chunks instead."""
    on_store(direct_conn, "old", fresh_db,
             "CREATE TABLE accounts (id int PRIMARY KEY, code text NOT NULL UNIQUE, v int)")
    on_store(direct_conn, "new", fresh_db,
             "CREATE TABLE accounts (id int NOT NULL, code text NOT NULL, v int)",
             "CREATE UNIQUE INDEX accounts_code ON accounts (code)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO accounts SELECT g, md5(g::text), g FROM generate_series(1, 3000) g")
    dry = backfill(env, config, fresh_db, "--dry-run")
    assert dry.code == 0, str(dry)
    assert "would copy public.accounts -> public.accounts: by key (code), binary COPY" \
        in dry.stderr
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "10")
    expect_done(outcome)
    assert_same_rows(direct_conn, fresh_db, "accounts", 3000)
    progress = progress_row(direct_conn, fresh_db, "public.accounts")
    assert progress["key_columns"] == ["code"]
    assert progress["last_key"] == [scalar(direct_conn, "old", fresh_db,
                                           "SELECT max(code) FROM accounts")]


def test_deferrable_key_refused_or_copied(env, config, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE deferred (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO deferred SELECT g, 'v' FROM generate_series(1, 100) g")
    outcome = backfill(env, config, fresh_db)
    if outcome.code == 0:
        assert_same_rows(direct_conn, fresh_db, "deferred", 100)
    else:
        assert outcome.code == 1, str(outcome)
        assert [r["table"] for r in outcome.report["refused"]] == ["public.deferred"], \
            str(outcome)
        assert "deferrable" in outcome.report["refused"][0]["reason"].lower()
        assert_nothing_copied(direct_conn, fresh_db, ["deferred"])


def test_database_missing_on_the_new_store(env, config, fresh_db, direct_conn):
    """The new store has no such database: exit 1, the connection error in the summary."""
    setup_ok_table(direct_conn, fresh_db)
    with direct_conn("new", "postgres") as conn:
        conn.execute(f'DROP DATABASE "{fresh_db}" WITH (FORCE)')
    outcome = backfill(env, config, fresh_db)
    assert outcome.code == 1, str(outcome)
    assert outcome.report["error"].startswith("new store: "), str(outcome)
    assert fresh_db in outcome.report["error"]
    assert f"pgdual backfill: {outcome.report['error']}" in outcome.stderr
    assert env.password not in outcome.stdout + outcome.stderr


# --------------------------------------------------------------------------
# Order, keyless tables


def test_parent_copied_before_child_with_two_workers(env, config, fresh_db, direct_conn):
    """The new store's child references its parent: the child (first by name) waits for the
    parent, so no row of it misses its parent."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE z_parent (id int PRIMARY KEY, v text)",
            "CREATE TABLE a_child (id int PRIMARY KEY, "
            "parent_id int NOT NULL REFERENCES z_parent, v text)",
            "CREATE TABLE m_other (id int PRIMARY KEY)",
            "CREATE TABLE n_empty (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO z_parent SELECT g, repeat('p', 100) FROM generate_series(1, 30000) g",
             "INSERT INTO a_child SELECT g, 30001 - g, 'c' FROM generate_series(1, 30000) g",
             "INSERT INTO m_other SELECT generate_series(1, 100)")
    outcome = backfill(env, config, fresh_db, "--workers", "2")
    expect_done(outcome)
    assert outcome.report["unordered_foreign_keys"] == []
    assert_same_rows(direct_conn, fresh_db, "z_parent", 30000)
    assert_same_rows(direct_conn, fresh_db, "a_child", 30000)
    assert_same_rows(direct_conn, fresh_db, "m_other", 100)
    empty = outcome.table("public.n_empty")
    assert (empty["rows_copied"], empty["chunks"], empty["bytes"]) == (0, 0, 0)
    assert progress_row(direct_conn, fresh_db, "public.n_empty")["state"] == "done"
    parent_done, child_started = query(
        direct_conn, "new", fresh_db,
        f"SELECT (SELECT finished_at FROM {PROGRESS} WHERE source_table = 'public.z_parent'), "
        f"(SELECT started_at FROM {PROGRESS} WHERE source_table = 'public.a_child')")[0]
    assert child_started >= parent_done


def test_lock_keyless_replaces_the_new_stores_rows(env, config, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE keyless (a int, b text, g int GENERATED ALWAYS AS (a + 1) STORED)",
            "CREATE TABLE keyed (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db,
             # Duplicates and NULLs: only a whole copy can carry them.
             "INSERT INTO keyless (a, b) SELECT g % 100, CASE WHEN g % 10 = 0 THEN NULL "
             "ELSE 'b' || g % 3 END FROM generate_series(1, 3000) g",
             "INSERT INTO keyed SELECT generate_series(1, 10)")
    on_store(direct_conn, "new", fresh_db,
             "INSERT INTO keyless (a, b) VALUES (1, 'b1'), (-1, 'stale'), (NULL, NULL)")
    outcome = backfill(env, config, fresh_db, "--lock-keyless")
    expect_done(outcome)
    summary = outcome.table("public.keyless")
    assert summary["locked_copy"] is True and summary["chunks"] == 1
    assert summary["rows_copied"] == 3000 and summary["rows_replaced"] == 3
    assert_same_rows(direct_conn, fresh_db, "keyless", 3000)
    assert_same_rows(direct_conn, fresh_db, "keyed", 10)
    progress = progress_row(direct_conn, fresh_db, "public.keyless")
    assert progress["state"] == "done" and progress["rows_copied"] == 3000
    assert progress["key_columns"] == []


# --------------------------------------------------------------------------
# Progress


BIG_ROWS = 50000


def copy_big_table(env, config: Path, dbname: str, direct_conn) -> tuple[Outcome, int]:
    """Copies 50,000 rows in chunks of ~20 ms; 100 rows are already on the new store (as dual
    writes would have put them), one of them different. (The outcome, the bytes the COPYs
    carried.)"""
    on_both(direct_conn, dbname, "CREATE TABLE big (id int PRIMARY KEY, v text, n numeric)")
    on_store(direct_conn, "old", dbname,
             "INSERT INTO big SELECT g, md5(g::text), g * 1.5 "
             f"FROM generate_series(1, {BIG_ROWS}) g")
    on_store(direct_conn, "new", dbname,
             "INSERT INTO big SELECT g, md5(g::text), g * 1.5 "
             "FROM generate_series(20001, 20100) g",
             "UPDATE big SET v = 'different' WHERE id = 20050")
    outcome = backfill(env, config, dbname, "--chunk-ms", "20")
    expect_done(outcome)
    chunks = outcome.table("public.big")["chunks"]
    expected_bytes = copy_bytes(direct_conn, dbname, "big", binary=True) \
        + BINARY_COPY_OVERHEAD * (chunks - 1)
    return outcome, expected_bytes


def test_progress_summary_table_and_lines(env, config, fresh_db, direct_conn):
    """The JSON summary's counts and bytes are exact (the 99 identical rows already there are
    skipped, the one that differs is overwritten with the old store's value), the progress row
    says done with the last key, the plain stderr lines end in done."""
    outcome, expected_bytes = copy_big_table(env, config, fresh_db, direct_conn)
    rows = BIG_ROWS
    summary = outcome.table("public.big")
    assert summary["format"] == "binary"
    assert summary["rows_copied"] == rows - 100, summary
    assert summary["rows_skipped"] == 99, summary
    assert summary["rows_overwritten"] == 1, summary
    chunks = summary["chunks"]
    assert chunks >= 3, summary
    assert summary["bytes"] == expected_bytes, summary
    assert outcome.report["rows_copied"] == rows - 100
    assert outcome.report["rows_skipped"] == 99
    assert outcome.report["bytes"] == expected_bytes
    assert summary["seconds"] > 0 and summary["rows_per_second"] > 0
    assert_same_rows(direct_conn, fresh_db, "big", rows)

    progress = progress_row(direct_conn, fresh_db, "public.big")
    assert progress["state"] == "done", progress
    assert progress["target_table"] == "public.big"
    assert progress["key_columns"] == ["id"]
    assert progress["last_key"] == [str(rows)]
    assert (progress["rows_copied"], progress["rows_skipped"], progress["rows_overwritten"],
            progress["bytes"], progress["chunks"]) == (rows - 100, 99, 1, expected_bytes, chunks)
    assert progress["rows_per_second"] > 0, progress
    assert 0 < progress["last_chunk_rows"] <= rows - 1000, progress
    assert progress["seconds"] > 0, progress
    assert progress["error"] is None and progress["job"]
    assert progress["started_at"] is not None and progress["finished_at"] is not None
    assert progress["finished_at"] >= progress["started_at"]

    lines = progress_lines(outcome.stderr, "public.big")
    assert lines, outcome.stderr
    assert "\x1b[" not in outcome.stderr, "no terminal codes when stderr is not a tty"
    assert re.fullmatch(r"public\.big \[#{20}\]  100%  50,000 rows \(99 already there\)  "
                        r"done in \d+s", lines[-1]), lines
    # A line per state change: the first shows the table before it is done.
    assert "done" not in lines[0], lines


def test_rows_already_there_skipped_or_overwritten(env, config, fresh_db, direct_conn):
    """A row the new store already has is left alone when it is identical and set to the old
    store's value when it differs, also for types without an equality operator (json, point,
    xml); stored generated columns follow on the new store."""
    on_both(direct_conn, fresh_db,
            "CREATE TABLE there (id int PRIMARY KEY, js json, p point, x xml, n numeric, "
            "g numeric GENERATED ALWAYS AS (n * 2) STORED)")
    rows = ("INSERT INTO there (id, js, p, x, n) SELECT g, ('{\"g\": ' || g || '}')::json, "
            "point(g, -g), ('<g>' || g || '</g>')::xml, g / 4.0 FROM generate_series(1, 40) g")
    on_store(direct_conn, "old", fresh_db, rows)
    on_store(direct_conn, "new", fresh_db, rows,
             "DELETE FROM there WHERE id > 30",                    # 10 to insert
             "UPDATE there SET js = '{ \"g\": 1 }' WHERE id = 1",  # whitespace only
             "UPDATE there SET p = point(0, 0) WHERE id = 2",
             "UPDATE there SET x = '<other/>' WHERE id = 3",
             "UPDATE there SET n = 2.50 WHERE id = 10",            # 2.5 on the old store
             "UPDATE there SET js = NULL, p = NULL WHERE id = 4")
    outcome = backfill(env, config, fresh_db)
    expect_done(outcome)
    summary = outcome.table("public.there")
    assert (summary["rows_copied"], summary["rows_overwritten"], summary["rows_skipped"]) == \
        (10, 5, 25), summary
    assert_same_rows(direct_conn, fresh_db, "there", 40)
    assert scalar(direct_conn, "new", fresh_db, "SELECT g FROM there WHERE id = 10") == 5


def test_text_copy_bytes(env, config, fresh_db, direct_conn):
    """A text COPY's bytes are exactly the COPY data."""
    on_both(direct_conn, fresh_db, "CREATE TYPE color AS ENUM ('red', 'green')",
            "CREATE TABLE painted (id int PRIMARY KEY, c color, v text)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO painted SELECT g, "
             "CASE WHEN g % 2 = 0 THEN 'red' ELSE 'green' END::color, "
             "E'tab\\there ' || g FROM generate_series(1, 8000) g")
    outcome = backfill(env, config, fresh_db, "--chunk-ms", "10")
    expect_done(outcome)
    summary = outcome.table("public.painted")
    assert summary["format"] == "text"
    assert summary["chunks"] >= 2
    assert summary["bytes"] == copy_bytes(direct_conn, fresh_db, "painted", binary=False)
    assert_same_rows(direct_conn, fresh_db, "painted", 8000)


def test_plain_lines_every_10_seconds(env, config, fresh_db, direct_conn):
    """stderr not a terminal: a line at each state change and, while a table copies, one every
    10 s (3,000 rows at 250 rows/s: about 12 s)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE paced (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO paced SELECT generate_series(1, 3000)")
    outcome = backfill(env, config, fresh_db, "--max-rows-per-second", "250")
    expect_done(outcome)
    assert outcome.table("public.paced")["seconds"] >= 10, str(outcome)
    lines = progress_lines(outcome.stderr, "public.paced")
    copying = [line for line in lines if "rows/s" in line]
    assert len(copying) >= 2, lines  # the change to copying, then one 10 s later
    assert re.search(r"  [1-3],000 rows \(total unknown\)  \d[\d,]* rows/s$", copying[-1]), lines
    assert re.search(r"3,000 rows  done in 1\ds$", lines[-1]), lines
    assert len(lines) <= 5, lines


def backfill_on_terminal(env, config: Path, dbname: str, *args: str) -> tuple[Outcome, str]:
    """Runs the job with stderr on a pseudo-terminal: (its outcome, what the terminal got)."""
    import os
    import pty
    import threading

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the last writer closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen(command(env, config, dbname, *args), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=slave, text=True,
                                   preexec_fn=_terminate_with_parent)
        os.close(slave)
        slave = None
        outcome = finish_backfill(process)
        reader.join(10)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return outcome, b"".join(chunks).decode(errors="replace")


def test_progress_redrawn_on_a_terminal(env, config, fresh_db, direct_conn):
    """stderr a terminal: the bars are redrawn in place (cursor up, clear line)."""
    on_both(direct_conn, fresh_db, "CREATE TABLE one (id int PRIMARY KEY)",
            "CREATE TABLE two (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO one SELECT generate_series(1, 2000)",
             "INSERT INTO two SELECT generate_series(1, 2000)")
    outcome, screen = backfill_on_terminal(env, config, fresh_db, "--max-rows-per-second", "2000")
    expect_done(outcome)
    assert screen.count("\x1b[2A") >= 2, repr(screen)  # back over both tables' lines
    assert screen.count("\r\x1b[2K") >= 6, repr(screen)
    last = screen.rsplit("\x1b[2A", 1)[-1]
    assert re.search(r"public\.one \[#{20}\]  100%  2,000 rows  done in \ds", last), repr(last)
    assert re.search(r"public\.two \[#{20}\]  100%  2,000 rows  done in \ds", last), repr(last)


def test_eta_counts_the_throttle(env, config, fresh_db, direct_conn):
    """3,000 rows at 500 rows/s: after the first chunk (1,000 rows) about 4 s are left."""
    on_both(direct_conn, fresh_db, "CREATE TABLE paced (id int PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db, "INSERT INTO paced SELECT generate_series(1, 3000)",
             "ANALYZE paced")
    outcome, screen = backfill_on_terminal(env, config, fresh_db, "--max-rows-per-second", "500")
    expect_done(outcome)
    rates = [int(rate.replace(",", "")) for rate in re.findall(r"([\d,]+) rows/s", screen)]
    etas = [int(eta) for eta in re.findall(r"ETA ~(\d+)s", screen)]
    assert rates and etas, repr(screen)
    assert max(rates) <= 1000, rates
    assert max(etas) >= 2, etas


# --------------------------------------------------------------------------
# A second job, a signal, --resume


def test_second_job_refused_then_pause_and_resume(env, config, fresh_db, direct_conn):
    rows = 5000
    on_both(direct_conn, fresh_db, "CREATE TABLE slow (id int PRIMARY KEY, v text)")
    on_store(direct_conn, "old", fresh_db,
             f"INSERT INTO slow SELECT g, 'v' || g FROM generate_series(1, {rows}) g")
    first = start_backfill(env, config, fresh_db, "--max-rows-per-second", "500")
    try:
        def copying():
            if first.poll() is not None:
                return "exited"
            if not progress_exists(direct_conn, fresh_db):
                return None
            row = progress_row(direct_conn, fresh_db, "public.slow")
            return row is not None and row["state"] == "copying" and "copying"

        assert wait_for(copying, 30, "the first job to start copying") == "copying", \
            str(finish_backfill(first))

        second = backfill(env, config, fresh_db)
        assert second.code == 1, str(second)
        message = ("public.slow is being copied by another pgdual backfill (its advisory lock "
                   "is held on the new store)")
        assert second.report["error"] == message, str(second)
        assert f"pgdual backfill: {message}" in second.stderr
        assert second.report["ok"] is False
        assert first.poll() is None, "the first job finished before it could be stopped"

        first.send_signal(signal.SIGTERM)
        stopped = finish_backfill(first, timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=10)
    assert stopped.code == 1, str(stopped)
    assert stopped.report["stopped"] is True and stopped.report["ok"] is False
    assert stopped.table("public.slow")["state"] == "paused", str(stopped)
    assert "stopped; run it again with --resume to continue" in stopped.stderr
    assert "sequences" not in stopped.report  # not moved before every table is done
    paused = progress_row(direct_conn, fresh_db, "public.slow")
    assert paused["state"] == "paused", paused
    copied = count(direct_conn, "new", fresh_db, "slow")
    assert 0 < copied < rows
    # Every committed chunk is recorded with its rows, and nothing past its last key.
    assert paused["rows_copied"] == copied == stopped.table("public.slow")["rows_copied"]
    assert paused["last_key"] == [str(scalar(direct_conn, "new", fresh_db,
                                             "SELECT max(id) FROM slow"))]

    # Without --resume: the unfinished table fails, nothing more is copied.
    again = backfill(env, config, fresh_db)
    assert again.code == 1, str(again)
    failed = again.table("public.slow")
    assert failed["state"] == "failed", str(again)
    assert re.search(r"an earlier backfill of this table stopped \(paused, \d+ rows\): pass "
                     r"--resume to continue it or --restart to copy it again", failed["error"])
    assert f"(paused, {copied} rows)" in failed["error"]
    assert "failed" in progress_lines(again.stderr, "public.slow")[-1]
    assert count(direct_conn, "new", fresh_db, "slow") == copied
    assert progress_row(direct_conn, fresh_db, "public.slow")["state"] == "paused"

    resumed = backfill(env, config, fresh_db, "--resume")
    expect_done(resumed)
    assert resumed.table("public.slow")["rows_copied"] + copied == rows, str(resumed)
    assert_same_rows(direct_conn, fresh_db, "slow", rows)
    done = progress_row(direct_conn, fresh_db, "public.slow")
    assert done["state"] == "done" and done["rows_copied"] == rows
    assert done["last_key"] == [str(rows)]

    # --resume of a finished table: nothing to do, still done.
    twice = backfill(env, config, fresh_db, "--resume")
    expect_done(twice)
    assert progress_row(direct_conn, fresh_db, "public.slow")["rows_copied"] == rows

    # --restart: copied again from the start; every row is already there.
    restarted = backfill(env, config, fresh_db, "--restart")
    expect_done(restarted)
    summary = restarted.table("public.slow")
    assert (summary["rows_copied"], summary["rows_skipped"]) == (0, rows), summary
    again_done = progress_row(direct_conn, fresh_db, "public.slow")
    assert (again_done["state"], again_done["rows_copied"], again_done["rows_skipped"]) == \
        ("done", 0, rows)
    assert_same_rows(direct_conn, fresh_db, "slow", rows)


# --------------------------------------------------------------------------
# Sequences


def test_sequences_moved_after_the_copy(env, config, fresh_db, direct_conn):
    on_both(direct_conn, fresh_db,
            "CREATE TABLE counted (id serial PRIMARY KEY, v text)",
            "CREATE TABLE ident (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
    on_store(direct_conn, "old", fresh_db,
             "INSERT INTO counted (v) SELECT 'v' || g FROM generate_series(1, 2500) g",
             "INSERT INTO ident SELECT FROM generate_series(1, 300)")

    skipped = backfill(env, config, fresh_db, "--no-sequences")
    expect_done(skipped)
    assert "sequences" not in skipped.report
    assert query(direct_conn, "new", fresh_db,
                 "SELECT last_value, is_called FROM counted_id_seq") == [(1, False)]

    outcome = backfill(env, config, fresh_db, "--resume")
    expect_done(outcome)
    assert outcome.report["sequences"] == {"set": 2, "failed": 0}, str(outcome)
    for sequence in ("counted_id_seq", "ident_id_seq"):
        old = scalar(direct_conn, "old", fresh_db, f"SELECT last_value FROM {sequence}")
        new = scalar(direct_conn, "new", fresh_db, f"SELECT last_value FROM {sequence}")
        assert new >= old + 1000, (sequence, old, new)
    assert_same_rows(direct_conn, fresh_db, "counted", 2500)
    # A new row on the new store takes an id past every copied one.
    with direct_conn("new", fresh_db) as conn:
        assert conn.execute("INSERT INTO counted (v) VALUES ('new') RETURNING id").fetchone()[0] \
            > 2500 + 1000
