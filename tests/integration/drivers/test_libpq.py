"""A libpq program through pgdual: pipeline mode with named and unnamed
statements, an error in the middle of a pipeline and recovery, and PQcancel
of a running pg_sleep(30)."""

import re
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "clients" / "libpq_pipeline.c"


@pytest.fixture(scope="module")
def libpq_program(tmp_path_factory):
    out = tmp_path_factory.mktemp("libpq") / "libpq_pipeline"
    includedir = subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
    subprocess.run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O1", "-Wall", "-Werror",
                    "-o", str(out), str(SOURCE), f"-I{includedir}", "-lpq"],
                   check=True, timeout=120)
    return out


def test_libpq_pipeline_and_cancel(proxy, fresh_db, run, libpq_program, direct_conn):
    result = run([libpq_program, proxy.dsn(fresh_db)], timeout=90, check=False)
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    assert "OK pipeline named+unnamed rows=5" in out
    assert "OK pipeline_many n=500 sum=249500" in out
    assert "OK pipeline_error sqlstate=22012 aborted=2 recovered rows_ge_100=1" in out
    assert "OK after_pipeline rows=7" in out
    cancel = re.search(r"OK cancel sqlstate=(\w+) elapsed_ms=(\d+)", out)
    assert cancel, out
    assert cancel.group(1) == "57014"
    assert int(cancel.group(2)) < 10000, "cancel took too long"
    assert "OK after_cancel" in out and "OK done" in out

    with direct_conn("old", fresh_db) as conn:
        rows = conn.execute("SELECT id, v FROM pl ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 103, 104]
