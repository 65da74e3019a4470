"""psql prints the same bytes through pgdual as against PostgreSQL directly
(invariant 4): a script of DDL, many types, multi-statement strings, errors
with hints, notices, \\copy in and out, savepoints, session state."""

import difflib
from pathlib import Path

from conftest import DirectTarget

SCRIPT = Path(__file__).resolve().parent.parent / "sql" / "basic.sql"


def run_script(run, target, dbname, workdir: Path):
    workdir.mkdir()
    result = run(["psql", "-X", "-a", "-f", SCRIPT, "-d", target.dsn(dbname)],
                 timeout=120, check=False, cwd=workdir)
    assert result.returncode == 0, result.stderr
    return result


def normalise(text: str, port: int, dbname: str) -> str:
    return text.replace(str(port), "<PORT>").replace(dbname, "<DB>")


def assert_same(label: str, direct: str, proxied: str):
    if direct != proxied:
        diff = "\n".join(difflib.unified_diff(direct.splitlines(), proxied.splitlines(),
                                              "direct", "through pgdual", lineterm="", n=2))
        raise AssertionError(f"psql {label} differs:\n{diff}")


def test_psql_output_is_byte_identical(env, proxy, make_db, run, tmp_path):
    direct_db, proxied_db = make_db(), make_db()
    direct = run_script(run, DirectTarget(env), direct_db, tmp_path / "direct")
    proxied = run_script(run, proxy, proxied_db, tmp_path / "proxied")

    assert_same("stdout", normalise(direct.stdout, env.old_port, direct_db),
                normalise(proxied.stdout, proxy.port, proxied_db))
    assert_same("stderr", normalise(direct.stderr, env.old_port, direct_db),
                normalise(proxied.stderr, proxy.port, proxied_db))
    assert ((tmp_path / "direct" / "copy_out.csv").read_bytes()
            == (tmp_path / "proxied" / "copy_out.csv").read_bytes())

    # The script really ran: row counts, notices and errors are all there.
    out, err = proxied.stdout, proxied.stderr
    for line in ["INSERT 0 1", "INSERT 0 3", "INSERT 0 50", "UPDATE 20", "DELETE 10",
                 "COPY 1000", "(25 rows)", "(0 rows)", " bulk_rows ", "        40",
                 "ROLLBACK", "RELEASE", "DISCARD ALL", "  1000 | 250251.5 | "]:
        assert line in out, f"{line!r} missing from psql output"
    for line in ["relation \"no_such_table\" does not exist",
                 "HINT:  No function matches the given name and argument types.",
                 "DETAIL:  Key (id)=(1) already exists.",
                 "ERROR:  22012: division by zero",
                 "LOCATION:  int4div",
                 "ERROR:  custom failure 42",
                 "HINT:  try again",
                 "NOTICE:  hello from plpgsql",
                 "WARNING:  careful: 45 items",
                 "DETAIL:  the detail",
                 "INFO:  info level",
                 "WARNING:  not suppressed",
                 "current transaction is aborted, commands ignored until end of transaction block",
                 "prepared statement \"by_id\" does not exist",
                 "invalid input syntax for type numeric: \"not_a_number\"",
                 "relation \"scratch\" does not exist"]:
        assert line in err, f"{line!r} missing from psql errors"
    assert "suppressed\n" not in err.replace("not suppressed\n", "")
    assert " 10 | ten\n 12 | TWELVE\n(2 rows)" in out  # savepoint rolled back 11 only
    assert "COMMIT;\nROLLBACK\n" in out  # a failed transaction's COMMIT rolls back
    assert "42601\n" in out  # \echo :LAST_ERROR_SQLSTATE after the syntax error
