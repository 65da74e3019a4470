"""pgbench through pgdual: initialisation (COPY FROM STDIN, VACUUM) and the
TPC-B-like and select-only scripts in each query mode."""

import re

import pytest


def pgbench(run, target, dbname, env, *args, timeout=90):
    result = run(["pgbench", "-h", target.host, "-p", target.port, "-U", env.user,
                  *args, dbname], timeout=timeout, check=False,
                 env={"PGPASSWORD": env.password})
    assert result.returncode == 0, f"pgbench failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def summary(output: str) -> tuple[int, int]:
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert processed and failed, output
    return int(processed.group(1)), int(failed.group(1))


@pytest.fixture
def bench_db(env, proxy, fresh_db, run, direct_conn):
    pgbench(run, proxy, fresh_db, env, "-i", "-s", "1", "-q", timeout=180)
    with direct_conn("old", fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM pgbench_accounts").fetchone()[0] == 100000
        assert conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()[0] == 1
    return fresh_db


@pytest.mark.parametrize("extra", [
    ["-M", "simple"],
    ["-M", "extended"],
    ["-M", "prepared"],
    ["-S", "-M", "prepared"],
], ids=["simple", "extended", "prepared", "select-only-prepared"])
def test_pgbench_modes(env, proxy, bench_db, run, direct_conn, extra):
    with direct_conn("old", bench_db) as conn:
        history_before = conn.execute("SELECT count(*) FROM pgbench_history").fetchone()[0]
    output = pgbench(run, proxy, bench_db, env, "-T", "5", "-c", "4", "-j", "2", *extra)
    processed, failed = summary(output)
    assert processed > 0, output
    assert failed == 0, output
    with direct_conn("old", bench_db) as conn:
        history_after = conn.execute("SELECT count(*) FROM pgbench_history").fetchone()[0]
    if "-S" in extra:
        assert history_after == history_before
    else:
        # Every TPC-B-like transaction inserts one history row: none lost, none
        # doubled. A client cut off by -T after sending END may commit one
        # transaction that pgbench does not count, hence the slack of -c.
        assert processed <= history_after - history_before <= processed + 4, output
